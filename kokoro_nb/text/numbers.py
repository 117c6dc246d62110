"""Expand numbers in Russian text into words, for a text-to-speech front end.

Pure Python, standard library only.  The grammar lives in small tables of
words near the top of the module; the functions below only combine them.

Public API
----------
``agree_noun(n, one, few, many)``
    Pick the noun form that agrees with ``n`` (1 рубль, 2 рубля, 5 рублей).
``cardinal_to_words(n, gender="m")``
    ``2024`` -> ``"две тысячи двадцать четыре"``.
``ordinal_to_words(n, gender="m", case="nom")``
    ``2024`` -> ``"две тысячи двадцать четвёртый"``.
``expand_numbers(text)``
    Replace every number written with digits in ``text`` by words.

Choices
-------
* Exactly one thousand is read ``"тысяча"`` without ``"одна"``
  (1000 -> "тысяча", 1001 -> "тысяча один"), as people read it aloud; in a
  larger group the ``одна`` stays (21000 -> "двадцать одна тысяча").
  Millions and above keep ``"один"`` (1000000 -> "один миллион").
* A decimal reads as a fraction: ``3,5`` -> "три целых пять десятых".
  With two through four whole units the colloquial "две целых" is used.
* Hyphenated ordinals (``1-й``, ``2-я``, ``21-го``, ``90-х``) are read as
  ordinals in the case and gender the suffix shows; the short Russian
  spellings ``2-х``, ``5-ти``, ``7-ми`` are read as cardinals in the genitive
  (двух, пяти, семи).  An unknown suffix is kept after the cardinal.
* A four-digit number directly before "год", "года", "году" or "годом" is a
  year and reads as an ordinal: "в 1812 году" -> "в тысяча восемьсот
  двенадцатом году".
* Numbers with a leading zero (``007``) and digit strings longer than
  15 digits are read digit by digit.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "agree_noun",
    "cardinal_to_words",
    "expand_numbers",
    "ordinal_to_words",
]

#: Cardinal numbers must satisfy ``abs(n) < MAX_NUMBER``.
MAX_NUMBER = 10**15

GENDERS = ("m", "f", "n")
ORDINAL_GENDERS = ("m", "f", "n", "pl")
CASES = ("nom", "gen", "dat", "acc", "ins", "prep")

HARD, STRESSED, THIRD = "hard", "stressed", "third"  # classes of ordinal endings


def _rows(table: str) -> list[list[str]]:
    """The fields of each line of a table written as text, split at white space."""
    return [line.split() for line in table.strip().splitlines()]


# --------------------------------------------------------------------------
# The words for the parts of a number below a thousand
# --------------------------------------------------------------------------


class NumberWord(NamedTuple):
    nominative: str  # masculine: один, два
    genitive: str    # двух: "до двух", and the first part of "двухтысячный"
    ordinal: str     # stem of the ordinal: втор-ой
    ending: str      # the ordinal's class of endings: HARD, STRESSED or THIRD


#: A group of three digits is read as at most three of these parts (`_group_parts`):
#: 125 = 100 + 20 + 5, 113 = 100 + 13.
NUMBER_WORDS = {int(value): NumberWord(*forms) for value, *forms in _rows("""
    0    ноль          нуля          нулев        stressed
    1    один          одного        перв         hard
    2    два           двух          втор         stressed
    3    три           трёх          трет         third
    4    четыре        четырёх       четвёрт      hard
    5    пять          пяти          пят          hard
    6    шесть         шести         шест         stressed
    7    семь          семи          седьм        stressed
    8    восемь        восьми        восьм        stressed
    9    девять        девяти        девят        hard
    10   десять        десяти        десят        hard
    11   одиннадцать   одиннадцати   одиннадцат   hard
    12   двенадцать    двенадцати    двенадцат    hard
    13   тринадцать    тринадцати    тринадцат    hard
    14   четырнадцать  четырнадцати  четырнадцат  hard
    15   пятнадцать    пятнадцати    пятнадцат    hard
    16   шестнадцать   шестнадцати   шестнадцат   hard
    17   семнадцать    семнадцати    семнадцат    hard
    18   восемнадцать  восемнадцати  восемнадцат  hard
    19   девятнадцать  девятнадцати  девятнадцат  hard
    20   двадцать      двадцати      двадцат      hard
    30   тридцать      тридцати      тридцат      hard
    40   сорок         сорока        сороков      stressed
    50   пятьдесят     пятидесяти    пятидесят    hard
    60   шестьдесят    шестидесяти   шестидесят   hard
    70   семьдесят     семидесяти    семидесят    hard
    80   восемьдесят   восьмидесяти  восьмидесят  hard
    90   девяносто     девяноста     девяност     hard
    100  сто           ста           сот          hard
    200  двести        двухсот       двухсот      hard
    300  триста        трёхсот       трёхсот      hard
    400  четыреста     четырёхсот    четырёхсот   hard
    500  пятьсот       пятисот       пятисот      hard
    600  шестьсот      шестисот      шестисот     hard
    700  семьсот       семисот       семисот      hard
    800  восемьсот     восьмисот     восьмисот    hard
    900  девятьсот     девятисот     девятисот    hard
