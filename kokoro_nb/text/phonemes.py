"""Rule-based Russian grapheme-to-phoneme conversion: `RussianPhonemeProcessor`.

A word goes through these steps, in this order (each rule can be switched off in
`PhonemeRules`, which the phoneme notebook uses to show what every rule does):

==  =======================  ==============================================================
 1  exceptions               whole-word respellings: что -> што, конечно -> конешно,
                             сегодня -> севодня, loanwords with hard consonants (кафе)
 2  stress                   marks > трёх-/четырёх- compounds > your dictionary > ё (unless
                             the lexicon says otherwise) > lexicon > one vowel > heuristics
                             (`stress.py`); in running text a homograph may be read from its
                             sentence instead (`context.py`, switch ``context_stress``)
 3  cluster_simplification   silent or merged letters: вств стн здн стл лнц рдц, сч/зч -> щ,
                             -тся/-ться -> ца, тск/дск -> цк, гк -> хк;
                             numeral_clusters: пятьсот -> пяцот, шестьдесят -> шесьдесят
 4  genitive_ogo             г reads в in -ого/-его endings (красного, его, ничего)
 5  palatalization           a paired consonant before е ё и ю я ь is soft (Cʲ);
                             ж ш ц are always hard, ч щ й always soft
 6  iotation                 е ё ю я read j + vowel at the start of a word, after a vowel and
                             after ь/ъ; и after ь reads ji;
                             double_consonants (before 5): a doubled consonant between vowels
                             reads as one unless right after the stress (Россия, but касса)
 7  vowel_reduction          unstressed vowels weaken by distance from the stress;
                             final_e: a final е far after the stress stays ɪ (знание);
                             unstressed_e: an unstressed э reduces to ɪ (этаж)
 8  final_devoicing          a voiced obstruent at the end of a word becomes voiceless
 9  voicing_assimilation     an obstruent takes the voicing of the obstruent after it;
                             в devoices but does not voice what precedes it
10  soft_assimilation        с з before a soft т д н, and н before a soft т д or ч щ, are
                             soft too (кость, песня, бантик, кончик)
11  sibilant_merge           с з before ш ж are heard as a long ш ж (сшить, позже)
==  =======================  ==============================================================

After the words, the phrase pass (`phrase.py`, switch ``clitics``) reads clitics with their
host word. Rules added after processors were first saved (`RULES_ADDED_LATER`) are off in
a processor restored from an older state, so a trained model keeps its input.

Three presets. ``seed`` reproduces the seed's documented examples exactly:

    говорить -> gəvərʲitʲ   привет -> prʲivʲet   как -> kak      дела -> dʲɪla
    что -> ʃto              конечно -> kənʲeʃnə  его -> jɪvo     сегодня -> sʲɪvodʲnʲə

Its reduction is the seed's: first pretonic and first post-tonic а/о -> ə, е/я -> ɪ; further
from the stress all four -> ə. ``default`` is ``seed`` with the textbook norm's first
pretonic а/о -> ɐ after a hard consonant (говорить -> gəvɐrʲitʲ, молоко -> məlɐko) and ikanye
(телевизор -> tʲɪlʲɪvʲizər): against espeak-ng's transcriptions of 3,000 frequent words the
quality of the unstressed vowels agrees on 70.4 % (academic's rules) against 46.5 % (the
seed's); `scripts/eval_reduction.py`. The seed's text says post-tonic я -> ɪ while its own example
сегодня ends in ə; we keep the example (and phonetics): a word-final unstressed я (or а after
a soft consonant) is ə in both presets. The seed prints the phoneme list of говорить with a
plain ``r`` but its IPA with ``rʲ``; here ``to_ipa(phonemes)`` always equals the IPA string,
so the list holds ``rʲ``.

``academic`` is closer to a textbook narrow transcription: first pretonic (and word-initial)
а/о -> ɐ, ikanye (е/я -> ɪ in every non-final unstressed syllable after a soft consonant),
unstressed е after ж ш ц -> ɨ, unstressed у/и -> ʊ/ɪ, and ʐ ʂ tɕ ɕː for ж ш ч щ.

Pure Python: no torch or numpy here.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from os import PathLike
from typing import Any

from .lexicon import VOWELS, count_vowels, load_stress_lexicon, predict_stress_by_suffix
from .normalize import (
    PUNCTUATION,
    STRESS_MARKS,
    _fix_latin,
    _LETTER_RUN,
    is_word,
    normalize_text,
    tokenize,
)
from .stress import (
    StressInfo,
    check_syllable,
    combine_hyphenated,
    numeral_compound,
    preferred_reading,
    read_stress_dict,
    seed_heuristic_stress,
    split_stress_marks,
    yo_stress,
)

# Bump whenever the phonemes, stress flags or ids produced for any text change (a rule, a
# table, the lexicon, the heuristics or the inventory): caches of text features key on it.
# 2: the heuristic tier stresses -ная/-ное/-ные adjectives on the root, the third syllable
#    from the end (`stress.seed_heuristic_stress`).
# 3: clitics are read unstressed, within one phonological word with their host (`phrase.py`).
# 4: трёх-/четырёх- compounds, final е, unstressed э, assimilative softness, сш/зж.
# 5: times, dates, Roman numerals, units, abbreviations, acronyms, Latin words, agreement.
# 6: homographs read from context (`context.py`); numbers take their case (`morph.py`).
# 7: numeral clusters (пятьсот), doubled consonants before the stress (Россия).
# 8: the default preset takes the first pretonic ɐ and ikanye (the old default is "seed").
# 9: dates, times, numbers, Roman numerals in the case their context gives; 70-летие, 1/8.
G2P_VERSION = 9

# --------------------------------------------------------------------------- rule switches


@dataclass(frozen=True)
class PhonemeRules:
    """Which rules run and which symbols they write. JSON-serialisable (`asdict`)."""

    name: str = "default"
    exceptions: bool = True
    cluster_simplification: bool = True
    genitive_ogo: bool = True
    palatalization: bool = True
    iotation: bool = True
    vowel_reduction: bool = True
    final_devoicing: bool = True
    voicing_assimilation: bool = True
    # Clitics (prepositions, не, и, же, ...) read unstressed with the word they lean on
    # (`phrase.py`); off in processors saved before it existed, so their models read on as
    # they were trained.
    clitics: bool = True
    # Homographs read from their sentence (`context.py`): нет руки́, мыть ру́ки, всё/все.
    context_stress: bool = True
    # Later rules (also off in processors saved before them, see `RULES_ADDED_LATER`).
    final_e: bool = True            # знание ≠ знания: a far post-tonic final е stays ɪ
    unstressed_e: bool = True       # этаж, экзамен: an unstressed э reduces to ɪ
    soft_assimilation: bool = True  # кость, песня, бантик, кончик: soft before soft
    sibilant_merge: bool = True     # сшить, сжечь, позже, с шумом: с/з + ш/ж -> a long ш/ж
    numeral_clusters: bool = True   # пятьсот [pʲɪtsot], шестьдесят [ʃɨzʲdʲɪsʲat]
    double_consonants: bool = True  # Россия, коллега: a doubled consonant before the stress
    # Transcription style (the presets differ here).
    pretonic_ao: str = "ɐ"          # first pretonic / word-initial а, о after a hard consonant
    ikanye: bool = True             # е/я -> ɪ in all non-final unstressed positions
    hard_e: str = "ɪ"               # unstressed е after ж ш ц
    reduce_high_vowels: bool = False  # unstressed у -> ʊ, и -> ɪ
    narrow_consonants: bool = False   # ж ш ч щ -> ʐ ʂ tɕ ɕː instead of ʒ ʃ tʃ ʃtʃ


RULE_ORDER = (
    "exceptions",
    "cluster_simplification",
    "genitive_ogo",
    "palatalization",
    "iotation",
    "vowel_reduction",
    "final_e",
    "unstressed_e",
    "final_devoicing",
    "voicing_assimilation",
    "soft_assimilation",
    "sibilant_merge",
    "numeral_clusters",
    "double_consonants",
)

# Rules added after processors were first saved: a saved state without one reads with it
# off, so a model goes on reading what it was trained on.
RULES_ADDED_LATER = ("clitics", "final_e", "unstressed_e", "soft_assimilation", "sibilant_merge",
                     "context_stress", "numeral_clusters", "double_consonants")

PRESETS: dict[str, PhonemeRules] = {
    "default": PhonemeRules(),
    # The seed project's transcriptions (its eight documented examples): ə in every first
    # pretonic syllable, no ikanye.
    "seed": PhonemeRules(name="seed", pretonic_ao="ə", ikanye=False),
    "academic": PhonemeRules(
        name="academic",
        pretonic_ao="ɐ",
        ikanye=True,
        hard_e="ɨ",
        reduce_high_vowels=True,
        narrow_consonants=True,
    ),
}


def resolve_rules(rules: str | PhonemeRules | dict | None) -> PhonemeRules:
    """A preset name, a `PhonemeRules`, or its dict form -> `PhonemeRules`."""
    if rules is None:
        return PRESETS["default"]
    if isinstance(rules, PhonemeRules):
        return rules
    if isinstance(rules, str):
        if rules not in PRESETS:
            raise ValueError(f"unknown rule preset {rules!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[rules]
    if isinstance(rules, dict):
        known = {f.name for f in fields(PhonemeRules)}
        unknown = set(rules) - known
        if unknown:
            raise ValueError(f"unknown rule settings {sorted(unknown)}; known: {sorted(known)}")
        return PhonemeRules(**rules)
    raise TypeError(f"rules must be a preset name, PhonemeRules or dict, not {type(rules).__name__}")


# --------------------------------------------------------------------------- letter tables

CONSONANTS = {
    "б": "b", "в": "v", "г": "g", "д": "d", "ж": "ʒ", "з": "z", "к": "k", "л": "l",
    "м": "m", "н": "n", "п": "p", "р": "r", "с": "s", "т": "t", "ф": "f", "х": "x",
    "ц": "ts", "ч": "tʃ", "ш": "ʃ", "щ": "ʃtʃ", "й": "j",
}
NARROW_CONSONANTS = {"ж": "ʐ", "ш": "ʂ", "ч": "tɕ", "щ": "ɕː"}
PAIRED_CONSONANTS = frozenset("бвгдзклмнпрстфх")  # have a soft (palatalized) partner
ALWAYS_HARD = frozenset("жшц")
ALWAYS_SOFT = frozenset("чщй")
SOFTENING_LETTERS = frozenset("еёиюяь")
IOTATED_VOWELS = frozenset("еёюя")
VOWEL_PHONEMES = {
    "а": "a", "о": "o", "у": "u", "ы": "ɨ", "э": "e",
    "и": "i", "е": "e", "ё": "o", "ю": "u", "я": "a",
}

# Whole words read against the rules, written as respellings with the stress marked (so the
# other rules and both presets still apply to them).
EXCEPTIONS = {
    "что": "шт+о",
    "чтобы": "шт+обы",
    "что-то": "шт+о-то",
    "что-нибудь": "шт+о-нибудь",
    "что-либо": "шт+о-либо",
    "ничто": "ништ+о",
    "конечно": "кон+ешно",
    "скучно": "ск+ушно",
    "нарочно": "нар+ошно",
    "яичница": "я+ишница",
    "булочная": "б+улошная",
    "прачечная": "пр+ачешная",
    "его": "ев+о",
    "сегодня": "сев+одьня",
    "сегодняшний": "сев+одьняшний",
    "бог": "б+ох",
    "кафе": "каф+э",
    "отель": "от+эль",
    "тест": "т+эст",
    "интернет": "интэрн+эт",
    "компьютер": "компь+ютэр",
    "модель": "мод+эль",
    "шоссе": "шосс+э",
    "темп": "т+эмп",
}

# Words whose reading each rule changes (stress marked so the examples do not depend on the
# lexicon). The notebook shows them; tests check each rule really changes each one.
RULE_EXAMPLES = {
    "exceptions": ("что", "конечно", "сегодня", "кафе"),
    "cluster_simplification": ("со+лнце", "чу+вство", "по+здно", "сча+стье", "+учится"),
    "genitive_ogo": ("кр+асного", "ничег+о", "моег+о"),
    "palatalization": ("нёс", "м+ать", "д+ядя", "л+ес"),
    "iotation": ("+яма", "семь+я", "объ+ём", "мо+ё"),
    "vowel_reduction": ("молок+о", "яз+ык", "г+ород", "в+оля"),
    "final_devoicing": ("г+ород", "гл+аз", "хл+еб", "д+уб"),
    "voicing_assimilation": ("сд+елать", "л+ожка", "вт+орник", "пр+осьба"),
    "final_e": ("зн+ание", "здр+авствуйте", "д+елайте"),
    "unstressed_e": ("эт+аж", "экз+амен", "эт+ап"),
    "soft_assimilation": ("к+ость", "+есть", "п+есня", "б+антик", "к+ончик", "ж+енщина"),
    "sibilant_merge": ("сш+ить", "сж+ечь", "п+озже", "расш+ить"),
    "numeral_clusters": ("пятьс+от", "девятьс+от", "шестьс+от", "шестьдес+ят"),
    "double_consonants": ("Росс+ия", "колл+ега", "аппар+ат", "субб+ота", "эфф+ект"),
}
# Numerals whose clusters are not read as spelled: тьс -> ц, стьс -> сс, стьд -> сьд.
NUMERAL_CLUSTERS = (("пятьсот", "пяцот"), ("девятьсот", "девяцот"), ("шестьсот", "шессот"),
                    ("шестьдесят", "шесьдесят"))
# Prefixes whose last consonant doubles the root's first (поддержка, рассада, ссора): such a
# pair stays long.
DOUBLING_PREFIXES = ("под", "над", "от", "рас", "раз", "бес", "без", "из", "об", "в", "с",
                     "во", "со", "ис", "вс", "пред")
CONSONANT_LETTERS = frozenset("бвгджзйклмнпрстфхцчшщ")

# (letters, replacement, only at the end of the word), applied in this order.
CLUSTER_RULES = (
    ("вств", "ств", False),   # чувство, здравствуйте
    ("ндск", "нск", False),   # голландский
    ("нтск", "нск", False),   # гигантский
    ("стн", "сн", False),     # честный, местный
    ("здн", "зн", False),     # поздно, праздник
    ("стл", "сл", False),     # счастливый
    ("лнц", "нц", False),     # солнце
    ("рдц", "рц", False),     # сердце
    ("сч", "щ", False),       # счастье, расчёт
    ("зч", "щ", False),       # извозчик
    ("жч", "щ", False),       # мужчина
    ("дц", "ц", False),       # двадцать, молодцы
    ("тц", "ц", False),       # отцы
    ("тч", "ч", False),       # лётчик, отчёт
    ("дч", "ч", False),       # молодчина
    ("тск", "цк", False),     # детский, советский
    ("дск", "цк", False),     # городской
    ("гк", "хк", False),      # лёгкий, мягкий
    ("гч", "хч", False),      # легче
    ("ться", "ца", True),     # учиться
    ("тся", "ца", True),      # учится
)

_GEMINATE = re.compile(r"([бвгджзклмнпрстфхцчшщ])\1(?=[бвгджзйклмнпрстфхцчшщь]|$)")

# -ого/-его that is not an adjective or pronoun ending: the г stays г.
NOT_GENITIVE = frozenset({
    "ого", "много", "немного", "намного", "ненамного", "премного", "строго", "нестрого",
    "дорого", "недорого", "задорого", "убого", "полого", "отлого",
})

# Voicing pairs (hard and soft); в/вʲ devoice but do not voice what precedes them.
VOICED_TO_VOICELESS = {
    "b": "p", "d": "t", "g": "k", "v": "f", "z": "s", "ʒ": "ʃ", "ʐ": "ʂ", "ɣ": "x",
    "dz": "ts", "dʒ": "tʃ", "dʑ": "tɕ",
    "bʲ": "pʲ", "dʲ": "tʲ", "gʲ": "kʲ", "vʲ": "fʲ", "zʲ": "sʲ", "ɣʲ": "xʲ",
}
VOICELESS_TO_VOICED = {v: k for k, v in VOICED_TO_VOICELESS.items()}
VOICELESS_OBSTRUENTS = frozenset(VOICELESS_TO_VOICED) | {"ʃtʃ", "ɕː"}
VOICING_TRIGGERS = frozenset(VOICED_TO_VOICELESS) - {"v", "vʲ"}

# --------------------------------------------------------------------------- vocabulary

PAD, UNK, EOS, WORD_BOUNDARY = "<pad>", "<unk>", "<eos>", " "
WORD_JOINT = "|"  # between the spelled words of a phonological word (`phrase.py`)
SPECIAL_TOKENS = (PAD, UNK, EOS, WORD_BOUNDARY)
VOWEL_INVENTORY = ("a", "o", "u", "ɨ", "e", "i", "ə", "ɪ", "ɐ", "ʊ")
_HARD = ("p", "b", "t", "d", "k", "g", "f", "v", "s", "z", "x", "ɣ", "m", "n", "l", "r")
CONSONANT_INVENTORY = (
    _HARD
    + tuple(c + "ʲ" for c in _HARD)
    + ("j", "ts", "dz", "tʃ", "dʒ", "ʃ", "ʒ", "ʃtʃ", "ʂ", "ʐ", "tɕ", "dʑ", "ɕː")
)
# Fixed, so ids never depend on which words a corpus happens to contain.
PHONEME_INVENTORY = SPECIAL_TOKENS + tuple(PUNCTUATION) + VOWEL_INVENTORY + CONSONANT_INVENTORY


# --------------------------------------------------------------------------- the rules


def simplify_clusters(letters: str) -> str:
    """Rewrite consonant clusters that are not pronounced as spelled (`CLUSTER_RULES`), and
    read a doubled consonant as one before another consonant or at the end (русский, класс)."""
    if _GEMINATE.search(letters):
        letters = _GEMINATE.sub(r"\1", letters)
    for pattern, replacement, at_end in CLUSTER_RULES:
        if pattern in letters:
            if at_end:
                if letters.endswith(pattern):
                    letters = letters[: -len(pattern)] + replacement
            else:
                letters = letters.replace(pattern, replacement)
    return letters


def genitive_ogo(letters: str) -> str:
    """красного -> красново, его -> ево: г reads в in the -ого/-его ending."""
    if letters.endswith(("ого", "его")) and letters not in NOT_GENITIVE:
        return letters[:-2] + "во"
    return letters


def letters_to_phonemes(letters: str, rules: PhonemeRules) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Map letters to phonemes with palatalization and iotation.

    Returns the phonemes and, for each vowel in order, ``(phoneme index, letter, context)``
    where context is what precedes it: ``initial`` (start of word), ``vowel``, ``soft``
    (a soft consonant or j), ``hush`` (ж ш ц) or ``hard``. Vowel reduction reads it.
    """
    phonemes: list[str] = []
    vowels: list[tuple[int, str, str]] = []
    narrow, n = rules.narrow_consonants, len(letters)
    prev = ""          # previous letter (hyphens are skipped)
    last_consonant = ""  # the last consonant letter, for the context of the next vowel
    after_consonant_boundary = False  # just after a `WORD_JOINT` that follows a consonant
    for i, ch in enumerate(letters):
        if ch == "-":
            continue
        if ch == WORD_JOINT:  # the next letter starts a word, inside a phonological word
            after_consonant_boundary = prev in CONSONANTS
            prev = ""
            continue
        if ch == "и" and after_consonant_boundary and not prev:  # в Италии, с иглой: ы
            vowels.append((len(phonemes), ch, "hard"))
            phonemes.append("ɨ")
            prev = ch
            continue
        if ch in VOWEL_PHONEMES:
            if rules.iotation and (
                (ch in IOTATED_VOWELS and (not prev or prev in VOWELS or prev in "ьъ"))
                or (ch == "и" and prev == "ь")
            ):
                phonemes.append("j")
                context = "soft"
            elif not prev:
                context = "initial"
            elif prev in VOWELS:
                context = "vowel"
            elif last_consonant in ALWAYS_HARD:
                context = "hush"
            elif last_consonant in ALWAYS_SOFT or (phonemes and phonemes[-1].endswith("ʲ")):
                context = "soft"
            else:
                context = "hard"
            symbol = VOWEL_PHONEMES[ch]
            if ch == "и" and context == "hush":
                symbol = "ɨ"  # жизнь, шило, цирк
            vowels.append((len(phonemes), ch, context))
            phonemes.append(symbol)
        elif ch in CONSONANTS:
            symbol = NARROW_CONSONANTS.get(ch, CONSONANTS[ch]) if narrow else CONSONANTS[ch]
            if rules.palatalization and ch in PAIRED_CONSONANTS:
                j = i + 1
                while j < n and letters[j] == "-":
                    j += 1
                if j < n and letters[j] in SOFTENING_LETTERS:
                    symbol += "ʲ"
            phonemes.append(symbol)
            last_consonant = ch
        # ь and ъ have no sound of their own: they act through the rules above.
        prev = ch
    return phonemes, vowels


