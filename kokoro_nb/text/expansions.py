"""What a reader says for what is written otherwise: times, dates, Roman numerals,
abbreviations, units and symbols, acronyms, counted nouns and Latin words.

`expand_special(text)` runs these steps, in this order, on the raw text (before numbers are
read and the text is lowercased, `normalize.normalize_text`); each is a function of its own
with its examples:

1. `expand_times`         10:30 -> десять тридцать, 9:05 -> девять ноль пять
2. `expand_dates`         12.04.1961 -> двенадцатое апреля тысяча девятьсот шестьдесят
                          первого года; 1 января -> первое января (case after a
                          preposition: с первого января, к первому января)
3. `expand_roman`         XIX век -> девятнадцатый век, в XIX веке -> в девятнадцатом веке,
                          Пётр I -> Пётр первый, Екатерина II -> Екатерина вторая,
                          глава IV -> глава четвёртая
4. `expand_units`         5 кг -> пять килограммов, 21 минута -> двадцать одна минута
                          (units and symbols agree with their number: %, °C, $, €, ₽, №,
                          тыс., млн, руб., км/ч ...)
5. `expand_abbreviations` т.е. -> то есть, и т.д. -> и так далее (`ABBREVIATIONS`); place
                          nouns in the case a preposition gives: на ул. Ленина -> на улице
                          Ленина, в г. Москве -> в городе Москве (`PLACE_ABBREVIATIONS`);
                          1961 г. -> 1961 года, в 1961 г. -> в 1961 году
6. `agree_numbers`        a number agrees with the noun after it (2 книги -> две книги, 1
                          окно -> одно окно) and takes the genitive after около, до, от,
                          более, ... (около 300 рублей -> около трёхсот рублей)
7. `expand_acronyms`      ФСБ -> эф-эс-бэ, МГУ -> эм-гэ-у, США -> сэ-шэ-а; ООН, НАТО, вуз,
                          МИД stay words (`ACRONYM_WORDS`)
8. `expand_latin`         a small pronunciation dictionary (iPhone -> айфон, New York ->
                          нью-йорк, Python -> пайтон); other Latin words are read later
                          by English-like spelling rules (`normalize.transliterate_latin`)

Pure Python: no torch or numpy here.
"""

from __future__ import annotations

import re

from .morph import inflect_cardinal, inflect_word, parses
from .numbers import _combining_form, agree_noun, cardinal_to_words, ordinal_to_words

MONTHS_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                   "сентября", "октября", "ноября", "декабря")

# The case a preposition gives a date's day (первое -> с первого, к первому, о первом).
DATE_CASE_AFTER = {
    "с": "gen", "со": "gen", "до": "gen", "от": "gen", "после": "gen", "около": "gen",
    "из": "gen", "для": "gen", "кроме": "gen", "к": "dat", "ко": "dat", "о": "prep",
    "об": "prep", "при": "prep", "по": "acc", "на": "acc", "в": "acc",
}
# Prepositions after which a count is genitive: около трёхсот, до пяти, более двух.
GENITIVE_PREPOSITIONS = frozenset({
    "около", "до", "от", "из", "без", "для", "после", "кроме", "более", "менее", "свыше",
    "порядка", "у", "против", "среди",
})

_PREPOSITION_BEFORE = re.compile(r"(?:^|[\s(«\"])(?P<word>[А-ЯЁа-яё]+)\s+$")


def _sentence_end(match: re.Match) -> str:
    """"." when an abbreviation's dot the match took also ended the sentence (the text ends,
    or a capital letter follows), so the pause stays: "стоит 100 руб." -> "... рублей."."""
    if not match.group(0).endswith("."):
        return ""
    rest = match.string[match.end():].lstrip()
    return "." if not rest or rest[0].isupper() else ""


def _case_after(text: str, start: int, table: dict[str, str], default: str = "nom") -> str:
    """The case a preposition right before position `start` of `text` gives."""
    match = _PREPOSITION_BEFORE.search(text[max(0, start - 20):start])
    return table.get(match["word"].lower(), default) if match else default


# Words after which a date is named (nominative: сегодня двенадцатое апреля); elsewhere in a
# sentence a date says when, in the genitive (полетел двенадцатого апреля).
NAMING_WORDS = frozenset({"сегодня", "завтра", "вчера", "послезавтра", "это", "был", "была",
                          "было", "будет", "наступило", "наступит", "наступил", "дата"})


def _date_case(text: str, start: int) -> str:
    """The case of a date's day at `start`: its preposition's, the nominative at the start of
    a sentence or after a naming word (`NAMING_WORDS`), else the genitive."""
    case = _case_after(text, start, DATE_CASE_AFTER, "")
    if case:
        return case
    before = text[max(0, start - 30):start].rstrip()
    word = re.search(r"([А-ЯЁа-яё]+)$", before)
    if word is None or word[1].lower() in NAMING_WORDS:
        return "nom"
    return "gen"


# --------------------------------------------------------------------------- 1. times

