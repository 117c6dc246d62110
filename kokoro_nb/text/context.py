"""Stress from context: homographs read by their neighbours.

Word by word, `руки` has one reading, whatever the sentence. In running text it has two:
ру́ки (plural: мыть ру́ки, ру́ки болят) and руки́ (genitive singular: нет руки́, из руки́).
This pass decides such words from the sentence, with a real morphological analyser
(pymorphy3 and its Russian dictionary) for the neighbours' case, number, gender and part of
speech:

- `homographs()` is the table (``data/homographs.tsv``): each form's readings, each with the
  analysis that has it (lemma and grammemes: ``р+уки`` = plural, ``рук+и`` = singular) and,
  where the analyser cannot tell the readings apart (за́мок, замо́к), cue words;
- each analysis of the word (the analyser's parses, weighted by its corpus frequencies) is
  scored against the context (`Context`): the case a preposition governs (из руки́), a
  numeral (две руки́, пять рек), нет and не было (нет руки́), agreement with the adjectives
  before it (открытые о́кна) and with a verb after it as its subject (о́кна выходили во
  двор), a verb before it (мыл ру́ки), a subject before a verb form (солнце село́);
- a reading's score is the sum of its analyses' scores, times its cue words found in the
  sentence; the best reading wins, and `Decision.reason` says why;
- всё and все (the text rarely writes ё) and у́же / уже́ have rules of their own.

The processor runs this pass before the phrase pass, for the words in the table only
(`PhonemeRules.context_stress`); the decided words get ``StressInfo.source == "context"``.
The analyser loads once, lazily, in about 0.1 s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from .lexicon import _read_data
from .morph import PREPOSITION_CASES, Parse, analyzer, parses
from .normalize import is_word

HOMOGRAPH_FILE = "homographs.tsv"

COUNT_WORDS = frozenset({"два", "две", "три", "четыре", "оба", "обе", "полтора", "полторы"})
# Words after which a noun is genitive: quantities and нет.
GENITIVE_WORDS = frozenset({
    "нет", "нету", "много", "мало", "несколько", "сколько", "столько", "немало", "немного",
    "больше", "меньше", "полно", "множество", "большинство", "часть", "около",
})
NEGATED_BE = frozenset({"было", "будет", "осталось", "оказалось", "стало", "хватает",
                        "хватило", "найти", "видно"})
SUBJECT_PRONOUNS = {  # pronoun -> (person, number, gender or None)
    "я": ("1per", "sing", None), "ты": ("2per", "sing", None), "он": ("3per", "sing", "masc"),
    "она": ("3per", "sing", "femn"), "оно": ("3per", "sing", "neut"),
    "мы": ("1per", "plur", None), "вы": ("2per", "plur", None), "они": ("3per", "plur", None),
    "кто": ("3per", "sing", "masc"),
}
# Words skipped between a verb and its subject (он уже не плачет) or before a noun.
SKIPPED = frozenset({"не", "же", "ли", "бы", "уже", "ещё", "еще", "тоже", "также", "даже",
                     "только", "всё", "вдруг", "снова", "опять", "всегда", "никогда", "очень",
                     "так", "там", "тут", "здесь", "потом", "тогда", "давно", "сразу"})
SENTENCE_ENDS = frozenset(".!?…;")
# Nouns in the instrumental that say when (весной реки разливаются), not whose.
TIME_NOUNS = frozenset({"весной", "летом", "осенью", "зимой", "утром", "вечером", "днём",
                        "днем", "ночью", "порой", "временами", "разом"})
# Verbs whose object is genitive: ждать зимы́, бояться грозы́.
GENITIVE_VERBS = frozenset({
    "ждать", "дождаться", "ожидать", "бояться", "испугаться", "желать", "пожелать", "хотеть",
    "захотеть", "достичь", "достигнуть", "добиться", "избегать", "избежать", "требовать",
    "потребовать", "касаться", "коснуться", "лишиться", "лишить", "стесняться", "опасаться",
    "придерживаться", "заслуживать", "искать",
})
# Words after which an infinitive is expected: можно вести́, трудно вести́ себя.
MODAL_WORDS = frozenset({"можно", "нельзя", "нужно", "надо", "пора", "трудно", "легко",
                         "сложно", "важно", "необходимо", "невозможно", "стоит", "лучше",
                         "решил", "решила", "начал", "начала", "умеет", "умею"})
# How much the analyser's corpus frequencies of a word's analyses count against the context:
# their square root, so the context decides more often than a skewed frequency.
PRIOR_WEIGHT = 0.5


@dataclass(frozen=True)
class Reading:
    stressed: str            # the word with + before its stressed vowel (or with ё)
    lemma: str               # the analyser's normal form, "*" for any
    tags: frozenset          # grammemes an analysis must have; "@count": after 2, 3, 4
    cues: frozenset          # lemmas in the sentence that point to this reading

    def matches(self, parse: Parse) -> bool:
        return (self.lemma in ("*", parse.lemma)
                and (self.tags - {"@count"}) <= parse.tags)


@dataclass(frozen=True)
class Decision:
    """One homograph decided from its sentence: token `index`, `word` as written, the
    reading (`stressed`, + before the stressed vowel) and why (`reason`)."""

    index: int
    word: str
    stressed: str
    reason: str


@functools.cache
def homographs() -> dict[str, tuple[Reading, ...]]:
    """The homograph table: form -> its readings, the default first."""
    table: dict[str, list[Reading]] = {}
    for line in _read_data(HOMOGRAPH_FILE).decode("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t") + [""]
        form, stressed, lemma, tags, cues = fields[:5]
        table.setdefault(form, []).append(Reading(
            stressed, lemma, frozenset(tags.split(",")), frozenset(cues.split())))
    return {form: tuple(readings) for form, readings in table.items()}


def _has(word: str, pos: str, share: float = 0.3) -> bool:
    """Whether the analyses of `word` with part of speech `pos` weigh at least `share`."""
    return sum(p.score for p in parses(word) if pos in p.tags) >= share


def agrees(subject: Parse, verb: Parse) -> bool:
    """Whether a nominative `subject` agrees with a finite `verb` (or short adjective)."""
    if subject.number != verb.number and verb.number is not None:
        return False
    if "past" in verb.tags or verb.pos in ("ADJS", "PRTS"):
        if verb.number == "sing" and subject.gender and verb.gender:
            return subject.gender == verb.gender
        return True
    person = next((t for t in verb.tags if t.endswith("per")), None)
    subject_person = next((t for t in subject.tags if t.endswith("per")), "3per")
    return person is None or person == subject_person


def agrees_attribute(modifier: Parse, noun: Parse) -> bool:
    """Whether an adjective-like `modifier` agrees with `noun` in case, number, gender."""
    if modifier.case != noun.case or modifier.number != noun.number:
        return False
    if noun.number == "sing" and modifier.gender and noun.gender:
        return modifier.gender == noun.gender
    return True


def _pronoun_parse(word: str) -> Parse | None:
    found = SUBJECT_PRONOUNS.get(word)
    if found is None:
        return None
    person, number, gender = found
    return Parse(word, frozenset(t for t in (person, number, gender, "nomn", "NPRO") if t), 1.0)


def _is_numeral(word: str) -> bool:
    """A cardinal of five or more (пять, двадцать, сто): the noun after it is genitive."""
    return any(p.pos == "NUMR" and p.lemma not in COUNT_WORDS | {"один", "два"}
               for p in parses(word))


def _previous(words: list[str], i: int) -> tuple[str | None, int, list[str]]:
    """The nearest word left of `i` in its clause that governs it (its head), its index,
    and the adjective-like words skipped on the way (which must agree with word `i`)."""
    modifiers, j = [], i - 1
    while j >= 0 and is_word(words[j]):
        word = words[j]
        if word in PREPOSITION_CASES or word in COUNT_WORDS or word in GENITIVE_WORDS:
            return word, j, modifiers
        if word in SKIPPED or word in ("его", "её", "ее", "их", "самый", "совсем", "весьма"):
            j -= 1
            continue
        if sum(p.score for p in parses(word) if p.pos in ("ADJF", "PRTF")) >= 0.25:
            modifiers.append(word)
            j -= 1
            continue
        return word, j, modifiers
    return None, j, modifiers


def _next(words: list[str], i: int, skip: frozenset = SKIPPED) -> str | None:
    """The first word right of `i` in its clause, past the particles and adverbs in `skip`."""
    for word in words[i + 1:i + 5]:
        if not is_word(word):
            return None
        if word not in skip:
            return word
    return None


Constraint = tuple[str, Callable[[Parse], float]]


def _head_constraint(words: list[str], i: int, head: str | None, j: int) -> list[Constraint]:
    """What the word on the left that governs word `i` says about its analysis."""
    if head is None:
        return []
    if head in PREPOSITION_CASES:
        cases = frozenset(PREPOSITION_CASES[head].split())
        return [(f"after the preposition «{head}»", lambda p: 1.0 if p.case in cases else 0.03)]
    if head in COUNT_WORDS:
        return [(f"after «{head}»",
                 lambda p: 1.0 if (p.case, p.number) == ("gent", "sing") else 0.05)]
    negated = head in NEGATED_BE and j > 0 and words[j - 1] == "не"
    if head in GENITIVE_WORDS or negated or _is_numeral(head):
        said = f"не {head}" if negated else head
        return [(f"after «{said}»", lambda p: 1.0 if p.case == "gent" else 0.05)]
    pronoun = _pronoun_parse(head)
    if pronoun is not None:
        verb = any(p.pos == "VERB" and agrees(pronoun, p) for p in parses(words[i]))
        return [(f"after the subject «{head}»", lambda p: (1.0 if agrees(pronoun, p) else 0.3)
                 if p.pos == "VERB" else 0.01 if verb else 0.15)]
    verb_head = (_has(head, "VERB", 0.5) or _has(head, "INFN", 0.5) or _has(head, "PRED", 0.5)
                 or head in MODAL_WORDS)
    if verb_head and any(p.pos == "INFN" for p in parses(words[i])):
        return [(f"an infinitive after «{head}»", lambda p: 1.0 if p.pos == "INFN" else 0.2)]
    if verb_head:
        if not _has(head, "tran", 0.3):
            verbs = [p for p in parses(head) if p.pos == "VERB"]
            subject = [p for p in parses(words[i]) if p.case == "nomn"
                       and any(agrees(p, v) for v in verbs)]
            return [(f"the subject of «{head}» before it", lambda p: 1.0 if p in subject else
                     0.3)] if subject else []
        negated = j > 0 and words[j - 1] == "не"
        genitive = any(p.lemma in GENITIVE_VERBS for p in parses(head))
        factors = {"accs": 0.5 if genitive else 0.7 if negated else 1.0,
                   "gent": 1.0 if genitive or negated else 0.3, "nomn": 0.6}
        return [(f"the object of «{head}»",
                 lambda p: factors.get(p.case, 0.3) if p.case else 1.0)]
    if _has(head, "NOUN", 0.5) and head not in TIME_NOUNS:
        subjects = [p for p in parses(head) if p.pos == "NOUN" and p.case == "nomn"]
        predicate = any(p.pos == "VERB" and agrees(s, p) for p in parses(words[i])
                        for s in subjects)  # солнце село: a verb agreeing with its subject

        def after_noun(p: Parse) -> float:
            if p.pos == "VERB":
                return 1.0 if any(agrees(s, p) for s in subjects) else 0.3
            if p.case:  # else a genitive after a noun: смысл сло́ва
                return (0.5 if p.case == "gent" else 0.15) if predicate else (
                    1.0 if p.case == "gent" else 0.2)
            return 1.0
        return [(f"after «{head}»", after_noun)]
    return []


def _agreement_constraints(words: list[str], i: int, modifiers: list[str], head: str | None
                           ) -> list[Constraint]:
    """Adjectives before the word, and a verb or noun after it, that it must agree with."""
    found: list[Constraint] = []
    if modifiers:
        groups = [[p for p in parses(m) if p.pos in ("ADJF", "PRTF")] for m in modifiers]
        found.append((f"agrees with «{modifiers[0]}»", lambda p: 1.0 if all(
            any(agrees_attribute(m, p) for m in group) for group in groups if group) else 0.05))
    after = _next(words, i)
    if after in ("нет", "нету") or (after == "не" and _next(words, i + 1, frozenset()) in
                                    NEGATED_BE):
        found.append((f"before «{after}»", lambda p: 1.0 if p.case == "gent" else 0.2))
        return found
    own = parses(words[i])
    predicate = _predicate_after(words, i)
    if predicate is not None:
        verbs = [p for p in parses(predicate) if p.pos in ("VERB", "ADJS", "PRTS")
                 and "impr" not in p.tags and p.score >= 0.1]
        subjects = [p for p in own if p.case == "nomn" and any(agrees(p, v) for v in verbs)]
        taken = head is not None and any(  # жители острова живут: the subject came before
            p.case == "nomn" and p.pos in ("NOUN", "NPRO") and any(agrees(p, v) for v in verbs)
            for p in parses(head) + ((_pronoun_parse(head),) if head in SUBJECT_PRONOUNS else ()))
        if subjects and not taken:
            found.append((f"the subject of «{predicate}»",
                          lambda p: 1.0 if p in subjects else 0.1 if p.case == "nomn" else 0.15))
    if any(p.pos == "ADJF" for p in own):
        following = _noun_after(words, i)
        nouns = [p for p in parses(following) if p.pos == "NOUN"] if following else []
        agreed = [p for p in own if p.pos == "ADJF" and any(agrees_attribute(p, n)
                                                            for n in nouns)]
        said = f"agrees with «{following}»" if agreed else "no noun after it to agree with"
        found.append((said, lambda p: (1.0 if p in agreed else 0.1) if p.pos == "ADJF" else (
            0.1 if agreed else 1.0)))
    following = words[i + 1] if i + 1 < len(words) and is_word(words[i + 1]) else None
    genitive = bool(following) and _has(following, "gent", 0.5) and _has(following, "NOUN", 0.5)
    if any(p.pos == "NUMR" for p in own) and any(p.pos == "NOUN" for p in own):
        # сорок минут: a number before its noun
        found.append((f"before «{following}»" if genitive else "no noun counted after it",
                      lambda p: (1.0 if p.pos == "NUMR" else 0.2) if genitive else (
                          0.3 if p.pos == "NUMR" else 1.0)))
    if genitive and any(p.pos == "ADVB" for p in own) and any(p.pos == "NOUN" for p in own):
        # верхом глупости: a noun with its genitive, not the adverb
        found.append((f"before the genitive «{following}»",
                      lambda p: 0.2 if p.pos == "ADVB" else 1.0))
    return found


def _noun_after(words: list[str], i: int) -> str | None:
    """The word after `i` that an adjective `i` would agree with, past coordinated
    adjectives (жаркое и пыльное путешествие)."""
    j = i + 1
    while j < len(words) and is_word(words[j]) or (j < len(words) and words[j] == ","):
        word = words[j]
        if word in ("и", "или", ",") or _has(word, "ADJF", 0.5):
            j += 1
            continue
        return word
    return None


def _predicate_after(words: list[str], i: int) -> str | None:
    """The verb (or short adjective) that word `i` may be the subject of: the first one to
    its right in the clause, within six words, past genitives, adverbs and prepositional
    phrases (окна нашей квартиры выходят на юг)."""
    for word in words[i + 1:i + 7]:
        if not is_word(word):
            return None
        if word in SKIPPED or word in PREPOSITION_CASES:
            continue
        if _has(word, "VERB", 0.3) or _has(word, "ADJS", 0.3) or _has(word, "PRTS", 0.3):
            return word if not _has(word, "INFN", 0.5) else None
    return None


def _sentence_lemmas(words: list[str], i: int) -> set[str]:
    """The words of the sentence around token `i` and their lemmas (for cue words)."""
    start = i
    while start > 0 and not (set(words[start - 1]) & SENTENCE_ENDS):
        start -= 1
    end = i
    while end + 1 < len(words) and not (set(words[end + 1]) & SENTENCE_ENDS):
        end += 1
    lemmas: set[str] = set()
    for word in words[start:end + 1]:
        if is_word(word) and word != words[i]:
            lemmas.add(word)
            lemmas.update(p.lemma for p in parses(word))
    return lemmas


def _tells_apart(rule: Callable[[Parse], float], matching: list[list[Parse]]) -> bool:
    """Whether a context rule weighs the readings (their matching analyses) differently:
    the frequency-weighted mean of its factor differs by more than half between two."""
    means = [sum(p.score * rule(p) for p in m) / sum(p.score for p in m)
             for m in matching if m]
    return bool(means) and max(means) > 1.5 * min(means)


def score_readings(words: list[str], i: int, readings: tuple[Reading, ...]
                   ) -> tuple[dict[str, float], list[str]]:
    """Each reading's score (its analyses' frequencies times the context factors, times its
    cue words) and the context that counted."""
    own = parses(words[i])
    head, j, modifiers = _previous(words, i)
    constraints = (_head_constraint(words, i, head, j)
                   + _agreement_constraints(words, i, modifiers, head))
    counted = head in COUNT_WORDS and any("@count" in r.tags for r in readings)
    lemmas = _sentence_lemmas(words, i) if any(r.cues for r in readings) else set()
    scores: dict[str, float] = {}
    matching = [[p for p in own if r.matches(p)] for r in readings]
    reasons = [reason for reason, rule in constraints if _tells_apart(rule, matching)]
    if counted:
        reasons.append(f"the count form after «{head}»")
    elif any("@count" in r.tags for r in readings):
        reasons.append("not after два, три, четыре")
    for reading in readings:
        # After два, три, четыре the count form stands for the genitive singular.
        if ("@count" in reading.tags and not counted) or (counted and "sing" in reading.tags):
            continue
        prior = weighted = 0.0
        for parse in own:
            if reading.matches(parse):
                factor = parse.score
                for _, rule in constraints:
                    factor *= rule(parse)
                prior, weighted = prior + parse.score, weighted + factor
        # The context's mean factor over the reading's analyses, times its flattened prior.
        total = weighted / prior * prior ** PRIOR_WEIGHT if prior else 0.0
        cues = sorted(reading.cues & lemmas)
        if cues:
            total *= 1 + 3 * len(cues)
            reasons.append(f"«{cues[0]}» in the sentence")
        if total > 0:
            scores[reading.stressed] = max(scores.get(reading.stressed, 0.0), total)
    return scores, reasons


def decide_homograph(words: list[str], i: int) -> Decision | None:
    """The reading of table homograph `words[i]` in its sentence, or None when nothing in
    the sentence tells (the lexicon's reading stands)."""
    word = words[i]
    special = SPECIAL_RULES.get(word)
    if special is not None:
        found = special(words, i)
        if found is not None:
            return Decision(i, word, *found)
    readings = homographs()[word]
    scores, reasons = score_readings(words, i, readings)
    if not scores or not reasons:  # nothing in the sentence tells: the lexicon's reading
        return None
    best = max(scores.values())
    stressed = next(r.stressed for r in readings if scores.get(r.stressed) == best)
    return Decision(i, word, stressed, "; ".join(reasons))


def decide(words: list[str]) -> list[Decision]:
    """Context decisions for the homographs among a text's tokens (lowercase words and
    punctuation). Empty when there are none, or without the analyser."""
    table = homographs()
    found = [i for i, word in enumerate(words) if word in table or word in SPECIAL_RULES]
    if not found or analyzer() is None:
        return []
    decisions = (decide_homograph(words, i) for i in found)
    return [d for d in decisions if d is not None]


# ----------------------------------------------------------------------- rules of their own


def _plural_share(word: str) -> float:
    return sum(p.score for p in parses(word) if p.number == "plur")


def vse(words: list[str], i: int) -> tuple[str, str]:
    """всё or все for a `все` in the text (ё is rarely printed): все before a plural word
    (все люди, все пришли, все эти) and after a plural pronoun or verb (мы все, пришли
    все); всё before a singular verb or predicate (все было хорошо, я все понял, все ясно),
    in fixed phrases (все равно, все ещё, вот и все), and where nothing says otherwise."""
    after = _next(words, i, frozenset({"же", "ли", "бы"}))
    before = words[i - 1] if i > 0 and is_word(words[i - 1]) else None
    if after in ("равно", "ещё", "еще", "это", "то", "что", "таки", "время", "подряд"):
        return "всё", f"«все {after}»"
    if after is None and i + 2 < len(words) and words[i + 1] == "," and words[i + 2] == "кто":
        return "все", "«все, кто»"
    if before in ("мы", "вы", "они", "их", "нас", "вас") or after in ("как", "вместе"):
        return "все", f"«{before} все»" if after not in ("как", "вместе") else f"«все {after}»"
    if after in PREPOSITION_CASES:  # все в доме было ...: the word after the phrase
        after = _predicate_after(words, i)
    if after is not None:
        nominal = [p for p in parses(after) if p.pos in ("NOUN", "ADJF", "PRTF", "NPRO")]
        verbal = [p for p in parses(after) if p.pos in ("VERB", "ADJS", "PRTS")]
        if any(p.number == "plur" for p in nominal + verbal) and not any(
                "neut" in p.tags and p.number == "sing" and p.score > 0.3 for p in nominal):
            return "все", f"before the plural «{after}»"
        if verbal or nominal or _has(after, "COMP", 0.3) or _has(after, "ADVB", 0.3) \
                or _has(after, "PRED", 0.3):
            return "всё", f"before the singular «{after}»"
    if before is not None and _plural_share(before) >= 0.5 and _has(before, "VERB", 0.5) \
            and not _has(before, "tran", 0.5):
        return "все", f"after the plural «{before}»"
    return "всё", "всё unless a plural word is next to it"


def uzhe(words: list[str], i: int) -> tuple[str, str]:
    """у́же (narrower) before чем or after гораздо, намного, ...; else уже́ (already)."""
    after = next((w for w in words[i + 1:i + 3] if w != ","), None)
    before = words[i - 1] if i > 0 else None
    if after == "чем" or before in ("гораздо", "намного", "значительно", "чуть", "вдвое",
                                     "немного", "куда", "несколько"):
        return "+уже", "comparative (у́же чем)"
    becomes = before is not None and is_word(before) and any(
        p.lemma in ("становиться", "стать") for p in parses(before))
    if becomes and (after is None or not is_word(after)):
        return "+уже", f"comparative after «{before}»"
    return "уж+е", "the adverb (no comparison)"


PLACE_PREPOSITIONS = frozenset({"на", "в", "у", "около", "возле", "рядом", "перед", "под",
                                "над", "за", "посреди", "среди", "между", "напротив", "во"})


def stoit(words: list[str], i: int) -> tuple[str, str] | None:
    """сто́ит before an infinitive, ли or an amount; стои́т before a place; else the table."""
    after = _next(words, i, frozenset({"не", "же"}))
    if after is None:
        return None if i + 1 < len(words) and words[i + 1] != "," else (
            "ст+оит", "at the end: worth it")
    if after == "ли" or _has(after, "INFN", 0.5):
        return "ст+оит", f"before «{after}» (worth doing)"
    if _is_numeral(after) or after in COUNT_WORDS or after in ("один", "одна", "тысяча"):
        return "ст+оит", f"before the amount «{after}»"
    if after in PLACE_PREPOSITIONS:
        return "сто+ит", f"before the place «{after} ...»"
    before = [w for w in words[max(0, i - 3):i] if is_word(w)]
    if any(w in PLACE_PREPOSITIONS for w in before):
        return "сто+ит", "after a place"
    return None


SPECIAL_RULES: dict[str, Callable[[list[str], int], tuple[str, str] | None]] = {
    "все": vse, "уже": uzhe, "стоит": stoit,
}