def reduce_vowels(
    phonemes: list[str], vowels: list[tuple[int, str, str]], stressed: int, rules: PhonemeRules
) -> None:
    """Weaken unstressed vowels in place by their distance from the stressed syllable."""
    last = len(phonemes) - 1
    for syllable, (index, letter, context) in enumerate(vowels):
        distance = syllable - stressed
        if distance == 0 or stressed < 0:
            continue
        near = distance in (-1, 1)
        if index == last and ((letter in "ая" and context == "soft")
                              or (letter == "е" and context == "hush")):
            phonemes[index] = "ə"  # воля, сегодня, солнце: a final unstressed я (е after ц) is schwa
        elif context == "soft" and letter in "еяаё":
            final_e = rules.final_e and letter == "е" and index == last  # знание, здравствуйте
            phonemes[index] = "ɪ" if (near or rules.ikanye or final_e) else "ə"
        elif context == "hush" and letter == "е":
            phonemes[index] = rules.hard_e if (near or rules.ikanye) else "ə"
        elif letter in "аоё" or (letter in "ея" and context != "soft"):
            first_pretonic = distance == -1 or (context == "initial" and distance < 0)
            phonemes[index] = rules.pretonic_ao if first_pretonic else "ə"
        elif letter == "э" and rules.unstressed_e:  # этаж, экзамен
            phonemes[index] = "ɪ"
        elif rules.reduce_high_vowels:
            if letter in "уюо":
                phonemes[index] = "ʊ"
            elif letter in "иэ" and phonemes[index] != "ɨ":
                phonemes[index] = "ɪ"


