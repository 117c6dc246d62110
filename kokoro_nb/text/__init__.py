"""Russian text front end: normalisation, stress and grapheme-to-phoneme rules.

Pure Python (no torch, no numpy), so it imports fast and tests fast.

>>> from kokoro_nb.text import RussianPhonemeProcessor
>>> processor = RussianPhonemeProcessor()
>>> processor.to_ipa(processor.process_word("привет")[0])
'prʲivʲet'
"""

from .normalize import normalize_text, tokenize
from .numbers import cardinal_to_words, expand_numbers, ordinal_to_words
from .phonemes import (
    EOS,
    G2P_VERSION,
    PAD,
    PHONEME_INVENTORY,
    PRESETS,
    RULE_ORDER,
    UNK,
    WORD_BOUNDARY,
    PhonemeRules,
    RussianPhonemeProcessor,
    resolve_rules,
)
from .stress import STRESS_SOURCES, StressInfo, read_stress_dict

__all__ = [
    "EOS",
    "G2P_VERSION",
    "PAD",
    "PHONEME_INVENTORY",
    "PRESETS",
    "RULE_ORDER",
    "STRESS_SOURCES",
    "UNK",
    "WORD_BOUNDARY",
    "PhonemeRules",
    "RussianPhonemeProcessor",
    "StressInfo",
    "cardinal_to_words",
    "expand_numbers",
    "normalize_text",
    "ordinal_to_words",
    "read_stress_dict",
    "resolve_rules",
    "tokenize",
]
