"""Russian morphology for the front end: pymorphy3 and its dictionary (from PyPI), loaded
once, lazily (about 0.1 s), and what the text pass needs of it.

- `parses(word)`: the analyser's analyses of a word (`Parse`: lemma, grammemes, frequency),
  cached; the context pass (`context.py`) reads homographs with them;
- `agree_cardinals(text)`: a number read out in words takes the case its preposition and
  noun give it (с пять друзьями -> с пятью друзьями, к два часам -> к двум часам, за
  тысяча долларов -> за тысячу долларов), the last step of `normalize.normalize_text`.

Without pymorphy3 installed (it is a dependency, so only in a broken install) both log one
warning and leave the text as it was.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import NamedTuple

from .numbers import NUMBER_WORDS, SCALES

log = logging.getLogger(__name__)

CASES = {"nomn": "nomn", "gent": "gent", "gen1": "gent", "gen2": "gent", "datv": "datv",
         "accs": "accs", "acc2": "accs", "ablt": "ablt", "loct": "loct", "loc1": "loct",
         "loc2": "loct", "voct": "nomn"}
GENDERS = frozenset({"masc", "femn", "neut"})

# The cases each preposition governs (the rare ones left out: с неделю, удариться о стену,
# по колено).
PREPOSITION_CASES = {
    "без": "gent", "безо": "gent", "в": "accs loct", "во": "accs loct", "для": "gent",
    "до": "gent", "за": "accs ablt", "из": "gent", "изо": "gent", "из-за": "gent",
    "из-под": "gent", "к": "datv", "ко": "datv", "на": "accs loct", "над": "ablt",
    "надо": "ablt", "о": "loct", "об": "loct", "обо": "loct", "от": "gent",
    "ото": "gent", "по": "datv loct", "под": "accs ablt", "подо": "accs ablt",
    "при": "loct", "про": "accs", "с": "gent ablt", "со": "gent ablt", "у": "gent",
    "около": "gent", "после": "gent", "возле": "gent", "кроме": "gent", "среди": "gent",
    "через": "accs", "сквозь": "accs", "перед": "ablt", "между": "ablt gent",
    "вокруг": "gent", "мимо": "gent", "против": "gent", "вместо": "gent", "вдоль": "gent",
    "благодаря": "datv", "навстречу": "datv", "внутри": "gent", "ради": "gent",
    "насчёт": "gent", "посреди": "gent", "напротив": "gent", "более": "gent",
    "менее": "gent", "свыше": "gent", "порядка": "gent",
}
class Parse(NamedTuple):
    lemma: str
    tags: frozenset      # POS and grammemes, cases normalised (gen2 -> gent, loc2 -> loct)
    score: float

    @property
    def case(self) -> str | None:
        return next((t for t in self.tags if t in _CASE_SET), None)

    @property
    def number(self) -> str | None:
        return "plur" if "plur" in self.tags else "sing" if "sing" in self.tags else None

    @property
    def gender(self) -> str | None:
        return next((t for t in self.tags if t in GENDERS), None)

    @property
    def pos(self) -> str | None:
        return next((t for t in self.tags if t.isupper() and t in _POS), None)


_CASE_SET = frozenset(CASES.values())
_POS = frozenset({"NOUN", "ADJF", "ADJS", "COMP", "VERB", "INFN", "PRTF", "PRTS", "GRND",
                  "NUMR", "ADVB", "NPRO", "PRED", "PREP", "CONJ", "PRCL", "INTJ"})


@functools.cache
def analyzer():
    """The pymorphy3 analyser (loaded once), or None when it is not installed."""
    try:
        import pymorphy3
    except ImportError:
        log.warning("pymorphy3 is not installed: homographs are read without context and "
                    "numbers without case (pip install pymorphy3 pymorphy3-dicts-ru)")
        return None
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)  # no dictionary-loading chatter
    return pymorphy3.MorphAnalyzer()


@functools.lru_cache(maxsize=65536)
def parses(word: str) -> tuple[Parse, ...]:
    """The analyser's parses of a lowercase word, cases normalised; () without it."""
    morph = analyzer()
    if morph is None:
        return ()
    result = []
    for p in morph.parse(word):
        tags = {CASES.get(t, t) for t in p.tag.grammemes}
        result.append(Parse(p.normal_form, frozenset(tags), max(p.score, 1e-3)))
    return tuple(result)


