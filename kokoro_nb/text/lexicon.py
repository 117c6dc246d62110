"""Built-in Russian stress lexicon and suffix fallback (standard library only).

Data (``kokoro_nb/text/data``, generated offline by ``scripts/build_lexicon.py``;
provenance and licences in ``data/LEXICON.md``):

* ``stress_lexicon.tsv.gz`` -- ~190k most frequent Russian word forms
  (wordfreq) with the stressed vowel from silero-stress, ``word<TAB>syllable``.
* ``stress_suffixes.tsv`` -- suffix -> stressed vowel counted from the word's
  end, learned from the lexicon, for words not in it.

Syllable numbers everywhere are 0-based indices of the stressed vowel among the
word's vowels (``VOWELS``): ``говорить`` -> 2, ``город`` -> 0.  ``VOWELS`` and
``count_vowels`` are defined here, for the whole package and the scripts: this
module imports nothing from the package (it even loads on its own).

Nothing is read at import time; ``load_stress_lexicon()`` loads (once, cached)
in roughly 0.1 s.
"""
from __future__ import annotations

import functools
import gzip
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "LEXICON_FILE",
    "SUFFIX_FILE",
    "VOWELS",
    "LexiconDataError",
    "LexiconEntry",
    "StressLexicon",
    "count_vowels",
    "load_stress_lexicon",
    "load_suffix_table",
    "predict_stress_by_suffix",
]

VOWELS = frozenset("аеёиоуыэюя")

LEXICON_FILE = "stress_lexicon.tsv.gz"
SUFFIX_FILE = "stress_suffixes.tsv"


class LexiconEntry(NamedTuple):
    syllable: int   # 0-based index of the stressed vowel among the word's vowels
    spelling: str   # correct lowercase spelling, with ё where the word has one


class LexiconDataError(RuntimeError):
    """A bundled stress data file is missing or unreadable."""


def count_vowels(word: str) -> int:
    """Number of vowel letters (= syllables): ``count_vowels("говорить") == 3``."""
    return sum(c in VOWELS for c in word)


def _read_data(name: str) -> bytes:
    """Bytes of ``data/<name>`` next to this module (via importlib.resources)."""
    where = f"kokoro_nb/text/data/{name}"
    try:
        if __package__:
            from importlib import resources

            res = resources.files(__package__).joinpath("data").joinpath(name)
            where = str(res)
            return res.read_bytes()
        path = Path(__file__).resolve().parent / "data" / name
        where = str(path)
        return path.read_bytes()
    except (OSError, ModuleNotFoundError) as exc:
        raise LexiconDataError(
            f"stress data file {where} is missing or unreadable ({exc}). "
            "Regenerate it with scripts/build_lexicon.py (see kokoro_nb/text/data/LEXICON.md)."
        ) from exc