# The case a preposition gives a clock time (the analyser's case names).
TIME_CASE_AFTER = {"до": "gent", "с": "gent", "со": "gent", "после": "gent", "около": "gent",
                   "от": "gent", "к": "datv", "ко": "datv", "между": "ablt"}

_TIME = re.compile(r"(?<![\d.:,])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\d:]|[.,]\d)")


def expand_times(text: str) -> str:
    """Clock times: hours, then minutes (feminine: двадцать одна).

    After до, с, после, около, к the numbers take its case (до двадцати двух тридцати).

    >>> expand_times("в 10:30 и в 9:05, к 18:00, до 22:30")
    'в десять тридцать и в девять ноль пять, к восемнадцати ноль-ноль, до двадцати двух тридцати'
    """
    def spoken(match: re.Match) -> str:
        hours, minutes = int(match["h"]), int(match["m"])
        case = _case_after(match.string, match.start(), TIME_CASE_AFTER, "")
        said = cardinal_to_words(hours).split()
        minute_words = cardinal_to_words(minutes, "f").split() if minutes else []
        if case:
            said = inflect_cardinal(said, case, "masc")
            minute_words = inflect_cardinal(minute_words, case, "femn")
        minute_said = " ".join(minute_words) if minutes else "ноль-ноль"
        if 0 < minutes < 10:
            minute_said = "ноль " + minute_said
        return f"{' '.join(said)} {minute_said}"

    return _TIME.sub(spoken, text)


# --------------------------------------------------------------------------- 2. dates

_NUMERIC_DATE = re.compile(
    r"(?<![\d.,])(?P<d>0?[1-9]|[12]\d|3[01])\.(?P<mo>0?[1-9]|1[0-2])\.(?P<y>\d{4})"
    r"(?:\s*(?:г\.|года)(?![А-ЯЁа-яё]))?(?![\d.]\d)")
_DAY_MONTH = re.compile(r"(?<![\d.,])(?P<d>0?[1-9]|[12]\d|3[01])\s+(?P<month>"
                        + "|".join(MONTHS_GENITIVE) + r")(?![а-яё])", re.IGNORECASE)


_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_DAY_RANGE = re.compile(
    rf"(?<![\w.,])(?:(?P<from>[сС]|[оО]т)\s+)?(?P<d1>{_DAY})\s*(?P<sep>по|до|-|–|—)\s*"
    rf"(?P<d2>{_DAY})\s+(?P<month>" + "|".join(MONTHS_GENITIVE) + r")(?![а-яё])")


# с 2010 по 2015 год: the first year an ordinal in the genitive (the second is read with its
# noun later).
_YEAR_RANGE = re.compile(r"(?<![\w.,])(?P<from>[сС]|[оО]т)\s+(?P<y1>\d{4})\s*(?P<until>по|до|-|–|—)\s*"
                         r"(?=\d{4}\s+(?:год|гг))")
# 80-е годы, в 1990-х годах: a decade is a plural ordinal in the case of годы.
DECADE_CASES = {"годы": "nom", "годов": "gen", "годам": "dat", "годами": "ins", "годах": "prep"}
_DECADES = re.compile(r"(?<![\w.,])(?P<n>\d{1,3}0)-(?:е|х|ые|ых|ми|м)\s+(?P<noun>годы|годов|годам"
                      r"|годами|годах)(?![а-яё])")


def _decades(match: re.Match) -> str:
    case = DECADE_CASES[match["noun"]]
    return f"{ordinal_to_words(int(match['n']), 'pl', case)} {match['noun']}"


def _day_range(match: re.Match) -> str:
    """с 1 по 5 мая -> с первого по пятое мая; 1-5 мая -> с первого по пятое мая; от 1 до 5
    мая -> от первого до пятого мая."""
    start = match["from"] or "с"
    until = "до" if match["sep"] == "до" else "по"
    first = ordinal_to_words(int(match["d1"]), "n", "gen")
    last = ordinal_to_words(int(match["d2"]), "n", "gen" if until == "до" else "nom")
    return f"{start} {first} {until} {last} {match['month']}"


def expand_dates(text: str) -> str:
    """Dates: the day an ordinal (neuter, in the case a preposition gives), the month in
    the genitive, a numeric date's year an ordinal in the genitive with года; a range of
    days reads с ... по ...

    >>> expand_dates("Родился 12.04.1961 и с 1 января, с 1 по 5 мая. 9 мая — праздник")
    'Родился двенадцатого апреля тысяча девятьсот шестьдесят первого года и с первого января, с первого по пятое мая. девятое мая — праздник'
    """
    def numeric(match: re.Match) -> str:
        case = _date_case(match.string, match.start())
        day = ordinal_to_words(int(match["d"]), "n", case)
        year = ordinal_to_words(int(match["y"]), "m", "gen")
        return f"{day} {MONTHS_GENITIVE[int(match['mo']) - 1]} {year} года{_sentence_end(match)}"

    def day_month(match: re.Match) -> str:
        case = _date_case(match.string, match.start())
        return f"{ordinal_to_words(int(match['d']), 'n', case)} {match['month']}"

    text = _DAY_RANGE.sub(_day_range, _NUMERIC_DATE.sub(numeric, text))
    text = _YEAR_RANGE.sub(lambda m: f"{m['from']} {ordinal_to_words(int(m['y1']), 'm', 'gen')}"
                                     f" {m['until']} ", text)
    text = _DECADES.sub(_decades, text)
    return _DAY_MONTH.sub(day_month, text)


