"""ipywidgets UIs for the notebooks.

Each UI is a widget class whose parts are attributes (``explorer.text``, ``explorer.table``),
so a notebook shows it with one line and a test drives it by setting values. Results are
written to `widgets.HTML` values, which a test can read without a browser. The numbers and
tables come from `kokoro_nb.text.analysis` and `kokoro_nb.audio`; nothing here computes
phonetics or features itself. Figures are shown as PNG bytes in `widgets.Image` and sounds as
WAV bytes in `widgets.Audio`, so a test can see them change too.
"""

from __future__ import annotations

import html
import io
import warnings
from dataclasses import replace

import ipywidgets as widgets
import matplotlib.pyplot as plt
import soundfile as sf

from .audio import load_audio, mel_spectrogram, mel_to_audio, spectral_distance
from .config import AudioConfig
from .plots import SOURCE_COLOURS, plot_waveform_and_mel
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


def _classes(parts: dict) -> None:
    """CSS classes on a UI's parts: stable names for custom styles and browser tests."""
    for widget, name in parts.items():
        widget.add_class(name)


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

        for rule, box in self.switches.items():
            box.add_class(f"kokoro-rule-{rule}")
        _classes({self.text: "kokoro-text", self.preset: "kokoro-preset", self.ipa: "kokoro-ipa",
                  self.table: "kokoro-table", self.changes: "kokoro-changes",
                  self.dict_word: "kokoro-dict-word", self.dict_syllable: "kokoro-dict-syllable",
                  self.dict_add: "kokoro-dict-add", self.dict_status: "kokoro-dict-status"})
        rules_box = widgets.HBox(list(self.switches.values()),
                                 layout=widgets.Layout(flex_flow="row wrap"))
        editor = widgets.HBox([self.dict_word, self.dict_syllable, self.dict_add])
        super().__init__([
            self.text, self.preset, widgets.HTML("<b>Rules</b> (untick to switch off)"),
            rules_box, self.ipa, self.table, self.changes,
            widgets.HTML("<b>Stress dictionary</b> (0-based syllable)"), editor, self.dict_status,
        ])
        self.add_class("kokoro-phoneme-explorer")
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


