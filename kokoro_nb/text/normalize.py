"""Text normalisation and tokenisation for the Russian front end.

`normalize_text` turns raw text into a lowercase string of Cyrillic words (with any stress
marks kept) and a small set of punctuation marks; `tokenize` splits that string into word
and punctuation tokens. The steps, in order:

1. Unicode NFC, so a decomposed ``е + ◌̈`` becomes ``ё`` and ``и + ◌̆`` becomes ``й``.
2. ``2+2`` reads as "два плюс два"; times, dates, Roman numerals, units and symbols,
   abbreviations, acronyms and known Latin words are said as words
   (`expansions.expand_special`); then the other numbers (`numbers.expand_numbers`).
3. Lowercase; a number read out takes the case its preposition and noun give it (с пятью
   друзьями, за тысячу долларов: `morph.agree_cardinals`, with pymorphy3).
4. Words that mix Latin and Cyrillic letters get their Latin look-alikes mapped
   (``мoлoкo`` typed with Latin ``o``); purely Latin words are transliterated letter by
   letter, an approximation that at least lets the model say something.
5. Punctuation is reduced to the pause-bearing marks ``, . ! ? … — : ;``; quotes vanish,
   brackets become commas, anything else (emoji, symbols) becomes a space.

Pure Python: no torch or numpy here.
"""

from __future__ import annotations

import re
import unicodedata

from .lexicon import VOWELS
from .expansions import expand_special
from .morph import agree_cardinals
from .numbers import expand_numbers

STRESS_MARKS = "\u0301\u0300\u0341"  # combining acute, combining grave, combining acute tone mark
CYRILLIC_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
PUNCTUATION = ",.!?…—:;"

# Latin letters that look like Cyrillic ones (after lowercasing): used inside mixed words.
LATIN_LOOKALIKES = {
    "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "k": "к", "m": "м",
    "o": "о", "p": "р", "t": "т", "x": "х", "y": "у",
}

# A rough reading of Latin spelling in Russian letters, digraphs first.
LATIN_DIGRAPHS = {"sh": "ш", "ch": "ч", "zh": "ж", "th": "т", "ph": "ф", "kh": "х",
                  "ts": "ц", "oo": "у", "ee": "и", "ck": "к", "qu": "кв"}
LATIN_LETTERS = {
    "a": "а", "b": "б", "c": "к", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х",
    "i": "и", "j": "дж", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п",
    "q": "к", "r": "р", "s": "с", "t": "т", "u": "у", "v": "в", "w": "в", "x": "кс",
    "y": "и", "z": "з",
}

_LETTER_RUN = re.compile(r"[a-zа-яё" + STRESS_MARKS + r"+]+")
_HAS_LATIN = re.compile(r"[a-z]")
_HAS_CYRILLIC = re.compile(r"[а-яё]")
_PLUS_BETWEEN_NUMBERS = re.compile(r"(?<=\d)\s*\+\s*(?=\d)")
_STRAY_PLUS = re.compile(r"\+(?![" + "".join(sorted(VOWELS)) + "])")  # + not before a vowel
_DASH = re.compile(r"(?:^|(?<=\s))[-–—]+(?=\s|$)|[–—]+")
_ELLIPSIS = re.compile(r"\.{2,}")
_QUESTION_EXCLAIM = re.compile(r"[?!]*\?[?!]*")
_EXCLAIM = re.compile(r"!+")
_NOT_ALLOWED = re.compile(r"[^а-яё" + STRESS_MARKS + r"+\-" + re.escape(PUNCTUATION) + r"\s]")
_LOOSE_HYPHEN = re.compile(r"(?<![а-яё" + STRESS_MARKS + r"])-|-(?![а-яё+])")
_REPEATED_PUNCT = re.compile(r"([" + re.escape(PUNCTUATION) + r"])(?:\s*[" + re.escape(PUNCTUATION) + r"])+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?…:;])")
_SPACES = re.compile(r"\s+")
TOKEN_PATTERN = re.compile(
    r"[а-яё" + STRESS_MARKS + r"+]+(?:-[а-яё" + STRESS_MARKS + r"+]+)*|[" + re.escape(PUNCTUATION) + r"]"
)


def transliterate_latin(word: str) -> str:
    """Read a lowercase Latin word with Russian letters: ``"python" -> "питон"``.

    This is deliberately simple (digraphs, then single letters): good enough for a brand name
    in a sentence, not a replacement for a pronunciation dictionary.
    """
    out = []
    i = 0
    while i < len(word):
        pair = word[i:i + 2]
        if pair in LATIN_DIGRAPHS:
            out.append(LATIN_DIGRAPHS[pair])
            i += 2
            continue
        out.append(LATIN_LETTERS.get(word[i], word[i]))
        i += 1
    return "".join(out)


def _fix_latin(match: re.Match) -> str:
    word = match.group(0)
    if not _HAS_LATIN.search(word):
        return word
    if _HAS_CYRILLIC.search(word):  # mixed script: map look-alikes, transliterate the rest
        mapped = "".join(LATIN_LOOKALIKES.get(ch, ch) for ch in word)
        return _HAS_LATIN.sub(lambda m: transliterate_latin(m.group(0)), mapped)
    return transliterate_latin(word)


def normalize_text(text: str) -> str:
    """Normalise raw Russian text for phonemisation (see the module docstring for the steps).

    >>> normalize_text("Привет!!! В 2024 году… «Ура»")
    'привет! в две тысячи двадцать четвёртом году… ура'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text)
    text = _PLUS_BETWEEN_NUMBERS.sub(" плюс ", text)
    text = expand_special(text)
    text = expand_numbers(text)
    text = agree_cardinals(text.lower())
    text = _LETTER_RUN.sub(_fix_latin, text)
    text = _ELLIPSIS.sub("…", text)
    text = _QUESTION_EXCLAIM.sub("?", text)
    text = _EXCLAIM.sub("!", text)
    text = _DASH.sub(" — ", text)
    text = re.sub(r"[«»\"“”„'`´]", "", text)
    text = re.sub(r"[()\[\]{}]", " , ", text)
    text = _NOT_ALLOWED.sub(" ", text)
    text = _STRAY_PLUS.sub("", text)
    text = _LOOSE_HYPHEN.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    # A text may not start with a pause mark.
    return text.lstrip(PUNCTUATION + " ")


def tokenize(normalized: str) -> list[str]:
    """Split normalised text into word and punctuation tokens.

    >>> tokenize("привет, как дела?")
    ['привет', ',', 'как', 'дела', '?']
    """
    return TOKEN_PATTERN.findall(normalized)


def is_word(token: str) -> bool:
    """True for a word token, False for a punctuation token."""
    return token not in PUNCTUATION