# --------------------------------------------------------------------------- 2b. compounds

# Words that begin with a number: 70-летие -> семидесятилетие, 5-этажный -> пятиэтажный.
_NUMBER_COMPOUND = re.compile(r"(?<![\d.,])(?P<n>\d{1,3})-(?P<rest>(?:лет|этаж|комнат|крат|мест|"
                              r"днев|час|минут|тонн|процент|разов|серий|кило|метр|сантиметр|"
                              r"литр|градус|ярус|ступенч|тактн|цилиндр)[а-яё]*)")
_ORDINAL_INSTRUMENTAL = re.compile(r"(?<![\w.,])(?P<before>(?:[А-ЯЁа-яё]+\s+)?)(?P<n>\d{1,4})-м"
                                   r"(?![А-ЯЁа-яё\d])")
_FRACTION = re.compile(r"(?<![\d./,])(?P<num>\d{1,2})/(?P<den>\d{1,2})(?![\d/])")
PREPOSITIONAL = frozenset({"в", "во", "на", "о", "об", "при", "по"})
ACCUSATIVE_PREPOSITIONS = frozenset({"в", "во", "на", "за", "через", "про", "под"})


def _compound(match: re.Match) -> str:
    n = int(match["n"])
    first = "одно" if n == 1 else _combining_form(n) if n < 1000 else match["n"]
    return first + match["rest"]


def _ordinal_instrumental(match: re.Match) -> str:
    """2-м after a preposition is the prepositional (во 2-м классе, left to the number
    reader); elsewhere the instrumental: финишировал 2-м -> вторым."""
    before = match["before"].strip().lower()
    if before in PREPOSITIONAL:
        return match.group(0)
    return f"{match['before']}{ordinal_to_words(int(match['n']), 'm', 'ins')}"


def _fraction(match: re.Match) -> str:
    """1/8 -> одна восьмая (в одну восьмую), 2/3 -> две третьих."""
    num, den = int(match["num"]), int(match["den"])
    if not 0 < num < den <= 20:
        return match.group(0)
    accusative = _case_after(match.string, match.start(), dict.fromkeys(
        ACCUSATIVE_PREPOSITIONS, "acc"), "nom") == "acc"
    one = num % 10 == 1 and num % 100 != 11
    whole = cardinal_to_words(num, "f")
    if one:
        if accusative:
            whole = whole[:-len("одна")] + "одну"
        return f"{whole} {ordinal_to_words(den, 'f', 'acc' if accusative else 'nom')}"
    return f"{whole} {ordinal_to_words(den, 'pl', 'gen')}"


def expand_compounds(text: str) -> str:
    """Numbers glued to words or signs: 70-летием -> семидесятилетием, 5-этажный ->
    пятиэтажный; an ordinal in -м outside a prepositional phrase is instrumental
    (финишировал 2-м -> вторым); simple fractions (1/8 -> одна восьмая, в 1/8 -> в одну
    восьмую, 2/3 -> две третьих).

    >>> expand_compounds("с 70-летием, 5-этажный дом, финишировал 2-м, во 2-м классе, в 1/8")
    'с семидесятилетием, пятиэтажный дом, финишировал вторым, во 2-м классе, в одну восьмую'
    """
    text = _NUMBER_COMPOUND.sub(_compound, text)
    text = _ORDINAL_INSTRUMENTAL.sub(_ordinal_instrumental, text)
    return _FRACTION.sub(_fraction, text)


# --------------------------------------------------------------------------- 3. Roman

_ROMAN = r"(?P<roman>(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3}))"
ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
# век in its cases: XIX век, XIX века, в XIX веке ...
CENTURY_FORMS = {"nom": "век", "gen": "века", "dat": "веку", "acc": "век", "ins": "веком",
                 "prep": "веке"}
CENTURY_CASES = {"век": "nom", "века": "gen", "веку": "dat", "веком": "ins", "веке": "prep",
                 "в.": "nom"}
# Nouns before a Roman numeral that read it as an ordinal of their gender and case: глава
# IV -> глава четвёртая, в главе IV -> в главе четвёртой. Each: gender, then the forms of
# nominative, genitive, dative, accusative, instrumental, prepositional.
ROMAN_NOUN_FORMS = (
    ("f", "глава главы главе главу главой главе"),
    ("f", "часть части части часть частью части"),
    ("f", "статья статьи статье статью статьёй статье"),
    ("f", "книга книги книге книгу книгой книге"),
    ("f", "серия серии серии серию серией серии"),
    ("m", "том тома тому том томом томе"),
    ("m", "раздел раздела разделу раздел разделом разделе"),
    ("m", "пункт пункта пункту пункт пунктом пункте"),
    ("m", "съезд съезда съезду съезд съездом съезде"),
    ("m", "тур тура туру тур туром туре"),
    ("m", "этап этапа этапу этап этапом этапе"),
    ("m", "сезон сезона сезону сезон сезоном сезоне"),
    ("m", "акт акта акту акт актом акте"),
    ("m", "созыв созыва созыву созыв созывом созыве"),
)
_FORM_CASES = ("nom", "gen", "dat", "acc", "ins", "prep")
ROMAN_NOUNS = {form: (gender, case) for gender, forms in ROMAN_NOUN_FORMS
               for case, form in reversed(list(zip(_FORM_CASES, forms.split(), strict=True)))}
