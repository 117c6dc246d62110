"""Tables and counts about phonemisation, for the notebooks and their tests.

Each function returns plain data (lists of dicts, Counters); the widgets and plots only
display it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Iterable

from .normalize import PUNCTUATION
from .phonemes import RULE_EXAMPLES, RULE_ORDER, SPECIAL_TOKENS, RussianPhonemeProcessor


def word_table(processor: RussianPhonemeProcessor, text: str) -> list[dict]:
    """One row per word: word, IPA, phonemes, stressed syllable, stressed vowel, source."""
    rows = []
    for word, phonemes, stress in processor.process_text(text):
        rows.append({
            "word": word,
            "ipa": processor.to_ipa(phonemes),
            "phonemes": phonemes,
            "stress": stress.position,
            "vowel_index": stress.vowel_index,
            "stressed_vowel": phonemes[stress.vowel_index] if stress.vowel_index >= 0 else "",
            "source": stress.source,
        })
    return rows


def compare_processors(text: str, processors: dict[str, RussianPhonemeProcessor]) -> list[dict]:
    """One row per word with its IPA under each named processor (e.g. two presets).

    Row keys: ``word``, then one key per processor name, and ``differs``.
    """
    tables = {name: word_table(p, text) for name, p in processors.items()}
    first = next(iter(tables.values()), [])
    rows = []
    for i, row in enumerate(first):
        out = {"word": row["word"]}
        for name, table in tables.items():
            out[name] = table[i]["ipa"] if i < len(table) else ""
        out["differs"] = len({out[name] for name in tables}) > 1
        rows.append(out)
    return rows


def rule_effects(processor: RussianPhonemeProcessor, examples: dict | None = None) -> list[dict]:
    """For each rule and its example words: the IPA with the rule on and with it off."""
    examples = RULE_EXAMPLES if examples is None else examples
    base = processor.rules
    rows = []
    for rule in RULE_ORDER:
        without = RussianPhonemeProcessor(rules=replace(base, **{rule: False}),
                                          use_lexicon=processor.use_lexicon)
        without.user_stress = dict(processor.user_stress)
        for word in examples.get(rule, ()):
            on = processor.to_ipa(processor.process_word(word)[0])
            off = without.to_ipa(without.process_word(word)[0])
            rows.append({"rule": rule, "word": word.replace("+", ""), "with": on, "without": off,
                         "changed": on != off})
    return rows


def phoneme_frequencies(processor: RussianPhonemeProcessor, sentences: Iterable[str]) -> Counter:
    """How often each phoneme occurs (word boundaries, punctuation and specials left out)."""
    skip = set(SPECIAL_TOKENS) | set(PUNCTUATION)
    counts: Counter = Counter()
    for sentence in sentences:
        counts.update(p for p in processor.text_to_phonemes(sentence) if p not in skip)
    return counts


def stress_source_counts(processor: RussianPhonemeProcessor, sentences: Iterable[str]) -> Counter:
    """How many words each stress tier decided."""
    counts: Counter = Counter()
    for sentence in sentences:
        counts.update(stress.source for _, _, stress in processor.process_text(sentence))
    return counts