def figure_png(fig, dpi: int = 72) -> bytes:
    """PNG bytes of a matplotlib figure, which is then closed (a widget shows the bytes; an
    open figure would also be drawn below the cell by the notebook's inline backend)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def wav_bytes(wave, sample_rate: int) -> bytes:
    """A (samples,) wave as 16-bit PCM WAV bytes, for `widgets.Audio`."""
    buffer = io.BytesIO()
    samples = wave.detach().cpu().numpy() if hasattr(wave, "detach") else wave
    sf.write(buffer, samples.clip(-1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _message_png(text: str) -> bytes:
    fig = plt.figure(figsize=(6, 1))
    fig.text(0.5, 0.5, text, ha="center", va="center", color="#d62728", wrap=True)
    return figure_png(fig)


class MelExplorer(widgets.VBox):
    """Change the STFT and mel settings and see, hear and measure what the mel keeps.

    For the chosen clip it shows the waveform and log-mel (`plots.plot_waveform_and_mel`),
    plays the Griffin-Lim reconstruction of that mel (`audio.mel_to_audio`) and prints the
    mel's shape with the round-trip distance (`audio.spectral_distance` between the mel and
    the mel of the reconstruction). `win_length` follows `n_fft`, so every choice is a valid
    `AudioConfig`; whatever still goes wrong is shown as a message, never raised.

    ``items`` are corpus items (anything with ``.id`` and ``.audio_path``); only the first
    ``max_seconds`` of each clip are used and Griffin-Lim runs ``n_iter`` iterations, which
    keeps one refresh well under a second.
    """

    def __init__(self, items, config: AudioConfig | None = None, max_seconds: float = 3.0,
                 n_iter: int = 16) -> None:
        self.config = config or AudioConfig()
        self.n_iter = n_iter
        self.paths = {item.id: item.audio_path for item in items}
        if not self.paths:
            raise ValueError("MelExplorer needs at least one corpus item")
        self.max_samples = int(max_seconds * self.config.sample_rate)
        self._waves: dict = {}
        self.n_fft = widgets.Dropdown(options=[512, 1024, 2048], value=1024, description="n_fft")
        self.hop = widgets.Dropdown(options=[128, 256, 512], value=256, description="hop_length")
        self.n_mels = widgets.Dropdown(options=[40, 64, 80, 128], value=80, description="n_mels")
        nyquist = self.config.sample_rate // 2
        self.f_max = widgets.IntSlider(value=int(self.config.f_max), min=4000, max=nyquist, step=25,
                                       description="f_max (Hz)", continuous_update=False)
        self.clip = widgets.Dropdown(options=list(self.paths), description="clip")
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.audio = widgets.Audio(format="wav", autoplay=False, loop=False)
        for control in (self.n_fft, self.hop, self.n_mels, self.f_max, self.clip):
            control.observe(lambda _: self.refresh(), names="value")
        super().__init__([
            widgets.HBox([self.clip, self.n_fft, self.hop]),
            widgets.HBox([self.n_mels, self.f_max]),
            self.info, self.image,
            widgets.HTML("<b>Griffin-Lim reconstruction</b> of this mel"), self.audio,
        ])
        self.add_class("kokoro-mel-explorer")
        _classes({self.n_fft: "kokoro-n-fft", self.hop: "kokoro-hop", self.n_mels: "kokoro-n-mels",
                  self.f_max: "kokoro-f-max", self.clip: "kokoro-clip", self.info: "kokoro-info",
                  self.image: "kokoro-mel-image", self.audio: "kokoro-mel-audio"})
        self.refresh()

    def current_config(self) -> AudioConfig:
        """The widget's settings as an `AudioConfig` (may raise ValueError)."""
        return replace(self.config, n_fft=self.n_fft.value, win_length=self.n_fft.value,
                       hop_length=self.hop.value, n_mels=self.n_mels.value,
                       f_max=float(self.f_max.value), griffin_lim_iters=self.n_iter)

    def wave(self, clip_id: str):
        """The first `max_seconds` of a clip as the model hears it (loaded once)."""
        if clip_id not in self._waves:
            wave, _ = load_audio(self.paths[clip_id], self.config)
            self._waves[clip_id] = wave[: self.max_samples]
        return self._waves[clip_id]

    def _error(self, text: str) -> None:
        self.info.value = f"<span style='color:#d62728'>{html.escape(text)}</span>"
        self.image.value = _message_png(text)
        self.audio.value = b""

    def refresh(self) -> None:
        try:
            config = self.current_config()
            wave = self.wave(self.clip.value)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mel = mel_spectrogram(wave, config)
                reconstruction = mel_to_audio(mel, config)
            distance = spectral_distance(mel, mel_spectrogram(reconstruction, config))
            title = (f"{self.clip.value}: n_fft {config.n_fft}, hop {config.hop_length}, "
                     f"{config.n_mels} mels up to {config.f_max:g} Hz")
            image = figure_png(plot_waveform_and_mel(wave, mel, config, title=title))
        except Exception as exc:  # a widget shows what went wrong; it must not raise
            self._error(f"{type(exc).__name__}: {exc}")
            return
        notes = "".join(
            f"<br><span style='color:#d62728'>warning: {html.escape(w)}</span>"
            for w in dict.fromkeys(str(w.message) for w in caught))
        self.info.value = (
            f"mel shape ({config.n_mels}, {mel.shape[1]}), up to {config.f_max:g} Hz · one frame = "
            f"{1000 * config.frame_seconds:.1f} ms · frequency bin = "
            f"{config.sample_rate / config.n_fft:.1f} Hz · round-trip distance "
            f"{distance:.3f} (log units; 1.0 ≈ 8.7 dB){notes}")
        self.image.value = image
        self.audio.value = wav_bytes(reconstruction, config.sample_rate)