_LATIN_AROUND = r"(?<![A-Za-z])", r"(?![A-Za-z])"
_ROMAN_CENTURY = re.compile(_LATIN_AROUND[0] + _ROMAN + _LATIN_AROUND[1]
                            + r"\s+(?P<noun>век(?:а|у|ом|е)?(?![а-яё])|в\.)")
_ROMAN_AFTER_NAME = re.compile(r"(?P<name>(?<![А-ЯЁа-яё])[А-ЯЁ][а-яё]+)\s+"
                               + _ROMAN + _LATIN_AROUND[1])
_ROMAN_AFTER_NOUN = re.compile(r"(?P<noun>(?<![А-ЯЁа-яё])(?:" + "|".join(
    sorted(ROMAN_NOUNS, key=len, reverse=True)) + r"))\s+" + _ROMAN + _LATIN_AROUND[1],
    re.IGNORECASE)


def roman_value(numeral: str) -> int:
    """The value of a valid Roman numeral.

    >>> roman_value("XIX"), roman_value("MCMLXI")
    (19, 1961)
    """
    total = 0
    for i, ch in enumerate(numeral):
        value = ROMAN_VALUES[ch]
        following = ROMAN_VALUES[numeral[i + 1]] if i + 1 < len(numeral) else 0
        total += -value if value < following else value
    return total


ANALYSER_CASES = {"nomn": "nom", "gent": "gen", "datv": "dat", "accs": "acc", "ablt": "ins",
                  "loct": "prep"}


def _name_form(name: str) -> tuple[str, str]:
    """(gender, case) of a ruler's name before a Roman numeral (Петру I -> первому)."""
    found = [p for p in parses(name.lower()) if "Name" in p.tags and p.case in ANALYSER_CASES]
    if not found:
        return ("f" if name[-1] in "ая" else "m"), "nom"
    best = max(found, key=lambda p: p.score)
    return ("f" if best.gender == "femn" else "m"), ANALYSER_CASES[best.case]


def expand_roman(text: str) -> str:
    """Roman numerals in the contexts that say how to read them (elsewhere they stay).

    >>> expand_roman("в XIX веке Пётр I и Екатерина II, глава IV, в томе II")
    'в девятнадцатом веке Пётр первый и Екатерина вторая, глава четвёртая, в томе втором'
    """
    def century(match: re.Match) -> str:
        noun = match["noun"]
        case = CENTURY_CASES[noun.lower()]
        if noun == "в.":  # the abbreviation takes the case of the preposition: в XV в.
            case = _case_after(match.string, match.start(), DATE_CASE_AFTER | {"в": "prep"})
            noun = CENTURY_FORMS[case] + _sentence_end(match)
        return f"{ordinal_to_words(roman_value(match['roman']), 'm', case)} {noun}"

    def after_name(match: re.Match) -> str:
        gender, case = _name_form(match["name"])
        return f"{match['name']} {ordinal_to_words(roman_value(match['roman']), gender, case)}"

    def after_noun(match: re.Match) -> str:
        gender, case = ROMAN_NOUNS[match["noun"].lower()]
        return f"{match['noun']} {ordinal_to_words(roman_value(match['roman']), gender, case)}"

    text = _ROMAN_CENTURY.sub(century, text)
    text = _ROMAN_AFTER_NOUN.sub(after_noun, text)
    text = _ROMAN_AFTER_NAME.sub(after_name, text)
    return _ROMAN_BEFORE_WORD.sub(_roman_before_word, text)


_ROMAN_BEFORE_WORD = re.compile(_LATIN_AROUND[0] + r"(?=[IVXLCDM]{2})" + _ROMAN
                                + r"(?P<space>\s+)(?P<word>[А-ЯЁа-яё]+)")
ORDINAL_GENDERS = {"masc": "m", "femn": "f", "neut": "n"}


def _roman_before_word(match: re.Match) -> str:
    """A Roman numeral before the words it numbers agrees with them: XXII зимние игры ->
    двадцать вторые зимние игры."""
    forms = [p for p in parses(match["word"].lower()) if p.pos in ("ADJF", "NOUN")
             and p.case in ANALYSER_CASES]
    if not forms:
        return match.group(0)
    best = max(forms, key=lambda p: p.score)
    gender = "pl" if best.number == "plur" else ORDINAL_GENDERS.get(best.gender, "m")
    ordinal = ordinal_to_words(roman_value(match["roman"]), gender, ANALYSER_CASES[best.case])
    return f"{ordinal}{match['space']}{match['word']}"


