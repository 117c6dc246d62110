"""The built-in stress lexicon and its suffix fallback (kokoro_nb.text.lexicon)."""

import ast
import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kokoro_nb.text import lexicon
from kokoro_nb.text.lexicon import (
    LexiconDataError,
    LexiconEntry,
    StressLexicon,
    count_vowels,
    load_stress_lexicon,
    predict_stress_by_suffix,
)

DATA = Path(lexicon.__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def lex():
    return load_stress_lexicon()


# ----------------------------------------------------------------------------- loading

def test_loads_and_is_large(lex):
    assert isinstance(lex, StressLexicon)
    assert len(lex) >= 100_000
    assert load_stress_lexicon() is lex  # cached


def test_every_entry_is_well_formed(lex):
    n = 0
    for word, syl in lex.items():
        assert word == word.lower()
        assert 0 <= syl < count_vowels(word), (word, syl)
        n += 1
    assert n == len(lex)


def test_data_files_have_provenance_headers():
    with gzip.open(DATA / "stress_lexicon.tsv.gz", "rt", encoding="utf-8") as f:
        header = "".join(line for line, _ in zip(f, range(12), strict=False) if line.startswith("#"))
    for needle in ("silero-stress 1.5", "wordfreq 3.1.1", "CC-BY-SA 4.0", "MIT",
                   "scripts/build_lexicon.py", "generated:"):
        assert needle in header
    assert (DATA / "LEXICON.md").is_file()
    assert (DATA / "stress_suffixes.tsv").stat().st_size < 1_000_000
    assert (DATA / "stress_lexicon.tsv.gz").stat().st_size < 5_000_000


def test_parsing_is_fast():
    data = (DATA / "stress_lexicon.tsv.gz").read_bytes()
    start = time.perf_counter()
    StressLexicon.from_bytes(data)
    assert time.perf_counter() - start < 1.0  # ~0.1 s here; generous for slow CI


def test_nothing_is_read_at_import_time():
    # Import the module file on its own, so the rest of kokoro_nb cannot interfere.
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('lex_isolated', {str(lexicon.__file__)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "assert m.load_stress_lexicon.cache_info().currsize == 0\n"
        "assert m.load_suffix_table.cache_info().currsize == 0\n"
        "assert len(m.load_stress_lexicon()) > 100000\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_standard_library_only():
    tree = ast.parse(Path(lexicon.__file__).read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    assert modules <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)


# ----------------------------------------------------------------------------- lookups

@pytest.mark.parametrize(
    "word, syllable",
    [
        ("говорить", 2),
        ("хорошо", 2),
        ("молоко", 2),
        ("город", 0),
        ("вода", 1),
        ("ещё", 1),
        ("всё", 0),
        ("все", 0),
        ("сегодня", 1),
        ("человек", 2),
        ("спасибо", 1),
        ("красивый", 1),
        ("потом", 1),
        ("россии", 1),
    ],
)
def test_common_words(lex, word, syllable):
    assert lex.lookup(word) == LexiconEntry(syllable, word)
    assert word in lex


def test_yo_restoration(lex):
    assert lex.lookup("еще") == LexiconEntry(1, "ещё")
    assert lex.lookup("елка") == LexiconEntry(0, "ёлка")
    assert lex.lookup("ребенок") == LexiconEntry(1, "ребёнок")
    assert "еще" not in lex and "ещё" in lex  # membership is exact spelling


def test_e_spelling_that_is_a_word_stays_distinct(lex):
    assert lex.lookup("все") == LexiconEntry(0, "все")
    assert lex.lookup("всё") == LexiconEntry(0, "всё")
    assert lex.lookup("берег") == LexiconEntry(0, "берег")
    assert lex.lookup("берёг") == LexiconEntry(1, "берёг")


def test_lookup_misses_and_case(lex):
    assert lex.lookup("выкрутизировать") is None
    assert lex.lookup("в") is None  # no vowel: never in the lexicon
    assert lex.lookup("") is None
    assert lex.lookup("ёще") is None  # caller's ё where the dictionary has none
    assert lex.lookup("Ещё") == LexiconEntry(1, "ещё")


def test_small_lexicon_from_dict():
    small = StressLexicon({"всё": 0, "все": 0, "ёлка": 0, "берёза": 1})
    assert len(small) == 4
    assert small.lookup("береза") == LexiconEntry(1, "берёза")
    assert small.lookup("все") == LexiconEntry(0, "все")
    assert small.lookup("елка") == LexiconEntry(0, "ёлка")
    assert list(small) == ["всё", "все", "ёлка", "берёза"]


# ----------------------------------------------------------------------------- suffix fallback

@pytest.mark.parametrize(
    "word, syllable",
    [
        ("выкрутизировать", 3),        # -и́ровать
        ("переформатированный", 4),    # -и́рованный
        ("перепрыгать", 2),            # -пры́гать keeps the root stress
        ("бокрёнка", 1),               # ё is stressed
        ("бокренка", 1),               # -ёнка learned from ё-folded spellings
        ("кракозябра", 2),
        ("пупырчатый", 1),
    ],
)
def test_suffix_fallback_on_invented_words(word, syllable):
    assert predict_stress_by_suffix(word) == syllable


def test_suffix_fallback_edge_cases():
    assert predict_stress_by_suffix("") is None
    assert predict_stress_by_suffix("вкл") is None  # no vowels
    assert predict_stress_by_suffix("бжик") == 0    # one vowel
    for word in ("зюзюкать", "глокая", "куздра", "будланула", "курдячит", "штеко"):
        syl = predict_stress_by_suffix(word)
        assert syl is None or 0 <= syl < count_vowels(word)


def test_suffix_fallback_with_a_given_table():
    table = ({"ябра": 1, "бра": 0}, 4)  # stressed vowel counted from the end
    assert predict_stress_by_suffix("кракозябра", table) == 2  # -я́бра, the longest match
    assert predict_stress_by_suffix("швабра", table) == 1      # -бра: the last vowel
    assert predict_stress_by_suffix("молоко", table) is None   # no suffix matches
    assert predict_stress_by_suffix("бра", ({"бра": 2}, 3)) == 0  # one vowel: no table needed


def test_count_vowels():
    assert [count_vowels(w) for w in ("говорить", "ёлка", "в", "")] == [3, 2, 0, 0]


def test_suffix_table_is_well_formed():
    table, max_len = lexicon.load_suffix_table()
    assert 100 < len(table) < 50_000
    assert max_len == max(map(len, table))
    assert all("ё" not in s and pos >= 0 for s, pos in table.items())


# ----------------------------------------------------------------------------- errors

def test_missing_file_error_names_the_file(tmp_path):
    with pytest.raises(LexiconDataError, match="nope.tsv.gz"):
        StressLexicon.from_file(tmp_path / "nope.tsv.gz")
    with pytest.raises(LexiconDataError, match="absent_file.tsv"):
        lexicon._read_data("absent_file.tsv")


@pytest.mark.parametrize(
    "payload",
    [
        b"not gzip at all",
        gzip.compress(b"# header\n\xff\xfe\n"),
        gzip.compress("# header\nслово\tx\n".encode()),
        gzip.compress("слово\t1\nхвост\n".encode()),
        gzip.compress(b"# only a header\n"),
        gzip.compress("слово\t1\n".encode())[:-6],  # truncated
    ],
)
def test_corrupt_file_error_names_the_file(payload, tmp_path):
    path = tmp_path / "broken.tsv.gz"
    path.write_bytes(payload)
    with pytest.raises(LexiconDataError, match="broken.tsv.gz"):
        StressLexicon.from_file(path)