class StressLexicon:
    """Word -> stressed syllable, with ё-restoration for text written with е."""

    __slots__ = ("_syl", "_yo")

    def __init__(self, entries: dict[str, int]):
        # _syl: exact (correct) spelling -> syllable.
        # _yo:  ё-less spelling -> ё spelling, only where the ё-less spelling
        #       is not itself a lexicon word (все/всё stay distinct).
        self._syl = entries
        yo: dict[str, str] = {}
        for w in entries:
            if "ё" in w:
                key = w.replace("ё", "е")
                if key not in entries and key not in yo:
                    yo[key] = w          # entries are in frequency order
        self._yo = yo

    @classmethod
    def from_bytes(cls, data: bytes, name: str = LEXICON_FILE) -> StressLexicon:
        """Parse the gzip'ed ``word<TAB>syllable`` format (``#`` header lines)."""
        try:
            text = gzip.decompress(data).decode("utf-8")
            body = 0
            while text.startswith("#", body):
                nl = text.find("\n", body)
                body = len(text) if nl < 0 else nl + 1
            parts = text[body:].split()
            if len(parts) % 2:
                raise ValueError("odd number of fields")
            entries = dict(zip(parts[0::2], map(int, parts[1::2]), strict=True))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
            raise LexiconDataError(
                f"stress lexicon {name!r} is corrupt: {exc}. "
                "Regenerate it with scripts/build_lexicon.py (see data/LEXICON.md)."
            ) from exc
        if not entries:
            raise LexiconDataError(f"stress lexicon {name!r} is empty")
        return cls(entries)

    @classmethod
    def from_file(cls, path) -> StressLexicon:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise LexiconDataError(f"stress lexicon {str(path)!r} is missing or unreadable: {exc}") from exc
        return cls.from_bytes(data, str(path))

    def lookup(self, word: str) -> LexiconEntry | None:
        """Stress of a lowercase word, or None if the lexicon does not know it.

        Exact spelling first.  Otherwise a word written with е where the
        dictionary spelling has ё (``еще``) returns the ё entry (``ещё``),
        unless the е-spelling is itself a lexicon word (``все`` vs ``всё``).
        """
        syl = self._syl.get(word)
        if syl is not None:
            return LexiconEntry(syl, word)
        lower = word.lower()
        if lower != word:
            syl = self._syl.get(lower)
            if syl is not None:
                return LexiconEntry(syl, lower)
        if "е" not in lower:
            return None
        key = lower.replace("ё", "е")
        spelling = self._yo.get(key)
        if spelling is None:
            return None
        if "ё" in lower and any(a == "ё" and b != "ё" for a, b in zip(lower, spelling, strict=False)):
            return None   # the caller's ё is somewhere the dictionary has none
        return LexiconEntry(self._syl[spelling], spelling)

    def items(self) -> Iterator[tuple[str, int]]:
        """``(spelling, syllable)`` pairs, most frequent word first."""
        return iter(self._syl.items())

    def __iter__(self) -> Iterator[str]:
        return iter(self._syl)

    def __contains__(self, word: object) -> bool:
        """Exact (correct-spelling) membership; ``"еще" in lex`` is False."""
        return word in self._syl

    def __len__(self) -> int:
        return len(self._syl)

    def __repr__(self) -> str:
        return f"<StressLexicon {len(self._syl)} words>"


@functools.cache
def load_stress_lexicon() -> StressLexicon:
    """The built-in lexicon (read on first call, then cached)."""
    return StressLexicon.from_bytes(_read_data(LEXICON_FILE), LEXICON_FILE)


def _parse_suffixes(text: str, name: str = SUFFIX_FILE) -> tuple[dict[str, int], int]:
    table: dict[str, int] = {}
    try:
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            suffix, pos = line.split("\t")[:2]
            table[suffix] = int(pos)
    except ValueError as exc:
        raise LexiconDataError(f"stress suffix table {name!r} is corrupt: {exc}") from exc
    if not table:
        raise LexiconDataError(f"stress suffix table {name!r} is empty")
    return table, max(map(len, table))


@functools.cache
def load_suffix_table() -> tuple[dict[str, int], int]:
    """``({ё-folded suffix: stressed vowel counted from the end}, longest suffix)``."""
    try:
        text = _read_data(SUFFIX_FILE).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LexiconDataError(f"stress suffix table {SUFFIX_FILE!r} is corrupt: {exc}") from exc
    return _parse_suffixes(text)


def predict_stress_by_suffix(
    word: str, suffix_table: tuple[Mapping[str, int], int] | None = None
) -> int | None:
    """Guess the 0-based stressed syllable of a word that is not in the lexicon.

    * no vowels -> None; one vowel -> 0;
    * a word written with ё -> its (last) ё, which is practically always stressed;
    * otherwise the longest matching suffix of the learned table (matched on the
      ё-less spelling) gives the stressed vowel counted from the end; None when
      no suffix matches or the word has too few vowels for the answer.

    `suffix_table` is ``(suffix -> stressed vowel from the end, longest suffix)``, by
    default the built-in `load_suffix_table()`; ``scripts/build_lexicon.py`` passes the
    tables it is tuning.
    """
    word = word.lower()
    nv = count_vowels(word)
    if nv == 0:
        return None
    if "ё" in word:
        return count_vowels(word[: word.rindex("ё")])
    if nv == 1:
        return 0
    table, max_len = load_suffix_table() if suffix_table is None else suffix_table
    for k in range(min(max_len, len(word)), 0, -1):
        pos = table.get(word[-k:])
        if pos is not None:
            return nv - 1 - pos if pos < nv else None
    return None
