"""Text normalisation: numbers, case, ё, Latin look-alikes, punctuation, junk."""

import pytest

from kokoro_nb.text import normalize_text, tokenize


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Привет, как дела?", "привет, как дела?"),
        ("У меня 2 кота.", "у меня два кота."),
        ("Что?!", "что?"),
        ("Ура!!!", "ура!"),
        ("Так... вот", "так… вот"),
        ("Он сказал - нет", "он сказал — нет"),
        ("«Кавычки» и (скобки)", "кавычки и, скобки,"),
        ("мoлoкo", "молоко"),  # Latin o inside a Cyrillic word
        ("СССР", "эс-эс-эс-эр"),  # an acronym is spelled by its letters (expansions.py)
        ("е\u0308лка", "ёлка"),  # decomposed ё
        ("за́мок", "за́мок"),  # stress marks survive
        ("зам+ок", "зам+ок"),
        ("2+2", "два плюс два"),
        ("по-русски", "по-русски"),
        ("привет 🙂 мир", "привет мир"),
        ("  много   пробелов  ", "много пробелов"),
        ("... начало", "начало"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_latin_words_are_transliterated():
    assert normalize_text("Python") == "пайтон"  # known: the pronunciation dictionary
    assert normalize_text("Torvalds") == "торвалдс"  # unknown: letter by letter


def test_tokenize_words_and_punctuation():
    assert tokenize("привет, как дела?") == ["привет", ",", "как", "дела", "?"]
    assert tokenize("кто-нибудь — да") == ["кто-нибудь", "—", "да"]


def test_normalize_rejects_non_strings():
    with pytest.raises(TypeError):
        normalize_text(None)