# --------------------------------------------------------------------------- 4. units

# What follows a number -> (one, few, many, the noun's gender). "few" is also the form after
# a fraction (3,5 кг -> килограмма).
UNITS = {
    "км/ч": ("километр в час", "километра в час", "километров в час", "m"),
    "кг": ("килограмм", "килограмма", "килограммов", "m"),
    "мг": ("миллиграмм", "миллиграмма", "миллиграммов", "m"),
    "г": ("грамм", "грамма", "граммов", "m"),
    "т": ("тонна", "тонны", "тонн", "f"),
    "км": ("километр", "километра", "километров", "m"),
    "м": ("метр", "метра", "метров", "m"),
    "см": ("сантиметр", "сантиметра", "сантиметров", "m"),
    "мм": ("миллиметр", "миллиметра", "миллиметров", "m"),
    "л": ("литр", "литра", "литров", "m"),
    "мл": ("миллилитр", "миллилитра", "миллилитров", "m"),
    "ч": ("час", "часа", "часов", "m"),
    "мин": ("минута", "минуты", "минут", "f"),
    "сек": ("секунда", "секунды", "секунд", "f"),
    "руб": ("рубль", "рубля", "рублей", "m"),
    "р": ("рубль", "рубля", "рублей", "m"),
    "₽": ("рубль", "рубля", "рублей", "m"),
    "коп": ("копейка", "копейки", "копеек", "f"),
    "$": ("доллар", "доллара", "долларов", "m"),
    "€": ("евро", "евро", "евро", "m"),
    "тыс": ("тысяча", "тысячи", "тысяч", "f"),
    "млн": ("миллион", "миллиона", "миллионов", "m"),
    "млрд": ("миллиард", "миллиарда", "миллиардов", "m"),
    "трлн": ("триллион", "триллиона", "триллионов", "m"),
    "°C": ("градус Цельсия", "градуса Цельсия", "градусов Цельсия", "m"),
    "℃": ("градус Цельсия", "градуса Цельсия", "градусов Цельсия", "m"),
    "°": ("градус", "градуса", "градусов", "m"),
    "%": ("процент", "процента", "процентов", "m"),
}
_UNIT_NAMES = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_NUMBER = r"(?P<minus>[-−+])?(?P<int>\d{1,3}(?:[  ]\d{3})+|\d+)(?:[.,](?P<frac>\d+))?"
_NUMBER_UNIT = re.compile(r"(?<![\w.,])" + _NUMBER + r"\s*(?P<unit>" + _UNIT_NAMES
                          + r")(?P<dot>\.)?(?![A-Za-zА-ЯЁа-яё0-9])")
_UNIT_NUMBER = re.compile(r"(?P<unit>[$€₽])\s*" + _NUMBER + r"(?![\d.,]?\d)")
_NUMERO = re.compile(r"№\s*(?=\d)")


def _count(match: re.Match, unit: str) -> str:
    """A number and its unit, agreeing: 21 минута -> двадцать одна минута."""
    one, few, many, gender = UNITS[unit]
    digits = re.sub(r"\D", "", match["int"])
    sign = {"+": "плюс ", None: ""}.get(match["minus"], "минус ")
    if match["frac"] is not None:  # the number reader reads the fraction
        return f"{match.group('minus') or ''}{match['int']},{match['frac']} {few}"
    if len(digits) > 15:  # read digit by digit later
        return f"{match.group('minus') or ''}{match['int']} {many}"
    n = int(digits)
    return f"{sign}{cardinal_to_words(n, gender)} {agree_noun(n, one, few, many)}"


def expand_units(text: str) -> str:
    """Numbers with units and symbols, the number agreeing with the unit's gender and the
    unit with the number.

    >>> expand_units("5 кг, 21 мин, 3,5 кг, $100, 2 тыс. руб., -5 °C, № 7")
    'пять килограммов, двадцать одна минута, 3,5 килограмма, сто долларов, две тысячи рублей, минус пять градусов Цельсия, номер 7'
    """
    def after_number(match: re.Match) -> str:
        # After тыс. руб. коп. the dot ends the abbreviation; after кг. it ends the sentence.
        dot = "." if match["dot"] and match["unit"] not in ABBREVIATED_UNITS else ""
        return _count(match, match["unit"]) + (dot or _sentence_end(match))

    text = _NUMERO.sub("номер ", text)
    text = _UNIT_NUMBER.sub(lambda m: _count(m, m["unit"]), text)
    text = _YEAR_ABBREVIATION.sub(_year_abbreviation, text)  # before г (gram) takes it
    text = _NUMBER_UNIT.sub(after_number, text)
    # "2 тысячи рублей": a unit after a spelled-out тысяча/миллион agrees in the plural.
    return _SCALE_THEN_UNIT.sub(
        lambda m: f"{m['scale']} {UNITS[m['unit']][2]}{_sentence_end(m)}", text)


