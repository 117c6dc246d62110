"""ipywidgets UIs for the notebooks.

Each UI is a widget class whose parts are attributes (``explorer.text``, ``explorer.table``),
so a notebook shows it with one line and a test drives it by setting values. Results are
written to `widgets.HTML` values, which a test can read without a browser. The numbers and
tables come from `kokoro_nb.text.analysis`; nothing here computes phonetics itself.
"""

from __future__ import annotations

import html
from dataclasses import replace

import ipywidgets as widgets

from .plots import SOURCE_COLOURS
from .text import PRESETS, RULE_ORDER, RussianPhonemeProcessor
from .text.analysis import compare_processors, word_table



def stressed_ipa_html(phonemes: list[str], vowel_index: int) -> str:
    """IPA with the stressed vowel in bold and underlined."""
    parts = []
    for i, p in enumerate(phonemes):
        text = html.escape(p)
        parts.append(f"<b><u>{text}</u></b>" if i == vowel_index else text)
    return "".join(parts)


def word_table_html(rows: list[dict]) -> str:
    """HTML table of `analysis.word_table` rows, the stress source in its colour."""
    if not rows:
        return "<i>no Russian words in the text</i>"
    head = "<tr><th>word</th><th>IPA</th><th>stressed syllable</th><th>stress from</th></tr>"
    body = []
    for row in rows:
        colour = SOURCE_COLOURS.get(row["source"], "#000")
        body.append(
            "<tr>"
            f"<td>{html.escape(row['word'])}</td>"
            f"<td class='ipa'>/{stressed_ipa_html(row['phonemes'], row['vowel_index'])}/</td>"
            f"<td>{row['stress']}</td>"
            f"<td><span class='source' style='color:{colour};font-weight:bold'>"
            f"{html.escape(row['source'])}</span></td>"
            "</tr>"
        )
    return f"<table class='kokoro-words'>{head}{''.join(body)}</table>"


def comparison_html(rows: list[dict], names: list[str]) -> str:
    """HTML table of `analysis.compare_processors` rows; differing words highlighted."""
    head = "<tr><th>word</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"
    body = []
    for row in rows:
        style = " style='background:#fff3cd'" if row["differs"] else ""
        cells = "".join(f"<td>/{html.escape(row[n])}/</td>" for n in names)
        body.append(f"<tr{style}><td>{html.escape(row['word'])}</td>{cells}</tr>")
    return f"<table class='kokoro-compare'>{head}{''.join(body)}</table>"


class PhonemeExplorer(widgets.VBox):
    """Type Russian text and see IPA and stress word by word; switch rules off; add stress
    dictionary entries and watch them win over the lexicon and the heuristics."""

    def __init__(self, processor: RussianPhonemeProcessor | None = None,
                 text: str = "Здравствуйте! Сегодня мы говорим по-русски.") -> None:
        self.processor = processor or RussianPhonemeProcessor()
        preset = self.processor.rules.name if self.processor.rules.name in PRESETS else "default"
        self.text = widgets.Textarea(value=text, description="Text",
                                     layout=widgets.Layout(width="95%", height="4em"))
        self.preset = widgets.Dropdown(options=list(PRESETS), value=preset, description="Preset")
        self.switches = {
            rule: widgets.Checkbox(value=getattr(self.processor.rules, rule), description=rule,
                                   indent=False, layout=widgets.Layout(width="auto"))
            for rule in RULE_ORDER
        }
        self.ipa = widgets.HTML()
        self.table = widgets.HTML()
        self.changes = widgets.HTML()
        self.dict_word = widgets.Text(description="Word", placeholder="замок")
        self.dict_syllable = widgets.BoundedIntText(value=0, min=0, max=20, description="Syllable")
        self.dict_add = widgets.Button(description="Add to stress dictionary")
        self.dict_status = widgets.HTML()

        self.text.observe(self._on_change, names="value")
        self.preset.observe(self._on_preset, names="value")
        for box in self.switches.values():
            box.observe(self._on_change, names="value")
        self.dict_add.on_click(lambda _: self.add_stress_entry())

        rules_box = widgets.HBox(list(self.switches.values()),
                                 layout=widgets.Layout(flex_flow="row wrap"))
        editor = widgets.HBox([self.dict_word, self.dict_syllable, self.dict_add])
        super().__init__([
            self.text, self.preset, widgets.HTML("<b>Rules</b> (untick to switch off)"),
            rules_box, self.ipa, self.table, self.changes,
            widgets.HTML("<b>Stress dictionary</b> (0-based syllable)"), editor, self.dict_status,
        ])
        self.refresh()

    def current_rules(self):
        switches = {rule: box.value for rule, box in self.switches.items()}
        return replace(PRESETS[self.preset.value], **switches)

    def _on_preset(self, change) -> None:
        preset = PRESETS[change["new"]]
        for rule, box in self.switches.items():
            box.unobserve(self._on_change, names="value")
            box.value = getattr(preset, rule)
            box.observe(self._on_change, names="value")
        self.refresh()

    def _on_change(self, _change=None) -> None:
        self.refresh()

    def refresh(self) -> None:
        rules = self.current_rules()
        self.processor.set_rules(rules)
        text = self.text.value
        self.ipa.value = (f"<div class='ipa-line'><b>IPA:</b> "
                          f"/{html.escape(self.processor.text_to_ipa(text))}/</div>")
        self.table.value = word_table_html(word_table(self.processor, text))
        full = PRESETS[self.preset.value]
        if rules != full:
            reference = RussianPhonemeProcessor(rules=full, use_lexicon=self.processor.use_lexicon)
            reference.user_stress = dict(self.processor.user_stress)
            rows = compare_processors(text, {"all rules": reference, "your rules": self.processor})
            self.changes.value = ("<b>What the switched-off rules change</b>"
                                  + comparison_html(rows, ["all rules", "your rules"]))
        else:
            self.changes.value = ""

    def add_stress_entry(self) -> None:
        word = self.dict_word.value.strip()
        try:
            self.processor.add_stress(word, self.dict_syllable.value)
        except ValueError as exc:
            self.dict_status.value = f"<span style='color:#d62728'>{html.escape(str(exc))}</span>"
            return
        phonemes, stress = self.processor.process_word(word)
        self.dict_status.value = (
            f"added: {html.escape(word)} -> /{stressed_ipa_html(phonemes, stress.vowel_index)}/ "
            f"(syllable {stress.position}, {stress.source})"
        )
        self.refresh()


class PresetComparison(widgets.VBox):
    """The same text under every rule preset, side by side."""

    def __init__(self, text: str = "Молоко на столе, а телевизор в комнате.") -> None:
        self.processors = {name: RussianPhonemeProcessor(rules=name) for name in PRESETS}
        self.text = widgets.Textarea(value=text, description="Text",
                                     layout=widgets.Layout(width="95%", height="3em"))
        self.table = widgets.HTML()
        self.text.observe(lambda _: self.refresh(), names="value")
        super().__init__([self.text, self.table])
        self.refresh()

    def refresh(self) -> None:
        rows = compare_processors(self.text.value, self.processors)
        self.table.value = comparison_html(rows, list(self.processors))