""")}

#: One and two change with gender, the other parts do not.
GENDERED_UNITS = {
    "m": {1: "один", 2: "два"},
    "f": {1: "одна", 2: "две"},
    "n": {1: "одно", 2: "два"},
}
#: Inside one-word ordinals ("двухтысячный", "стодвадцатипятитысячный") a part reads as
#: its genitive, except these.
COMBINING_FORMS = {1: "одно", 90: "девяносто", 100: "сто"}

#: Scale words by power of 1000: (one, few, many) forms and grammatical gender.
SCALES = {
    1: (("тысяча", "тысячи", "тысяч"), "f"),
    2: (("миллион", "миллиона", "миллионов"), "m"),
    3: (("миллиард", "миллиарда", "миллиардов"), "m"),
    4: (("триллион", "триллиона", "триллионов"), "m"),
}

# --------------------------------------------------------------------------
# Ordinal numbers: stems plus an ending class
# --------------------------------------------------------------------------


def _declension(table: str) -> dict[str, tuple[str, ...]]:
    """Case -> endings for (m, f, n, pl), from rows ``case m f n pl`` of a declension table."""
    return {case: tuple(endings) for case, *endings in _rows(table)}


#: Endings by case (rows) and gender (columns: m, f, n, pl), as a grammar prints them.
#: The accusative assumes an inanimate noun (m and pl equal the nominative).
_HARD_ENDINGS = _declension("""
    nom   ый   ая   ое   ые
    gen   ого  ой   ого  ых
    dat   ому  ой   ому  ым
    acc   ый   ую   ое   ые
    ins   ым   ой   ым   ыми
    prep  ом   ой   ом   ых