# Units written with a dot that ends the abbreviation, not the sentence: тыс. руб. коп. мин.
ABBREVIATED_UNITS = frozenset({"тыс", "руб", "коп", "мин", "сек", "р"})
_SCALE_THEN_UNIT = re.compile(r"(?P<scale>тысяч[аи]?|миллион(?:а|ов)?|миллиард(?:а|ов)?)\s+"
                              r"(?P<unit>руб|р|коп|\$|€|₽)\.?(?![А-ЯЁа-яё])")
# 1961 г. -> 1961 года (в 1961 г. -> в 1961 году): the number reader then reads the year.
_YEAR_ABBREVIATION = re.compile(r"(?<![\d.,])(?P<year>\d{4})\s*г\.(?=\s|$|[,;:!?)])")


def _year_abbreviation(match: re.Match) -> str:
    before = match.string[max(0, match.start() - 3):match.start()].lower()
    said = "году" if before.endswith(("в ", "во ")) else "года"
    return f"{match['year']} {said}{_sentence_end(match)}"


# --------------------------------------------------------------------------- 5. abbreviations

# (pattern, what is said), applied in this order; patterns match whole words.
ABBREVIATIONS = (
    (r"и\s+т\.\s*д\.", "и так далее"),
    (r"и\s+т\.\s*п\.", "и тому подобное"),
    (r"и\s+др\.", "и другие"),
    (r"и\s+пр\.", "и прочее"),
    (r"т\.\s*е\.", "то есть"),
    (r"т\.\s*к\.", "так как"),
    (r"т\.\s*н\.", "так называемый"),
    (r"т\.\s*д\.", "так далее"),
    (r"напр\.", "например"),
    (r"см\.(?=\s)", "смотри"),
    (r"им\.", "имени"),
    (r"стр\.(?=\s*\d)", "страница"),
    (r"рис\.(?=\s*\d)", "рисунок"),
    (r"тел\.", "телефон"),
    (r"проф\.", "профессор"),
    (r"акад\.", "академик"),
    (r"св\.", "святой"),
    (r"ок\.(?=\s*\d)", "около"),
)
_ABBREVIATIONS = tuple((re.compile(r"(?<![А-ЯЁа-яё])" + pattern, re.IGNORECASE), said)
                       for pattern, said in ABBREVIATIONS)


# Place nouns, abbreviated, in the case the preposition before them gives: на ул. Ленина ->
# на улице Ленина, из г. Москвы -> из города Москвы.
PLACE_ABBREVIATIONS = (
    (r"г\.(?=\s*[А-ЯЁ])", "город", "города", "городу", "городом", "городе"),
    (r"ул\.", "улица", "улицы", "улице", "улицей", "улице"),
    (r"пр-т|просп\.|пр\.(?=\s*[А-ЯЁ])", "проспект", "проспекта", "проспекту", "проспектом",
     "проспекте"),
    (r"р\.(?=\s*[А-ЯЁ])", "река", "реки", "реке", "рекой", "реке"),
    (r"оз\.(?=\s*[А-ЯЁ])", "озеро", "озера", "озеру", "озером", "озере"),
    (r"пер\.", "переулок", "переулка", "переулку", "переулком", "переулке"),
    (r"пл\.", "площадь", "площади", "площади", "площадью", "площади"),
    (r"обл\.", "область", "области", "области", "областью", "области"),
    (r"д\.(?=\s*\d)", "дом", "дома", "дому", "домом", "доме"),
    (r"кв\.(?=\s*\d)", "квартира", "квартиры", "квартире", "квартирой", "квартире"),
)
PLACE_CASE_AFTER = {
    "в": "prep", "во": "prep", "на": "prep", "о": "prep", "об": "prep", "при": "prep",
    "из": "gen", "от": "gen", "до": "gen", "у": "gen", "около": "gen", "для": "gen",
    "возле": "gen", "с": "gen", "со": "gen", "к": "dat", "ко": "dat", "по": "dat",
    "над": "ins", "под": "ins", "за": "ins", "перед": "ins", "между": "ins",
}
_PLACE_CASES = ("nom", "gen", "dat", "ins", "prep")
_PLACES = tuple((re.compile(r"(?<![А-ЯЁа-яё])(?:" + pattern + ")", re.IGNORECASE), forms)
                for pattern, *forms in PLACE_ABBREVIATIONS)


def expand_places(text: str) -> str:
    """`PLACE_ABBREVIATIONS` in the case the preposition before them gives.

    >>> expand_places("Живу в г. Москве на ул. Ленина, д. 5; еду из г. Твери")
    'Живу в городе Москве на улице Ленина, дом 5; еду из города Твери'
    """
    for pattern, forms in _PLACES:
        text = pattern.sub(lambda m, forms=forms: forms[_PLACE_CASES.index(
            _case_after(m.string, m.start(), PLACE_CASE_AFTER))], text)
    return text