# Assimilative softness: a consonant that turns soft before these soft ones (кость, песня,
# жизнь; бантик, кончик, женщина).
SOFTENED_BEFORE = {
    "s": frozenset({"tʲ", "dʲ", "nʲ"}), "z": frozenset({"tʲ", "dʲ", "nʲ"}),
    "n": frozenset({"tʲ", "dʲ", "tʃ", "ʃtʃ", "tɕ", "ɕː"}),
}
SIBILANTS = frozenset({"s", "z", "sʲ", "zʲ"})
HUSHING = frozenset({"ʃ", "ʒ", "ʂ", "ʐ"})


def assimilate_softness(phonemes: list[str], joints=()) -> None:
    """кость -> kosʲtʲ, песня -> pʲesʲnʲə, кончик -> konʲtʃik: с, з before a soft т, д, н and
    н before a soft т, д or ч, щ become soft, right to left (чествовать has none to
    pass on); not across a clitic's joint (с ним stays s nʲim)."""
    for i in range(len(phonemes) - 2, -1, -1):
        if i + 1 not in joints and phonemes[i + 1] in SOFTENED_BEFORE.get(phonemes[i], ()):
            phonemes[i] += "ʲ"


def merge_sibilants(phonemes: list[str]) -> None:
    """сшить -> ʃʃɨtʲ, сжечь -> ʒʒetʃ, позже -> poʒʒɪ, с шумом -> ʃ ʃuməm: с or з before ш or
    ж is heard as a long ш or ж (written as the symbol twice), also across a joint."""
    for i in range(len(phonemes) - 1):
        if phonemes[i] in SIBILANTS and phonemes[i + 1] in HUSHING:
            phonemes[i] = phonemes[i + 1]