# ----------------------------------------------------------------------- numbers in case

SCALE_FORMS = frozenset(form for forms, _ in SCALES.values() for form in forms)
CARDINAL_WORDS = frozenset(
    {w.nominative for w in NUMBER_WORDS.values()} | {"одна", "одно", "две"} | SCALE_FORMS)
_CARDINAL = "(?:" + "|".join(sorted(CARDINAL_WORDS, key=len, reverse=True)) + ")"
_CARDINAL_RUN = re.compile(
    rf"(?<![\w-])(?:(?P<prep>{'|'.join(sorted(PREPOSITION_CASES, key=len, reverse=True))})\s+)?"
    rf"(?:(?P<sign>плюс|минус)\s+)?"
    rf"(?P<number>{_CARDINAL}(?:\s+{_CARDINAL})*)\s+(?P<word>[а-яё]+)(?![\w-])")
OBLIQUE = ("datv", "ablt", "loct")
# Prepositions whose one case a counted noun in the genitive (тридцать градусов) must take
# as well: при тридцати градусах, к пяти килограммам, над двумя этажами.
NOUN_CASE_AFTER = {"к": "datv", "ко": "datv", "при": "loct", "о": "loct", "об": "loct",
                   "обо": "loct", "над": "ablt", "перед": "ablt", "благодаря": "datv"}
ONE_TWO = {"masc": ("один", "два"), "femn": ("одна", "две"), "neut": ("одно", "два")}


def _counted_case(preposition: str | None, word: str, one: bool = False
                  ) -> tuple[str, str | None] | None:
    """(case, gender) a cardinal takes from the preposition before it and the noun (or
    adjective) after it; None when they say nothing (or the word is a number itself).
    `one`: the number ends in один/одна/одно."""
    found = [p for p in parses(word) if p.pos in ("NOUN", "ADJF", "PRTF") and p.case]
    if not found or max(parses(word), key=lambda p: p.score) not in found or word in \
            CARDINAL_WORDS or any("Anum" in p.tags or p.pos == "NUMR" for p in parses(word)):
        return None
    allowed = set(PREPOSITION_CASES[preposition].split()) if preposition else set(OBLIQUE)
    best = max(found, key=lambda p: p.score)
    oblique = [p for p in found if p.case in OBLIQUE and p.case in allowed]
    if oblique and (preposition or len(oblique) == len(found)):
        best = max(oblique, key=lambda p: p.score)
        return best.case, best.gender
    if preposition is None:  # один минуту -> одну минуту: the noun shows the accusative
        if all(p.case == "accs" for p in found):
            return "accs", best.gender
        if one and any((p.case, p.number) == ("gent", "sing") for p in found) and not any(
                (p.case, p.number) == ("nomn", "sing") for p in found):
            return "gent", best.gender  # не хватает двадцати одной страницы
        return None
    if preposition in NOUN_CASE_AFTER:  # при тридцати градусах: the noun changes too
        return NOUN_CASE_AFTER[preposition], best.gender
    if allowed == {"gent"}:  # до двадцати одного процента, около трёх километров
        return "gent", best.gender
    if "gent" in allowed and any(p.case == "gent" for p in found):
        return "gent", best.gender
    if "accs" in allowed:
        return "accs", best.gender
    return None


def inflect_cardinal(words: list[str], case: str, gender: str | None) -> list[str]:
    """A cardinal's words (nominative) in `case`, one and two in the noun's `gender`:
    ``inflect_cardinal(["двадцать", "один"], "ablt", "femn") == ["двадцатью", "одной"]``."""
    morph = analyzer()
    if morph is None:
        return words
    result = []
    for index, word in enumerate(words):
        last = index == len(words) - 1
        if last and gender in ONE_TWO and word in ("один", "одна", "одно", "два", "две"):
            word = ONE_TWO[gender][word not in ("один", "одна", "одно")]
        if case == "accs" and word not in ("одна", "тысяча"):  # (inanimate)
            result.append(word)  # an inanimate accusative is the nominative
            continue
        candidates = sorted((p for p in morph.parse(word)
                             if {"NUMR", "NOUN", "ADJF"} & p.tag.grammemes),
                            key=lambda p: "NUMR" not in p.tag.grammemes)  # сто: the numeral
        if not candidates:
            return words
        wanted = {case}
        if word in SCALE_FORMS:
            wanted.add("sing" if word in ("тысяча", "миллион", "миллиард", "триллион") else "plur")
        inflected = candidates[0].inflect(wanted)
        result.append(inflected.word if inflected else word)
    return result