def expand_abbreviations(text: str) -> str:
    """`ABBREVIATIONS`, in order.

    >>> expand_abbreviations("Т.е. на ул. Ленина, д. 5, и т.д.")
    'то есть на улице Ленина, дом 5, и так далее.'
    """
    text = expand_places(text)
    for pattern, said in _ABBREVIATIONS:
        # и т.д. ends a phrase, so a capital after it starts a sentence; им. Пушкина does not
        ends_phrase = said.startswith(("и ", "так далее"))
        text = pattern.sub(lambda m, said=said, ends=ends_phrase: said + (
            _sentence_end(m) if ends or not m.string[m.end():].strip() else ""), text)
    return _SO_CALLED.sub(_so_called, text) if "так называемый" in text else text


_SO_CALLED = re.compile(r"так называемый(?P<space>\s+)(?P<word>[А-ЯЁа-яё]+)")


def _so_called(match: re.Match) -> str:
    """так называемый agrees with the words after it: т.н. серая зона -> так называемая."""
    said = "так называемый"
    forms = [p for p in parses(match["word"].lower()) if p.pos in ("ADJF", "NOUN") and p.case]
    if forms:
        best = max(forms, key=lambda p: p.score)
        wanted = {best.case, best.number} | ({best.gender} if best.number == "sing"
                                              and best.gender else set())
        inflected = inflect_word("называемый", wanted)
        said = f"так {inflected}" if inflected else said
    return f"{said}{match['space']}{match['word']}"


# --------------------------------------------------------------------------- 6. agreement

_COUNTED = re.compile(r"(?<![\w.,:])(?P<int>\d{1,3}(?:[  ]\d{3})*|\d+)(?![.,:]?\d|-)"
                      r"(?P<space>\s+)(?P<word>[а-яё]+)")


def _noun_gender(n: int, word: str) -> str | None:
    """The gender a counted noun shows by its ending, where it matters (one and two) and is
    clear: одна минута, одно окно, две книги. None: masculine or unclear."""
    if 11 <= n % 100 <= 19:
        return None
    if n % 10 == 1:
        return "f" if word.endswith(("а", "я")) else "n" if word.endswith("о") else None
    if n % 10 == 2:  # две книги, but not the instrumental (двумя книгами)
        return "f" if word.endswith(("ы", "и")) and not word.endswith("ми") else None
    return None


def agree_numbers(text: str) -> str:
    """A number before a noun: feminine or neuter where the noun shows it, genitive after
    the prepositions that take it.

    >>> agree_numbers("2 книги, 1 окно, 21 неделя, около 300 рублей, до 5 лет, 5 книг")
    'две книги, одно окно, двадцать одна неделя, около трёхсот рублей, до пяти лет, 5 книг'
    """
    def spoken(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match["int"])
        if len(digits) > 15:
            return match.group(0)
        n, word = int(digits), match["word"]
        case = _case_after(match.string, match.start(), dict.fromkeys(GENITIVE_PREPOSITIONS,
                                                                      "gen"))
        if case == "gen" and n > 0 and not word.startswith("год"):
            nouns = [p for p in parses(word.lower()) if p.pos == "NOUN"]
            gender = max(nouns, key=lambda p: p.score).gender if nouns else None
            said = " ".join(inflect_cardinal(cardinal_to_words(n).split(), "gent", gender))
            return f"{said}{match['space']}{word}"
        gender = _noun_gender(n, word)
        if gender is None or case != "nom":
            return match.group(0)
        return f"{cardinal_to_words(n, gender)}{match['space']}{word}"

    return _COUNTED.sub(spoken, text)


# --------------------------------------------------------------------------- 7. acronyms

LETTER_NAMES = {
    "а": "а", "б": "бэ", "в": "вэ", "г": "гэ", "д": "дэ", "е": "е", "ё": "ё", "ж": "жэ",
    "з": "зэ", "и": "и", "й": "й", "к": "ка", "л": "эль", "м": "эм", "н": "эн", "о": "о",
    "п": "пэ", "р": "эр", "с": "эс", "т": "тэ", "у": "у", "ф": "эф", "х": "ха", "ц": "цэ",
    "ч": "чэ", "ш": "ша", "щ": "ща", "ъ": "", "ы": "ы", "ь": "", "э": "э", "ю": "ю", "я": "я",
}
# Acronyms read as words although they begin with two consonants, and those spelled in
# their own way.
ACRONYM_WORDS = frozenset({"мхат", "спид", "смерш", "мгимо", "сми", "загс", "гост", "тасс",
                           "гум", "цум"})
ACRONYM_SPELLINGS = {"сша": "сэ-шэ-а", "вднх": "вэ-дэ-эн-ха", "цска": "цэ-эс-ка"}
CYRILLIC_VOWELS = "аеёиоуыэюя"
_ACRONYM = re.compile(r"(?<![А-ЯЁа-яёA-Za-z])[А-ЯЁ]{2,5}(?![А-ЯЁа-яёA-Za-z])")