def devoice_final(phonemes: list[str]) -> None:
    """город -> gorət: a voiced obstruent at the end of a word becomes voiceless."""
    if phonemes and phonemes[-1] in VOICED_TO_VOICELESS:
        phonemes[-1] = VOICED_TO_VOICELESS[phonemes[-1]]


def assimilate_voicing(phonemes: list[str]) -> None:
    """Regressive voicing assimilation, right to left so that chains propagate.

    сделать -> zdʲelətʲ, ложка -> loʃkə, вторник -> ftornʲik, but свет -> svʲet (в does not
    voice what precedes it).
    """
    for i in range(len(phonemes) - 2, -1, -1):
        current, following = phonemes[i], phonemes[i + 1]
        if following in VOICELESS_OBSTRUENTS and current in VOICED_TO_VOICELESS:
            phonemes[i] = VOICED_TO_VOICELESS[current]
        elif following in VOICING_TRIGGERS and current in VOICELESS_TO_VOICED:
            phonemes[i] = VOICELESS_TO_VOICED[current]


# --------------------------------------------------------------------------- one word


def spell(letters: str, rules: PhonemeRules) -> str:
    """Rules 3-4 (see the module docstring): the letters as they are sounded."""
    if rules.numeral_clusters and letters.startswith(("пят", "девят", "шест")):
        for written, said in NUMERAL_CLUSTERS:
            if letters.startswith(written):
                letters = said + letters[len(written):]
    if rules.cluster_simplification:
        letters = simplify_clusters(letters)
    if rules.genitive_ogo:
        letters = genitive_ogo(letters)
    return letters


