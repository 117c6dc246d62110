"""The phrase pass: clitics are read unstressed, in one phonological word with their host.

Read word by word, `на столе` would be [ˈna stəlʲˈe]: two stresses and a full vowel in на. A
Russian speaker says it as one word, [nə stəlʲe]: prepositions, не and ни, the conjunctions
и, а, но (*proclitics*) lean on the next word, and the particles же, бы, ли (*enclitics*) on
the previous one. Within such a phonological word (`phonological_words`):

- the clitic has no stress of its own (``StressInfo(position=-1, source="clitic")``, no 1
  among the stress flags), and its vowels are reduced by their distance from the host's
  stress, as inside one word: на столе [nə stəlʲe], не знаю [nʲɪ znajʊ];
- voicing assimilates across the joint, and the clitic's final consonant is not devoiced
  before a voiced one: из дома [iz domə], от дома [ad domə], брат же [brad ʒɨ];
- the host still begins a word: е ё ю я keep their j (в ёлку [v jolku]), a consonant before
  the joint stays hard (с ним [s nʲim]), and и after it reads ы (в Италии [v ɨtalʲiɪ]).

A few fixed phrases move the stress onto the preposition and off the noun (на́ пол, за́
город, по́ полю, не́ был): `STRESSED_PROCLITIC_PHRASES`; both words get ``source ==
"phrase"``. A stress mark written on a clitic (``н+а``) keeps it stressed.

The per-word readings stay cached (`RussianPhonemeProcessor._read_word`); this pass only
re-sounds the groups that have a clitic, so it is cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from .lexicon import count_vowels
from .phonemes import WORD_JOINT, PhonemeRules, Token, sound, word_starts
from .stress import StressInfo, split_stress_marks

# Words that lean on the next word. Prepositions of one syllable (or none) and their -о
# forms, the particles не and ни, the conjunctions и, а, но. Two-syllable prepositions
# (через, перед, между, около) keep a stress of their own and are not here.
PROCLITICS = frozenset({
    "без", "безо", "в", "во", "для", "до", "за", "из", "изо", "из-за", "из-под", "к", "ко",
    "на", "над", "надо", "о", "об", "обо", "от", "ото", "по", "под", "подо", "пред", "при",
    "про", "с", "со", "у", "сквозь",
    "не", "ни",
    "и", "а", "но",
})

# Words that lean on the previous word.
ENCLITICS = frozenset({"же", "ж", "бы", "б", "ли", "ль"})

# Preposition + word pairs read with the stress on the preposition (на́ пол), from the
# normative dictionaries; the word after it is then unstressed.
STRESSED_PROCLITIC_PHRASES = frozenset({
    ("на", "пол"), ("на", "зиму"), ("на", "ночь"), ("на", "день"), ("на", "год"),
    ("на", "нос"), ("на", "гору"), ("на", "руку"), ("на", "ногу"), ("на", "спину"),
    ("на", "берег"), ("на", "сторону"), ("на", "два"), ("на", "три"), ("на", "сто"),
    ("на", "руки"), ("на", "ноги"), ("на", "смех"), ("на", "слово"), ("на", "ухо"),
    ("на", "душу"), ("на", "дом"), ("на", "бок"), ("на", "воду"), ("на", "плечи"),
    ("на", "ум"), ("на", "мель"), ("на", "лоб"),
    ("за", "город"), ("за", "городом"), ("за", "руку"), ("за", "ногу"), ("за", "голову"),
    ("за", "ночь"), ("за", "год"), ("за", "зиму"), ("за", "два"), ("за", "три"),
    ("за", "борт"), ("за", "руки"), ("за", "уши"), ("за", "ухо"), ("за", "нос"),
    ("за", "спину"), ("за", "волосы"),
    ("по", "полю"), ("по", "морю"), ("по", "лесу"), ("по", "полу"), ("по", "два"),
    ("по", "три"), ("по", "сто"), ("по", "носу"),
    ("под", "гору"), ("под", "ноги"), ("под", "руку"), ("под", "руки"), ("под", "вечер"),
    ("под", "нос"),
    ("из", "дому"), ("из", "лесу"), ("из", "виду"), ("из", "носу"),
    ("без", "вести"), ("без", "толку"), ("без", "спросу"), ("без", "году"),
    ("до", "смерти"), ("до", "дому"), ("до", "полу"), ("до", "верху"), ("до", "низу"),
    ("от", "роду"), ("со", "смеху"), ("со", "страху"),
    ("не", "был"), ("не", "было"), ("не", "были"), ("не", "жил"), ("не", "жило"),
    ("не", "жили"), ("не", "дал"), ("не", "дало"), ("не", "дали"), ("не", "пил"),
    ("не", "пило"), ("не", "пили"),
})
# не́ за что, не́ с кем, не́ о чем: не takes the stress before a preposition and a form of
# кто or что, and the preposition stays unstressed.
NE_PRONOUNS = frozenset({"что", "чего", "чему", "чем", "чём", "кто", "кого", "кому", "кем",
                         "ком"})

# What the per-word pass knows of a word: spelled letters (rules 1-4), stressed syllable
# (-1: no vowel) and the stress source.
Reading = tuple[str, int, str]


def phonological_words(words: list[str | None], marked: list[bool]) -> list[tuple[int, int, int]]:
    """Groups of token indices ``(start, host, end)``: proclitics ``start..host-1``, the host,
    enclitics ``host+1..end-1``. `words` holds each token's lowercase word (None for
    punctuation, which no group crosses); a `marked` word is never a clitic.

    >>> phonological_words(["и", "не", "знаю", None, "он", "же"], [False] * 6)
    [(0, 2, 3), (4, 4, 6)]
    """
    groups, i, n = [], 0, len(words)
    while i < n:
        if words[i] is None:
            i += 1
            continue
        start = i
        while i + 1 < n and words[i] in PROCLITICS and not marked[i] and words[i + 1] is not None:
            i += 1
        host, i = i, i + 1
        while i < n and words[i] in ENCLITICS and not marked[i]:
            i += 1
        groups.append((start, host, i))
    return groups


def read_phrases(tokens: list[Token], spelled: list[str],
                 read: Callable[[int], Reading], rules: PhonemeRules) -> None:
    """The phrase pass over a text's tokens, in place: every group with a clitic is sounded
    as one word (`read_group`). `spelled[i]` is token i as written (stress marks kept, or
    the reading the context pass chose); `read(i)` gives token i's `Reading`."""
    words, marked = [], []
    for (word, _, info), written in zip(tokens, spelled, strict=True):
        words.append(None if info is None else word)
        marked.append(info is not None and split_stress_marks(written)[1] is not None)
    for start, host, end in phonological_words(words, marked):
        if end - start < 2:
            continue
        readings = [read(i) for i in range(start, end)]
        if readings[host - start][1] < 0:  # a host without a vowel (a lone в): leave it
            continue
        pair = (words[host - 1], words[host]) if host > start else None
        stressed = host - start - 1 if pair in STRESSED_PROCLITIC_PHRASES else host - start
        if host - start >= 2 and words[host - 2] == "не" and words[host] in NE_PRONOUNS:
            stressed = host - start - 2
        read_tokens = read_group(readings, host - start, stressed, rules)
        for offset, (phonemes, info) in enumerate(read_tokens):
            tokens[start + offset] = (tokens[start + offset][0], phonemes, info)