def expand_acronyms(text: str) -> str:
    """Capital-letter abbreviations that are spelled by their letters (no vowel, or two
    consonants first) become letter names; the others (ООН, НАТО, МИД) stay words. Not in
    a text with a longer word in capitals (a shouted sentence).

    >>> expand_acronyms("ФСБ, МГУ и США, но ООН и МИД")
    'эф-эс-бэ, эм-гэ-у и сэ-шэ-а, но ООН и МИД'
    """
    if re.search(r"[А-ЯЁ]{6,}", text):  # a word of capitals too long for an acronym
        return text

    def spoken(match: re.Match) -> str:
        word = match.group(0).lower()
        if word in ACRONYM_SPELLINGS:
            return ACRONYM_SPELLINGS[word]
        spelled = not any(ch in CYRILLIC_VOWELS for ch in word) or (
            word[0] not in CYRILLIC_VOWELS and word[1] not in CYRILLIC_VOWELS) or (
            len(word) > 3 and word[-1] not in CYRILLIC_VOWELS
            and word[-2] not in CYRILLIC_VOWELS)  # ГИБДД: no word ends so
        if not spelled or word in ACRONYM_WORDS:
            return match.group(0)
        return "-".join(name for name in (LETTER_NAMES[ch] for ch in word) if name)

    return _ACRONYM.sub(spoken, text)


# --------------------------------------------------------------------------- 8. Latin

# Latin words and names as Russian speakers say them.
LATIN_WORDS = {
    "new york": "нью-йорк", "iphone": "айфон", "ipad": "айпад", "python": "пайтон",
    "google": "гугл", "youtube": "ютуб", "facebook": "фейсбук", "twitter": "твиттер",
    "microsoft": "майкрософт", "apple": "эппл", "windows": "виндоус", "linux": "линукс",
    "android": "андроид", "samsung": "самсунг", "wi-fi": "вайфай", "wifi": "вайфай",
    "e-mail": "имейл", "email": "имейл", "online": "онлайн", "offline": "офлайн",
    "ok": "окей", "okay": "окей", "internet": "интернет", "tesla": "тесла",
    "amazon": "амазон", "netflix": "нетфликс", "telegram": "телеграм", "whatsapp": "вотсап",
    "skype": "скайп", "instagram": "инстаграм", "bluetooth": "блютус", "usb": "ю-эс-би",
    "pdf": "пэ-дэ-эф", "gps": "джи-пи-эс", "bmw": "бэ-эм-вэ", "java": "джава",
    "javascript": "джаваскрипт", "github": "гитхаб", "zoom": "зум", "yandex": "яндекс",
    "london": "лондон", "paris": "париж", "macbook": "макбук", "mac": "мак", "the": "зе",
    "and": "энд", "hello": "хэллоу", "world": "ворлд", "apple's": "эпплс", "nike": "найк",
    "adidas": "адидас", "coca-cola": "кока-кола", "pepsi": "пепси", "ikea": "икеа",
    "sony": "сони", "intel": "интел", "nvidia": "энвидиа", "chatgpt": "чат-джи-пи-ти",
    "it": "ай-ти", "ai": "эй-ай", "tv": "ти-ви", "dj": "ди-джей", "sms": "эс-эм-эс",
    "mp3": "эм-пэ-три", "html": "эйч-ти-эм-эль", "url": "ю-ар-эль", "api": "эй-пи-ай",
}
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9-])(?:" + "|".join(
    re.escape(w) for w in sorted(LATIN_WORDS, key=len, reverse=True)) + r")(?![A-Za-z0-9-])",
    re.IGNORECASE)


def expand_latin(text: str) -> str:
    """`LATIN_WORDS`, whole words, any capitalisation.

    >>> expand_latin("Купил iPhone в New York, пишу на Python")
    'Купил айфон в нью-йорк, пишу на пайтон'
    """
    return _LATIN_WORD.sub(lambda m: LATIN_WORDS[m.group(0).lower()], text)


# --------------------------------------------------------------------------- all

STEPS = (expand_times, expand_dates, expand_compounds, expand_roman, expand_units,
         expand_abbreviations, agree_numbers, expand_acronyms, expand_latin)

# What a text must hold for a step to have anything to do (most sentences have none of it).
_NEEDS = {
    expand_times: re.compile(r"\d:\d"), expand_dates: re.compile(r"\d"),
    expand_compounds: re.compile(r"\d[-/]"),
    expand_roman: re.compile(r"[IVXLCDM]"), expand_units: re.compile(r"[\d№]"),
    expand_abbreviations: re.compile(r"[А-ЯЁа-яё]\.|пр-т", re.IGNORECASE),
    agree_numbers: re.compile(r"\d"),
    expand_acronyms: re.compile(r"[А-ЯЁ]{2}"), expand_latin: re.compile(r"[A-Za-z]"),
}


def expand_special(text: str) -> str:
    """All the steps of this module, in order (see the module docstring).

    >>> expand_special("В 1961 г. 2 книги стоили 5 руб. 21 коп.")
    'В 1961 году две книги стоили пять рублей двадцать одна копейка.'
    """
    for step in STEPS:
        needs = _NEEDS.get(step)
        if needs is None or needs.search(text):
            text = step(text)
    return text