def apply_rules(
    letters: str, syllable: int, rules: PhonemeRules, final_devoicing: bool = True
) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Rules 3-9 (see the module docstring) for letters whose stressed syllable is known.

    Returns the phonemes and the vowels as `letters_to_phonemes` lists them.
    `final_devoicing=False` skips that rule (for a preposition read with the next word).
    """
    return sound(spell(letters, rules), syllable, rules, final_devoicing)


def sound(
    letters: str, syllable: int, rules: PhonemeRules, final_devoicing: bool = True
) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Rules 5-11 for spelled letters (`spell`); `WORD_JOINT` between the words of a
    phonological word makes the next letter word-initial (`phrase.py`)."""
    if rules.double_consonants:
        letters = single_before_stress(letters, syllable)
    phonemes, vowels = letters_to_phonemes(letters, rules)
    if rules.vowel_reduction:
        reduce_vowels(phonemes, vowels, syllable, rules)
    if rules.final_devoicing and final_devoicing:
        devoice_final(phonemes)
    if rules.voicing_assimilation:
        assimilate_voicing(phonemes)
    if rules.soft_assimilation:
        joints = word_starts(letters, rules) if WORD_JOINT in letters else ()
        assimilate_softness(phonemes, joints)
    if rules.sibilant_merge:
        merge_sibilants(phonemes)
    return phonemes, vowels


def single_before_stress(letters: str, syllable: int) -> str:
    """A doubled consonant between vowels reads as one unless the stressed vowel is right
    before it (Росси́я [rəsʲijə], колле́га, but ка́сса, програ́мма) or a prefix doubles it
    (поддержка, рассада).

    >>> single_before_stress("россия", 1), single_before_stress("касса", 0)
    ('росия', 'касса')
    """
    vowel_positions = [k for k, ch in enumerate(letters) if ch in VOWELS]
    if len(vowel_positions) < 2:
        return letters
    stressed = vowel_positions[syllable] if 0 <= syllable < len(vowel_positions) else -1
    start = letters.rfind(WORD_JOINT) + 1  # the host word of a phonological word
    out = list(letters)
    for k in range(len(letters) - 3, start, -1):
        ch = letters[k]
        if (ch in CONSONANT_LETTERS and letters[k + 1] == ch and letters[k - 1] in VOWELS
                and letters[k + 2] in VOWELS and k - 1 != stressed
                and letters[start:k + 1] not in DOUBLING_PREFIXES):
            del out[k]
    return "".join(out)


def word_starts(letters: str, rules: PhonemeRules) -> set[int]:
    """Where each word after the first begins among the phonemes of `WORD_JOINT`-joined
    letters (a joint changes which symbols the letters give, never how many)."""
    starts, begin = set(), 0
    for piece in letters.split(WORD_JOINT)[:-1]:
        begin += len(letters_to_phonemes(piece, rules)[0])
        starts.add(begin)
    return starts