def read_group(readings: list[Reading], host: int, stressed: int, rules: PhonemeRules
               ) -> list[tuple[tuple[str, ...], StressInfo]]:
    """One phonological word: the members' spelled letters joined by `WORD_JOINT`, sounded
    with the stress of member `stressed` (the `host`, or the preposition of a fixed
    phrase), then cut back into the members' phonemes and stress infos."""
    letters = [spelling for spelling, _, _ in readings]
    syllables = [count_vowels(spelling) for spelling in letters]
    stressed_syllable = sum(syllables[:stressed]) + max(readings[stressed][1], 0)
    joined = WORD_JOINT.join(letters)
    phonemes, vowels = sound(joined, stressed_syllable, rules)
    bounds = [0, *sorted(word_starts(joined, rules)), len(phonemes)]  # each member's share
    stressed_vowel = vowels[stressed_syllable][0] if stressed_syllable < len(vowels) else -1
    result = []
    for member, (begin, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        piece = tuple(phonemes[begin:end])
        if member == stressed:
            source = "phrase" if stressed != host else readings[member][2]
            position = readings[member][1] if member == host else 0
            info = StressInfo(position, stressed_vowel - begin, source == "marked", source)
        else:
            info = StressInfo(-1, -1, False, "phrase" if member == host else "clitic")
        result.append((piece, info))
    return result