def inflect_word(word: str, grammemes: set[str]) -> str | None:
    """`word` (its analyser's first analysis) inflected to `grammemes`; None when it cannot
    be (or without the analyser): ``inflect_word("называемый", {"femn", "nomn", "sing"})``
    is ``"называемая"``."""
    morph = analyzer()
    inflected = morph.parse(word)[0].inflect({g for g in grammemes if g}) if morph else None
    return inflected.word if inflected else None


def _counted_noun(word: str, number: list[str], case: str, force: bool = False) -> str:
    """The counted noun in `case` when it is not in it yet (градусов -> градусах): singular
    after один, else plural. The genitive and accusative stay (пять градусов) unless
    `force`."""
    found = [p for p in analyzer().parse(word) if "NOUN" in p.tag.grammemes]
    one = number[-1].startswith(("одн", "один"))
    wanted = "sing" if one else "plur"
    if not found or (case in ("gent", "accs") and not force) or any(
            wanted in p.tag.grammemes and any(CASES.get(g) == case for g in p.tag.grammemes)
            for p in found):
        return word
    inflected = found[0].inflect({case, wanted})
    return inflected.word if inflected else word


def _after_transitive(match: re.Match) -> bool:
    """Whether the number is the object of the transitive verb before it: a plural, first-
    or second-person verb, or an infinitive (проехали тысячу километров); not one it may be
    the subject of (прошла одна минута, прошло пять лет)."""
    before = re.search(r"([а-яё]+)\s+$", match.string[max(0, match.start() - 30):match.start()])
    if before is None:
        return False
    verbs = [p for p in parses(before[1]) if "tran" in p.tags and p.pos in ("VERB", "INFN")]
    if sum(p.score for p in verbs) < 0.5:
        return False
    number_gender = "masc" if match["number"].split()[-1] in ("один", "два") else "femn" \
        if match["number"].split()[-1] in ("одна", "две", "тысяча") else None
    return all(p.pos == "INFN" or "plur" in p.tags or {"1per", "2per"} & p.tags or (
        "past" in p.tags and number_gender and p.gender in ("masc", "femn")
        and p.gender != number_gender)  # (прошло пять лет: the quantity is the subject)
        for p in verbs)


def agree_cardinals(text: str) -> str:
    """Numbers in words take the case of their preposition and noun (lowercase text, after
    numbers are read out).

    >>> agree_cardinals("с пять друзьями, к два часам, за тысяча долларов, за один минуту")
    'с пятью друзьями, к двум часам, за тысячу долларов, за одну минуту'
    """
    if not any(word in CARDINAL_WORDS for word in text.split()) or analyzer() is None:
        return text

    def agreed(match: re.Match) -> str:
        last = match["number"].split()[-1]
        found = _counted_case(match["prep"], match["word"], last in ("один", "одна", "одно"))
        rest = match.string[match.end():match.end() + 4]
        if match["prep"] == "в" and rest.startswith(" от"):  # в пяти километрах от города
            found = ("loct", None)
        elif found is None and match["prep"] is None and _after_transitive(match):
            nouns = [p for p in parses(match["word"]) if p.pos == "NOUN"]
            found = ("accs", nouns[0].gender if nouns else None)  # проехали тысячу километров
        if found is None or found[0] == "nomn":
            return match.group(0)
        words = inflect_cardinal(match["number"].split(), *found)
        prep = f"{match['prep']} " if match["prep"] else ""
        prep += f"{match['sign']} " if match["sign"] else ""
        # одну тонну; около трёх километра -> километров: these noun forms change too
        force = (found[0] == "accs" and words[-1] == "одну") or (
            found[0] == "gent" and bool(match["prep"]))
        return f"{prep}{' '.join(words)} {_counted_noun(match['word'], words, found[0], force)}"

    return _CARDINAL_RUN.sub(agreed, text)