def exception_reading(
    letters: str, marked: int | None, user_stress: Mapping[str, int]
) -> tuple[int, str] | None:
    """(syllable, respelling) of an `EXCEPTIONS` word, or None.

    None also when the user's stress dictionary has the word, or the text marks a stress
    other than the respelling's (the word is then read as spelled).

    >>> exception_reading("что", None, {})
    (0, 'што')
    """
    if letters not in EXCEPTIONS or letters in user_stress:
        return None
    spelling, syllable = split_stress_marks(EXCEPTIONS[letters])
    return (syllable, spelling) if marked is None or marked == syllable else None


def decide_stress(
    letters: str, marked: int | None, user_stress: Mapping[str, int], use_lexicon: bool
) -> tuple[int, str, str]:
    """The stress tiers of `stress.py` (mark, your dictionary, ё unless the lexicon knows the
    word otherwise, the lexicon, one vowel, heuristics) for plain lowercase letters ->
    (syllable, spelling, source). The spelling differs from
    `letters` only when the lexicon restores ё (еще -> ещё).

    >>> decide_stress("еще", None, {}, use_lexicon=True)
    (1, 'ещё', 'dictionary')
    """
    n = count_vowels(letters)
    if n == 0:
        return -1, letters, "none"
    if marked is not None and marked < n:
        return marked, letters, "marked"
    compound = numeral_compound(letters) if letters not in user_stress else None
    if compound is not None:  # трёхэта́жный: the ё of трёх- is not the stress
        prefix, rest = compound
        rest_syllable = decide_stress(rest, None, user_stress, use_lexicon)[0]
        return count_vowels(prefix) + rest_syllable, letters, "compound"
    if letters in user_stress:
        return user_stress[letters], letters, "dictionary"
    yo = yo_stress(letters)
    if yo is not None:  # the lexicon first, where it knows the word (and disagrees)
        entry = load_stress_lexicon().lookup(letters) if use_lexicon else None
        if entry is not None and entry.spelling == letters and entry.syllable != yo:
            return entry.syllable, letters, "dictionary"
        return yo, letters, "yo"
    preferred = preferred_reading(letters)
    if preferred is not None:
        return preferred[0], preferred[1], "dictionary"
    if use_lexicon:
        entry = load_stress_lexicon().lookup(letters)
        if entry is not None:
            source = "monosyllable" if n == 1 and entry.spelling == letters else "dictionary"
            return entry.syllable, entry.spelling, source
    if n == 1:
        return 0, letters, "monosyllable"
    if "-" in letters:
        parts = letters.split("-")
        part_stress = [
            decide_stress(part, None, user_stress, use_lexicon)[0] if count_vowels(part) else 0
            for part in parts
        ]
        return combine_hyphenated(parts, part_stress), letters, "heuristic"
    suffix = predict_stress_by_suffix(letters) if use_lexicon else None
    if suffix is not None and 0 <= suffix < n:
        return suffix, letters, "heuristic"
    return seed_heuristic_stress(letters), letters, "heuristic"


_PLAIN_WORD = re.compile(r"[а-яё]+(?:-[а-яё]+)*")
_ALLOWED_WORD_CHARS = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя-+" + STRESS_MARKS)


def clean_word(word: str) -> str:
    """One word as `process_word` reads it: lowercase NFC Cyrillic, hyphens and stress marks.

    Raises TypeError or ValueError for input that is not one word.

    >>> clean_word(" Мoлoкo ")  # with Latin o
    'молоко'
    """
    if _PLAIN_WORD.fullmatch(word):  # the common case: already a clean lowercase word
        return word
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    cleaned = unicodedata.normalize("NFC", word.strip().lower())
    if not cleaned:
        raise ValueError("empty word")
    if any(ch.isspace() for ch in cleaned):
        raise ValueError(f"{word!r} is more than one word; use process_text")
    if any(ch.isdigit() for ch in cleaned):
        raise ValueError(f"{word!r} contains digits; use process_text, which reads numbers")
    cleaned = _LETTER_RUN.sub(_fix_latin, cleaned)
    cleaned = "".join(ch for ch in cleaned if ch in _ALLOWED_WORD_CHARS).strip("-")
    if not any(ch.isalpha() for ch in cleaned):
        raise ValueError(f"{word!r} has no letters that can be read as Russian")
    return cleaned


# --------------------------------------------------------------------------- a text

# A token of a text with its reading: a word is (word, phonemes, stress); a punctuation
# mark is (mark, (mark,), None).
Token = tuple[str, tuple[str, ...], StressInfo | None]


def join_proclitics(tokens: list[Token], underlying: Callable[[str], tuple[str, ...]]) -> None:
    """Read prepositions without a vowel (в, к, с) with the next word, in place:
    в школу -> f ʃkolu, с домом -> z doməm, к брату -> g bratu.

    `underlying(word)` gives the preposition's phonemes before final devoicing; the
    first phoneme of the next word then decides its voicing.
    """
    for i, (word, _, info) in enumerate(tokens[:-1]):
        following = tokens[i + 1]
        if info is not None and info.source == "none" and following[2] is not None and following[1]:
            joined = list(underlying(word)) + [following[1][0]]
            assimilate_voicing(joined)
            tokens[i] = (word, tuple(joined[:-1]), info)


def sequence_with_stress(tokens: list[Token]) -> tuple[list[str], list[int]]:
    """The model's symbols for a text's tokens, with one 0/1 flag per symbol (1 on each
    word's stressed vowel): word phonemes, ``" "`` between words, punctuation marks."""
    sequence: list[str] = []
    flags: list[int] = []
    for _, phonemes, info in tokens:
        if info is None:  # punctuation: a pause symbol, no boundary before it
            sequence.append(phonemes[0])
            flags.append(0)
            continue
        if sequence:
            sequence.append(WORD_BOUNDARY)
            flags.append(0)
        start = len(sequence)
        sequence.extend(phonemes)
        flags.extend([0] * len(phonemes))
        if info.vowel_index >= 0:
            flags[start + info.vowel_index] = 1
    return sequence, flags


# --------------------------------------------------------------------------- the processor

