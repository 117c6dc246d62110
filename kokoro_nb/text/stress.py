"""Where the stress falls in a Russian word.

Stress decides everything downstream (which vowels reduce, what the model's stress flags
say), so it is found in tiers, most trustworthy first:

1. ``marked``      an explicit mark in the text: a combining acute, grave or acute tone mark
                   after the vowel (``говори́ть``), or ``+`` before it (``говор+ить``), the usual
                   convention of TTS corpora;
2. ``dictionary``  the user's stress dictionary (``stress_dict_path``);
3. ``yo``          the letter ё, which is stressed in a simple word; where the lexicon knows
                   the word with another stress, the lexicon wins (none of its 4,774 words
                   with ё disagrees today; трёх-/четырёх- compounds have a rule of their own);
4. ``dictionary``  the built-in lexicon of the most frequent word forms (which also restores
                   ё that the text spelled as е: ``еще`` -> ``ещё``);
5. ``monosyllable`` a word with one vowel;
6. ``heuristic``   suffix statistics learned from the lexicon, then the seed's rules
                   (`seed_heuristic_stress`: infinitives on the ending, -ный/-ная
                   adjectives and -ость nouns on the root, else penultimate).

Positions are 0-based syllable (= vowel) indices, the same numbers the TSV format uses.
Pure Python: no torch or numpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from .lexicon import VOWELS, count_vowels
from .normalize import STRESS_MARKS

STRESS_SOURCES = ("marked", "yo", "dictionary", "exception", "heuristic", "monosyllable", "none",
                  "clitic", "phrase", "compound", "context")
# Homographs whose context-free lexicon entry is the rarer reading in running text, written
# as respellings with the stress marked; checked before the lexicon.
PREFERRED_SPELLINGS = {
    "дела": "дел+а",          # как дела́ (plural) over из де́ла
    "города": "г+орода",      # центр го́рода over города́
    "стороны": "сторон+ы",    # с другой стороны́
    "самом": "с+амом",        # на са́мом деле
    "самого": "с+амого",      # с са́мого начала
    "рода": "р+ода",          # такого ро́да
    "сердца": "с+ердца",      # от всего се́рдца
    "дорог": "дор+ог",        # genitive plural of доро́га
    "договора": "догов+ора",  # genitive of догово́р
    "горы": "г+оры",          # го́ры
    "берегу": "берег+у",      # на берегу́
    "оскар": "+оскар",
    "слезы": "слёзы",
    "следа": "сл+еда",        # без сле́да
    "красивее": "крас+ивее",
    "молодца": "молодц+а",
    "рефери": "рефер+и",
    "федора": "фёдора",
    "глаза": "глаз+а",        # глаза́ (plural) over гла́за
}
# Second parts of hyphenated words that never carry the word's stress.
UNSTRESSED_HYPHEN_PARTS = frozenset({"то", "либо", "нибудь", "ка", "таки", "де", "с"})


@dataclass(frozen=True)
class StressInfo:
    """Stress of one word.

    position:    0-based stressed syllable (vowel) index; -1 for a word without vowels and
                 for an unstressed clitic (``source == "clitic"``, `phrase.py`).
    vowel_index: index of the stressed vowel in the word's phoneme list; -1 when none.
    is_marked:   the stress came from an explicit mark in the text.
    source:      which tier decided: one of ``STRESS_SOURCES`` ("none" when no vowel;
                 "clitic" for an unstressed clitic; "phrase" for both words of a fixed
                 phrase whose preposition takes the stress, на́ пол; "context" for a
                 homograph read from its sentence, `context.py`).
    """

    position: int
    vowel_index: int
    is_marked: bool
    source: str = "heuristic"


def preferred_reading(letters: str) -> tuple[int, str] | None:
    """(syllable, spelling) for a homograph in `PREFERRED_SPELLINGS`, else None."""
    respelled = PREFERRED_SPELLINGS.get(letters)
    if respelled is None:
        return None
    spelling, marked = split_stress_marks(respelled)
    return (marked if marked is not None else yo_stress(spelling)), spelling


def split_stress_marks(word: str) -> tuple[str, int | None]:
    """Strip stress marks from a lowercase word; return (letters, marked syllable or None).

    An acute (U+0301, U+0341) wins over a grave (U+0300); the first mark of a kind wins.

    >>> split_stress_marks("говори́ть")
    ('говорить', 2)
    >>> split_stress_marks("гов+орить")
    ('говорить', 1)
    """
    letters: list[str] = []
    vowel_count = 0
    acute = grave = None
    plus_pending = False
    for ch in word:
        if ch in VOWELS:
            if plus_pending and acute is None:
                acute = vowel_count
            plus_pending = False
            letters.append(ch)
            vowel_count += 1
        elif ch == "+":
            plus_pending = True
        elif ch in STRESS_MARKS:
            # The mark follows the vowel it stresses.
            if vowel_count and letters and letters[-1] in VOWELS:
                if ch == "\u0300":
                    grave = vowel_count - 1 if grave is None else grave
                elif acute is None:
                    acute = vowel_count - 1
        else:
            plus_pending = False
            letters.append(ch)
    return "".join(letters), (acute if acute is not None else grave)


# Numeral compounds whose first part's ё is not stressed: the second part carries the
# stress (трёхэта́жный, четырёхсо́т, трёхсо́том; the number reader writes such words).
NUMERAL_COMPOUND_PREFIXES = ("четырёх", "трёх")


def numeral_compound(letters: str) -> tuple[str, str] | None:
    """(prefix, rest) of a трёх-/четырёх- compound, else None.

    >>> numeral_compound("трёхэтажный"), numeral_compound("трёх")
    (('трёх', 'этажный'), None)
    """
    for prefix in NUMERAL_COMPOUND_PREFIXES:
        rest = letters[len(prefix):].lstrip("-")
        if letters.startswith(prefix) and count_vowels(rest):
            return prefix, rest
    return None


def yo_stress(letters: str) -> int | None:
    """Syllable of the first ё, which is always stressed; None without ё."""
    if "ё" not in letters:
        return None
    n = 0
    for ch in letters:
        if ch == "ё":
            return n
        if ch in VOWELS:
            n += 1
    return None


INFINITIVE_ENDINGS = ("ать", "ять", "еть", "ить", "ти")
# The adjective suffix -н- with an ending of two vowels: кра́с|н|ая, кра́с|н|ое, кра́с|н|ые.
ADJECTIVE_ENDINGS = ("ная", "ное", "ные")


def penultimate_stress(letters: str) -> int:
    """The penultimate syllable (0 in a word of one syllable): the seed's default guess.

    >>> penultimate_stress("молоко"), penultimate_stress("кот")
    (1, 0)
    """
    return max(count_vowels(letters) - 2, 0)


def seed_heuristic_stress(letters: str) -> int:
    """The seed's fallback rules, the floor of the heuristic tier, in this order:

    1. infinitives in -ать/-ять/-еть/-ить/-ти stress the ending (чита́ть);
    2. -ный/-ная/-ное/-ные adjectives and -ость/-есть nouns stress the root, the syllable
       before the suffix (кра́сный, кра́сная, возмо́жность). Only -ная/-ное/-ные need a rule
       of their own: their ending has two vowels, so that syllable is the third from the end;
       in -ный, -ость and -есть it is the penultimate, which rule 3 gives;
    3. anything else takes the penultimate syllable.

    Rule 2 is measured on the built-in lexicon (``load_stress_lexicon()``, its words of two
    or more syllables; share of the words it stresses right). -ная/-ное/-ные, 6,942 words:
    the root 60.7 %, the penultimate 5.2 %, one syllable before the root 37.0 %. -ный,
    2,973 words: the root (= penultimate) 64.2 %, the syllable before it 38.5 %. -ость/-есть,
    859 words: the root (= penultimate) 67.4 %, the syllable before it 46.5 %. (The seed's
    package and scripts each used one offset for all four adjective endings: of those 9,915
    words the penultimate stresses 22.9 %, the third from the end 54.1 %, rule 2 61.8 %.)
    ``python scripts/eval_stress.py --heuristic-choices`` prints these figures.

    >>> [seed_heuristic_stress(w) for w in ("читать", "красная", "красный", "возможность")]
    [1, 0, 0, 1]
    """
    n = count_vowels(letters)
    if n <= 1:
        return 0
    if letters.endswith(INFINITIVE_ENDINGS):
        return n - 1
    if letters.endswith(ADJECTIVE_ENDINGS):
        return max(n - 3, 0)
    return penultimate_stress(letters)


def read_stress_dict(path: str | PathLike) -> dict[str, int]:
    r"""Read a stress dictionary: ``word<TAB>syllable`` per line, 0-based syllable.

    ``#`` starts a comment (whole line or after the fields); blank lines are skipped. A line
    may also hold just the word with its stress marked (``замо́к`` or ``зам+ок``). Errors
    name the file and line.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "stress.tsv"
    ...     _ = path.write_text("# my words\nговорить\t2  # comments are fine\n\nзам+ок\n",
    ...                         encoding="utf-8")
    ...     read_stress_dict(path)
    {'говорить': 2, 'замок': 1}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"stress dictionary not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({exc})") from None
    entries: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        word = fields[0].strip().lower()
        letters, marked = split_stress_marks(word)
        if len(fields) >= 2 and fields[1].strip():
            value = fields[1].strip()
            if not value.lstrip("-").isdigit():
                raise ValueError(f"{path}:{lineno}: syllable must be an integer, got {value!r}")
            syllable = int(value)
        elif marked is not None:
            syllable = marked
        else:
            raise ValueError(f"{path}:{lineno}: expected 'word<TAB>syllable', got {raw!r}")
        entries[letters] = check_syllable(letters, syllable, where=f"{path}:{lineno}")
    return entries


def check_syllable(letters: str, syllable: int, where: str = "") -> int:
    """Validate a 0-based syllable index for a word; return it or raise ValueError."""
    n = count_vowels(letters)
    if not any(ch.isalpha() for ch in letters) or n == 0:
        raise ValueError(f"{where + ': ' if where else ''}{letters!r} has no vowel to stress")
    if not 0 <= syllable < n:
        raise ValueError(
            f"{where + ': ' if where else ''}{letters!r} has {n} syllable(s) (0..{n - 1}); "
            f"got {syllable}"
        )
    return syllable


def combine_hyphenated(parts: list[str], part_stress: list[int]) -> int:
    """Stress of a hyphenated word from the stress of its parts.

    Particles (кто-нибудь, скажи-ка) leave the stress on the first part; otherwise the last
    part carries the main stress (по-русски, северо-западный).
    """
    offsets = []
    total = 0
    for part in parts:
        offsets.append(total)
        total += count_vowels(part)
    index = len(parts) - 1
    while index > 0 and (parts[index] in UNSTRESSED_HYPHEN_PARTS or count_vowels(parts[index]) == 0):
        index -= 1
    return offsets[index] + part_stress[index]