""")
ORDINAL_ENDINGS = {
    HARD: _HARD_ENDINGS,
    # Stressed endings (второй, сороковой) differ in the masculine nominative and accusative.
    STRESSED: {**_HARD_ENDINGS, "nom": ("ой", "ая", "ое", "ые"), "acc": ("ой", "ую", "ое", "ые")},
    THIRD: _declension("""
        nom   ий    ья   ье    ьи
        gen   ьего  ьей  ьего  ьих
        dat   ьему  ьей  ьему  ьим
        acc   ий    ью   ье    ьи
        ins   ьим   ьей  ьим   ьими
        prep  ьем   ьей  ьем   ьих
    """),
}
ORDINAL_SCALE_STEMS = {1: "тысячн", 2: "миллионн", 3: "миллиардн", 4: "триллионн"}

# --------------------------------------------------------------------------
# Decimal fractions and nouns read after numbers
# --------------------------------------------------------------------------

#: Stem of the denominator by the number of digits after the separator.
FRACTION_STEMS = {
    1: "десят", 2: "сот", 3: "тысячн", 4: "десятитысячн", 5: "стотысячн",
    6: "миллионн", 7: "десятимиллионн", 8: "стомиллионн", 9: "миллиардн",
}
WHOLE_FORMS = ("целая", "целых", "целых")
PERCENT_FORMS = ("процент", "процента", "процентов")
PERCENT_AFTER_DECIMAL = "процента"
DECIMAL_POINT_WORD = "запятая"

# --------------------------------------------------------------------------
# Suffixes written after a hyphen: "1-й", "21-го", "2-х", "5-ти"
# --------------------------------------------------------------------------

#: Ordinal suffix -> (gender, case).
ORDINAL_SUFFIXES = {
    **dict.fromkeys(("й", "ый", "ий", "ой"), ("m", "nom")),
    **dict.fromkeys(("я", "ая", "ья"), ("f", "nom")),
    **dict.fromkeys(("е", "ое", "ье"), ("n", "nom")),
    **dict.fromkeys(("го", "ого", "его", "ьего"), ("m", "gen")),
    **dict.fromkeys(("му", "ому", "ему", "ьему"), ("m", "dat")),
    **dict.fromkeys(("м", "ом", "ем", "ьем"), ("m", "prep")),
    **dict.fromkeys(("ым", "им", "ьим"), ("m", "ins")),
    **dict.fromkeys(("ю", "ую", "ью"), ("f", "acc")),
    **dict.fromkeys(("ей", "ьей"), ("f", "gen")),
    **dict.fromkeys(("ые", "ие", "ьи"), ("pl", "nom")),
    **dict.fromkeys(("х", "ых", "их", "ьих"), ("pl", "gen")),
}
#: Suffixes that mark a cardinal in the genitive ("2-х" = двух, "5-ти" = пяти).
GENITIVE_CARDINAL_SUFFIXES = ("ух", "ёх", "ех", "ти", "ми")
#: "-х" after a number ending in 2, 3 or 4 is a genitive cardinal ("в 2-х"),
#: otherwise a plural ordinal ("в 90-х").
AMBIGUOUS_X_SUFFIX = "х"

#: Year nouns that make a four-digit number an ordinal: noun -> (gender, case).
YEAR_NOUNS = {
    "год": ("m", "nom"),
    "года": ("m", "gen"),
    "году": ("m", "prep"),
    "годом": ("m", "ins"),
}
#: "к 2030 году" and "по 2030 году" take the dative, not the prepositional.
DATIVE_PREPOSITIONS = ("к", "ко", "по")

MINUS_WORD = "минус"
MINUS_SIGNS = "-\u2212"
#: Space, no-break space, thin space and narrow no-break space.
GROUP_SEPARATORS = " \u00a0\u2009\u202f"


# ==========================================================================
# Helpers
# ==========================================================================


def agree_noun(n: int, one: str, few: str, many: str) -> str:
    """Return the noun form that agrees with ``n`` in Russian.

    ``one`` for 1, 21, 101 …; ``few`` for 2–4, 22–24 …; ``many`` for 0,
    5–20 (including 11–14), 25–30 … The sign of ``n`` is ignored.

    >>> agree_noun(22, "рубль", "рубля", "рублей")
    'рубля'
    """
    n = abs(n)
    if 11 <= n % 100 <= 14:
        return many
    last = n % 10
    if last == 1:
        return one
    if 2 <= last <= 4:
        return few
    return many


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def _check_range(n: int) -> None:
    if not isinstance(n, int):
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if abs(n) >= MAX_NUMBER:
        raise ValueError(f"number {n} is out of range: its absolute value must be below 10**15")


def _split_thousands(n: int) -> list[int]:
    """Split a non-negative number into groups of three digits, lowest first."""
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    return groups


def _digits_to_words(digits: str) -> str:
    """Read a string of digits one digit at a time: "007" -> "ноль ноль семь"."""
    return " ".join(NUMBER_WORDS[int(d)].nominative for d in digits)


def _group_parts(group: int) -> list[int]:
    """The parts (`NUMBER_WORDS`) that 1 <= group <= 999 is read as, largest first:
    125 -> [100, 20, 5], 113 -> [100, 13], 40 -> [40]."""
    hundreds, rest = divmod(group, 100)
    parts = [hundreds * 100] if hundreds else []
    if 10 <= rest < 20:
        return parts + [rest]
    tens, units = divmod(rest, 10)
    return parts + [part for part in (tens * 10, units) if part]


# ==========================================================================
# Cardinals
# ==========================================================================


def _group_words(n: int, gender: str) -> list[str]:
    """Words for 1 <= n <= 999 in the given gender."""
    return [GENDERED_UNITS[gender].get(part, NUMBER_WORDS[part].nominative)
            for part in _group_parts(n)]


def _scaled_group_words(group: int, scale: int, gender: str) -> list[str]:
    """Words for one group of three digits followed by its scale word, if any."""
    if scale == 0:
        return _group_words(group, gender)
    forms, scale_gender = SCALES[scale]
    if scale == 1 and group == 1:
        return [forms[0]]  # 1000 -> "тысяча", not "одна тысяча"
    return _group_words(group, scale_gender) + [agree_noun(group, *forms)]


def cardinal_to_words(n: int, gender: str = "m") -> str:
    """Russian cardinal number in the nominative, for ``abs(n) < 10**15``.

    ``gender`` ("m", "f" or "n") sets the form of one and two in the last
    group: один/одна/одно, два/две.  Thousands are feminine and millions and
    above masculine, with agreeing forms (две тысячи, пять миллионов).

    Exactly one thousand is read "тысяча" without "одна" (1000 -> "тысяча",
    1001 -> "тысяча один"), while a larger group keeps it (21000 ->
    "двадцать одна тысяча").  A million is "один миллион".

    >>> cardinal_to_words(2024)
    'две тысячи двадцать четыре'
    >>> cardinal_to_words(-21, "f")
    'минус двадцать одна'

    Raises ``ValueError`` for a number out of range or an unknown gender.
    """
    _check_range(n)
    _check_choice(gender, GENDERS, "gender")
    if n == 0:
        return NUMBER_WORDS[0].nominative
    words = [MINUS_WORD] if n < 0 else []
    groups = _split_thousands(abs(n))
    for scale in reversed(range(len(groups))):
        if groups[scale]:
            words += _scaled_group_words(groups[scale], scale, gender)
    return " ".join(words)


def _cardinal_genitive(n: int) -> str:
    """Genitive of 1 <= n <= 999, masculine: 2 -> "двух", 25 -> "двадцати пяти"."""
    return " ".join(NUMBER_WORDS[part].genitive for part in _group_parts(n))


def _combining_form(group: int) -> str:
    """Prefix of one-word ordinals: 2 -> "двух", 125 -> "стодвадцатипяти", 1 -> ""."""
    if group == 1:
        return ""
    return "".join(COMBINING_FORMS.get(part, NUMBER_WORDS[part].genitive)
                   for part in _group_parts(group))


# ==========================================================================
# Ordinals
# ==========================================================================


def _inflect(stem_and_class: tuple[str, str], gender: str, case: str) -> str:
    stem, ending_class = stem_and_class
    return stem + ORDINAL_ENDINGS[ending_class][case][ORDINAL_GENDERS.index(gender)]


def _last_group_ordinal(group: int) -> tuple[list[str], tuple[str, str]]:
    """Split 1 <= group <= 999 into leading cardinal words and the ordinal stem."""
    *leading, last = _group_parts(group)
    words = [NUMBER_WORDS[part].nominative for part in leading]
    return words, (NUMBER_WORDS[last].ordinal, NUMBER_WORDS[last].ending)


def ordinal_to_words(n: int, gender: str = "m", case: str = "nom") -> str:
    """Russian ordinal number for ``0 <= n < 10**15``.

    ``gender`` is "m", "f", "n" or "pl" (plural); ``case`` is one of "nom",
    "gen", "dat", "acc", "ins", "prep".  The accusative assumes an inanimate
    noun.  Only the last word is ordinal and inflected, the words before it
    stay cardinal: 2024 -> "две тысячи двадцать четвёртый".  Round
    thousands, millions … form one word: 2000 -> "двухтысячный".

    >>> ordinal_to_words(3, "f", "gen")
    'третьей'

    Raises ``ValueError`` for a negative or too large number, or an unknown
    gender or case.
    """
    _check_range(n)
    if n < 0:
        raise ValueError(f"ordinal numbers must not be negative; got {n}")
    _check_choice(gender, ORDINAL_GENDERS, "gender")
    _check_choice(case, CASES, "case")
    if n == 0:
        return _inflect((NUMBER_WORDS[0].ordinal, NUMBER_WORDS[0].ending), gender, case)

    groups = _split_thousands(n)
    scale = next(i for i, group in enumerate(groups) if group)  # lowest non-zero group
    group = groups[scale]
    higher = n - group * 1000**scale
    words = cardinal_to_words(higher).split() if higher else []

    if scale == 0:
        leading, stem = _last_group_ordinal(group)
        words += leading
    else:
        stem = (_combining_form(group) + ORDINAL_SCALE_STEMS[scale], HARD)
    words.append(_inflect(stem, gender, case))
    return " ".join(words)


# ==========================================================================
# Reading numbers found in text
# ==========================================================================

_SEP = f"[{GROUP_SEPARATORS}]"
_NUMBER_RE = re.compile(
    rf"""
    (?P<minus>(?<!\w)[{MINUS_SIGNS}])?          # minus sign at the start of a word
    (?<!\d)
    (?:(?<=\d[.,])(?P<chained>))?               # after "12." in 12.05.2024
    (?P<int>\d{{1,3}}(?:{_SEP}\d{{3}})+(?!\d)   # 1 000 000: groups of three
        |\d+)
    (?:(?(chained)(?!))                         # no decimal inside 1.2.3
       (?P<point>[.,])(?P<frac>\d+)(?![.,]?\d)  # 3,5 or 2.75, but not 1.2.3
    )?
    (?:(?P<percent>{_SEP}?%)                    # 5% or 5 %
      |-(?P<suffix>[^\W\d_]+)                   # 1-й, 21-го, 2-х
    )?
    """,
    re.VERBOSE,
)
_YEAR_NOUN_RE = re.compile(r"[ \u00a0]+(?P<noun>[^\W\d_]+)")
_LAST_WORD_RE = re.compile(r"(?:^|\W)(?P<word>\w+)\s+$")


def _integer_words(digits: str) -> str:
    """Cardinal words for a digit string; digit by digit if it is too long
    or has a leading zero."""
    if len(digits) > 15 or (len(digits) > 1 and digits.startswith("0")):
        return _digits_to_words(digits)
    return cardinal_to_words(int(digits))


def _decimal_words(int_digits: str, frac_digits: str) -> str:
    """"3", "5" -> "три целых пять десятых"."""
    stem = FRACTION_STEMS.get(len(frac_digits))
    if stem is None or len(int_digits) > 15:
        return f"{_integer_words(int_digits)} {DECIMAL_POINT_WORD} {_digits_to_words(frac_digits)}"
    whole, numerator = int(int_digits), int(frac_digits)
    return " ".join((
        cardinal_to_words(whole, "f"),
        agree_noun(whole, *WHOLE_FORMS),
        cardinal_to_words(numerator, "f"),
        agree_noun(numerator, stem + "ая", stem + "ых", stem + "ых"),
    ))


def _is_genitive_cardinal_suffix(n: int, suffix: str) -> bool:
    if suffix in GENITIVE_CARDINAL_SUFFIXES:
        return True
    return suffix == AMBIGUOUS_X_SUFFIX and agree_noun(n, "", "few", "") == "few"


def _words_with_suffix(digits: str, suffix: str) -> str:
    """Read a number written with a hyphenated suffix: "21", "го" -> "двадцать первого"."""
    lowered = suffix.lower()
    if len(digits) <= 15:
        n = int(digits)
        if 0 < n < 1000 and _is_genitive_cardinal_suffix(n, lowered):
            return _cardinal_genitive(n)
        if lowered in ORDINAL_SUFFIXES:
            gender, case = ORDINAL_SUFFIXES[lowered]
            return ordinal_to_words(n, gender, case)
    return f"{_integer_words(digits)}-{suffix}"  # unknown suffix: keep it


def _year_form(match: re.Match) -> tuple[str, str] | None:
    """(gender, case) if a plain four-digit number is followed by "год", "году" …"""
    if len(match["int"]) != 4 or match["int"].startswith("0"):
        return None
    following = _YEAR_NOUN_RE.match(match.string, match.end())
    if following is None or following["noun"].lower() not in YEAR_NOUNS:
        return None
    gender, case = YEAR_NOUNS[following["noun"].lower()]
    if case == "prep":
        previous = _LAST_WORD_RE.search(match.string, 0, match.start())
        if previous and previous["word"].lower() in DATIVE_PREPOSITIONS:
            case = "dat"
    return gender, case


def _number_to_words(match: re.Match) -> str:
    int_digits = re.sub(r"\D", "", match["int"])
    frac, suffix = match["frac"], match["suffix"]

    if frac is not None:
        words = _decimal_words(int_digits, frac)
    elif suffix is not None:
        words = _words_with_suffix(int_digits, suffix)
        suffix = None
    elif match["minus"] is None and match["percent"] is None and (year := _year_form(match)):
        words = ordinal_to_words(int(int_digits), *year)
    else:
        words = _integer_words(int_digits)

    if suffix is not None:  # a suffix after a decimal is kept as written
        words += "-" + suffix
    if match["minus"] is not None:
        words = f"{MINUS_WORD} {words}"
    if match["percent"] is not None:
        if frac is not None:
            words += " " + PERCENT_AFTER_DECIMAL
        else:
            words += " " + agree_noun(int(int_digits), *PERCENT_FORMS)
    return words


def _replace_number(match: re.Match) -> str:
    """Spell one number, separating it by spaces from letters it is glued to."""
    text, start, end = match.string, match.start(), match.end()
    words = _number_to_words(match)
    if start > 0 and text[start - 1].isalpha():
        words = " " + words
    if end < len(text) and text[end].isalpha():
        words += " "
    return words


def expand_numbers(text: str) -> str:
    """Replace every number written with digits in ``text`` by Russian words.

    Handles plain integers, thousands grouped with (thin / no-break) spaces
    ("1 000 000"), decimals with a comma or a dot ("3,5" -> "три целых пять
    десятых"), a minus sign at the start of a word ("-5" -> "минус пять"),
    percent ("5%" -> "пять процентов"), hyphenated ordinals ("1-й",
    "2-я", "21-го", "90-х"), years before "год"/"года"/"году"/"годом", and
    numbers glued to letters ("5км" -> "пять км").  Digit strings longer
    than 15 digits are read digit by digit.  Other text, punctuation
    included, is left as it is.

    >>> expand_numbers("В 1812 году было 3,5 тысячи.")
    'В тысяча восемьсот двенадцатом году было три целых пять десятых тысячи.'
    """
    return _NUMBER_RE.sub(_replace_number, text)