STATE_FORMAT, STATE_VERSION = "kokoro_nb.RussianPhonemeProcessor", 1


def read_context(tokens: list[Token], spelled: list[str],
                 read_word: Callable[[str], tuple[tuple[str, ...], StressInfo]],
                 user_stress: Mapping[str, int]) -> set[int]:
    """Homographs read from their sentence (`context.decide`), in place: their tokens get
    the decided reading (`read_word` of it, source "context") and `spelled` its respelling.
    Words in the user's dictionary are left alone. Returns the indices decided."""
    from .context import decide

    decided = set()
    for decision in decide(spelled):
        if decision.word in user_stress:
            continue
        phonemes, info = read_word(decision.stressed)
        tokens[decision.index] = (tokens[decision.index][0], phonemes,
                                  StressInfo(info.position, info.vowel_index, False, "context"))
        spelled[decision.index] = decision.stressed
        decided.add(decision.index)
    return decided


def check_state(state: Any) -> None:
    """Raise ValueError unless `state` is a `RussianPhonemeProcessor.to_dict` result."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError("not a RussianPhonemeProcessor state (missing 'format' marker)")
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported processor state version {state.get('version')!r}")
    missing = [p for p in SPECIAL_TOKENS if p not in [str(q) for q in state["phonemes"]]]
    if missing:
        raise ValueError(f"processor state lacks the special symbols {missing}")


class RussianPhonemeProcessor:
    """Russian text -> phonemes, stress and model ids (see the module docstring for rules).

    >>> processor = RussianPhonemeProcessor()
    >>> phonemes, stress = processor.process_word("говорить")
    >>> processor.to_ipa(phonemes), stress.position, stress.vowel_index
    ('gəvɐrʲitʲ', 2, 5)
    """

    def __init__(
        self,
        stress_dict_path: str | PathLike | None = None,
        rules: str | PhonemeRules | dict | None = "default",
        use_lexicon: bool = True,
        cache_size: int = 100_000,
    ) -> None:
        self.rules = resolve_rules(rules)
        self.stress_dict_path = str(stress_dict_path) if stress_dict_path else None
        self.user_stress: dict[str, int] = (
            read_stress_dict(stress_dict_path) if stress_dict_path else {}
        )
        self.use_lexicon = use_lexicon
        self.cache_size = cache_size
        self._set_vocabulary(PHONEME_INVENTORY)
        self._make_caches()

    # ----------------------------------------------------------------- vocabulary
    def _set_vocabulary(self, phonemes) -> None:
        self.phonemes: list[str] = list(phonemes)
        self.phoneme_to_id: dict[str, int] = {p: i for i, p in enumerate(self.phonemes)}
        self.pad_id = self.phoneme_to_id[PAD]
        self.unk_id = self.phoneme_to_id[UNK]
        self.eos_id = self.phoneme_to_id[EOS]

    def get_vocab_size(self) -> int:
        return len(self.phonemes)

    def get_phoneme_list(self) -> list[str]:
        """All symbols in id order: pad, unknown, end, word boundary, punctuation, phonemes."""
        return list(self.phonemes)

    # ----------------------------------------------------------------- caches
    def _make_caches(self) -> None:
        # Per-instance caches (a class-level lru_cache would be shared and keep `self` alive).
        self._normalize_cached = functools.lru_cache(maxsize=min(4096, self.cache_size))(
            normalize_text)
        self._word_cached = functools.lru_cache(maxsize=self.cache_size)(self._process_word)
        self._read_cached = functools.lru_cache(maxsize=self.cache_size)(self._read_word)

    def clear_cache(self) -> None:
        self._normalize_cached.cache_clear()
        self._word_cached.cache_clear()
        self._read_cached.cache_clear()

    def get_cache_info(self) -> dict[str, Any]:
        """functools cache statistics: ``stats['normalize_text_cache'].hits`` etc."""
        return {
            "normalize_text_cache": self._normalize_cached.cache_info(),
            "process_word_cache": self._word_cached.cache_info(),
        }

    def set_rules(self, rules: str | PhonemeRules | dict) -> None:
        """Switch to other rules (a preset name, `PhonemeRules` or dict); clears the word cache."""
        self.rules = resolve_rules(rules)
        self.clear_cache()

    # ----------------------------------------------------------------- stress dictionary
    def add_stress(self, word: str, syllable: int) -> None:
        """Add or replace a user stress-dictionary entry (0-based syllable); it wins over the
        built-in lexicon and the heuristics."""
        letters, _ = split_stress_marks(unicodedata.normalize("NFC", word.strip().lower()))
        self.user_stress[letters] = check_syllable(letters, int(syllable))
        self.clear_cache()

    def remove_stress(self, word: str) -> None:
        letters, _ = split_stress_marks(unicodedata.normalize("NFC", word.strip().lower()))
        self.user_stress.pop(letters, None)
        self.clear_cache()

    # ----------------------------------------------------------------- words
    def normalize_text(self, text: str) -> str:
        return self._normalize_cached(text)

    def process_word(self, word: str) -> tuple[list[str], StressInfo]:
        """One word -> (phonemes, StressInfo). Stress marks (◌́ or ``+``) in the word are honoured.

        Raises ValueError for input that is not one word (empty, digits, several words).
        """
        phonemes, info = self._word_cached(word)
        return list(phonemes), info

    def _process_word(self, word: str, final_devoicing: bool = True) -> tuple[tuple[str, ...], StressInfo]:
        letters, syllable, source = self._read_word(word)
        phonemes, vowels = sound(letters, syllable, self.rules, final_devoicing)
        vowel_index = vowels[syllable][0] if 0 <= syllable < len(vowels) else -1
        return tuple(phonemes), StressInfo(syllable, vowel_index, source == "marked", source)

    def _read_word(self, word: str) -> tuple[str, int, str]:
        """A word's spelled letters (rules 1-4), stressed syllable and stress source."""
        letters, marked = split_stress_marks(clean_word(word))
        exception = (
            exception_reading(letters, marked, self.user_stress) if self.rules.exceptions else None
        )
        if exception is not None:
            (syllable, letters), source = exception, "exception"
        else:
            syllable, letters, source = self.find_stress(letters, marked)
        return spell(letters, self.rules), syllable, source

    def find_stress(self, letters: str, marked: int | None = None) -> tuple[int, str, str]:
        """Stress tiers for plain lowercase letters -> (syllable, spelling, source), with this
        processor's dictionary and lexicon setting (see `decide_stress`)."""
        return decide_stress(letters, marked, self.user_stress, self.use_lexicon)

    # ----------------------------------------------------------------- text
    def _analyse(self, text: str) -> list[Token]:
        """The tokens of a text with their readings (see `Token`): each word alone (cached),
        then the phrase pass (`phrase.read_phrases`) over clitics and their hosts."""
        tokens: list[Token] = []
        spelled: list[str] = []  # each token as written (stress marks kept)
        for token in tokenize(self._normalize_cached(text)):
            if not is_word(token):
                tokens.append((token, (token,), None))
                spelled.append(token)
                continue
            try:
                phonemes, info = self._word_cached(token)
            except ValueError:  # e.g. a lone hyphenated fragment without letters
                continue
            tokens.append((split_stress_marks(token)[0], phonemes, info))
            spelled.append(token)
        decided = (read_context(tokens, spelled, self._word_cached, self.user_stress)
                   if self.rules.context_stress else set())
        if self.rules.clitics:
            from .phrase import read_phrases

            def read(i: int) -> tuple[str, int, str]:
                letters, syllable, source = self._read_cached(spelled[i])
                return letters, syllable, "context" if i in decided else source

            read_phrases(tokens, spelled, read, self.rules)
        elif self.rules.voicing_assimilation:
            join_proclitics(tokens, lambda word: self._process_word(word, final_devoicing=False)[0])
        return tokens

    def context_decisions(self, text: str) -> list:
        """The homographs of `text` read from context, as `context.Decision`s (token index,
        word, reading with + before the stressed vowel, reason); [] when the switch
        ``context_stress`` is off.

        >>> [(d.word, d.stressed) for d in RussianPhonemeProcessor().context_decisions(
        ...     "Нет руки.")]
        [('руки', 'рук+и')]
        """
        if not self.rules.context_stress:
            return []
        from .context import decide

        return decide(tokenize(self._normalize_cached(text)))

    def process_text(self, text: str) -> list[tuple[str, list[str], StressInfo]]:
        """Words of a text as ``(word, phonemes, stress_info)``, numbers read out.

        Punctuation is not listed here (it is kept as pause tokens by `text_to_phonemes`).
        """
        return [(w, list(p), s) for w, p, s in self._analyse(text) if s is not None]

    def text_to_phonemes(self, text: str) -> list[str]:
        """The model's symbol sequence: word phonemes, ``" "`` between words, punctuation marks.

        >>> RussianPhonemeProcessor().text_to_phonemes("Да, нет.")
        ['d', 'a', ',', ' ', 'nʲ', 'e', 't', '.']
        """
        return sequence_with_stress(self._analyse(text))[0]

    def text_to_indices(self, text: str) -> list[int]:
        """Ids of `text_to_phonemes(text)` (word boundaries and punctuation included)."""
        lookup, unk = self.phoneme_to_id, self.unk_id
        return [lookup.get(p, unk) for p in self.text_to_phonemes(text)]

    def get_stress_pattern(self, text: str) -> list[int]:
        """One 0/1 flag per id of `text_to_indices(text)`: 1 on each word's stressed vowel.

        (The seed's example shows 10 flags for "говорить по-русски", which has 15 symbols
        here; the flags always line up with `text_to_indices`.)
        """
        return sequence_with_stress(self._analyse(text))[1]

    def to_ipa(self, phonemes: list[str]) -> str:
        """Join phonemes into an IPA string: ``['g', 'ə', ...] -> 'gə...'``."""
        return "".join(phonemes)

    def text_to_ipa(self, text: str) -> str:
        return self.to_ipa(self.text_to_phonemes(text))

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, int, bool, list, dict) that rebuilds this processor."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "rules": asdict(self.rules),
            "use_lexicon": self.use_lexicon,
            "stress_dict": dict(self.user_stress),
            "stress_dict_path": self.stress_dict_path,
            "phonemes": list(self.phonemes),
            "cache_size": self.cache_size,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "RussianPhonemeProcessor":
        """Rebuild from `to_dict` output. The saved phoneme list defines the ids, so a model
        trained with it keeps reading the same symbols."""
        processor = cls.__new__(cls)
        processor._restore(state)
        return processor

    def _restore(self, state: dict[str, Any]) -> None:
        check_state(state)
        # A processor saved before a rule existed reads on without it.
        self.rules = resolve_rules(dict.fromkeys(RULES_ADDED_LATER, False) | dict(state["rules"]))
        self.use_lexicon = bool(state.get("use_lexicon", True))
        self.stress_dict_path = state.get("stress_dict_path")
        self.user_stress = {
            str(word): check_syllable(str(word), int(syllable))
            for word, syllable in dict(state.get("stress_dict", {})).items()
        }
        self.cache_size = int(state.get("cache_size", 100_000))
        self._set_vocabulary(str(p) for p in state["phonemes"])
        self._make_caches()

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._restore(state)

    def __repr__(self) -> str:
        return (
            f"RussianPhonemeProcessor(rules={self.rules.name!r}, vocab={len(self.phonemes)}, "
            f"user_stress={len(self.user_stress)}, lexicon={self.use_lexicon})"
        )


def with_rule(rules: PhonemeRules, **changes: Any) -> PhonemeRules:
    """A copy of `rules` with some settings changed: ``with_rule(rules, iotation=False)``."""
    return replace(rules, **changes)
