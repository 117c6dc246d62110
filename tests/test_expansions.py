"""Times, dates, Roman numerals, units, abbreviations, acronyms, agreement, Latin words
(kokoro_nb.text.expansions), through `normalize_text` as the front end uses them."""

from pathlib import Path

import pytest

from kokoro_nb.text import expansions
from kokoro_nb.text.normalize import normalize_text

CASES = [line.rstrip("\n").split("\t") for line in
         (Path(__file__).parent / "data" / "normalization_cases.tsv").read_text("utf-8").splitlines()
         if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("raw,spoken", CASES)
def test_what_is_said(raw, spoken):
    assert normalize_text(raw) == spoken


@pytest.mark.parametrize("step", expansions.STEPS, ids=lambda step: step.__name__)
def test_each_step_is_needed(step, monkeypatch):
    """Without any one step some of the cases come out wrong."""
    monkeypatch.setattr(expansions, "STEPS", tuple(s for s in expansions.STEPS if s is not step))
    assert any(normalize_text(raw) != spoken for raw, spoken in CASES)


@pytest.mark.parametrize("text", [
    "99:99", "24:00", "31.02.2020", "00.00.0000", "1.1.1", "XXXXX век", "MMMM век", "I",
    "$", "№", "°C", "%", "5 %%", "руб.", "и т.", "т.", "г.", "ул.", "12:30:45",
    "123456789012345678901234567890 кг", "$123456789012345678901234567890", "№ 1е5",
    "ФСБФСБ", "А Б В", "Ё", "iPhone iPhone iPhone", "New", "york", "-", "+", "+5", "−7 °C",
    "1 января 2020 г. в 10:30 по ул. Ленина, д. 5, кв. 7, т.е. в XIX веке",
])
def test_odd_text_never_raises(text):
    assert isinstance(normalize_text(text), str)


def test_roman_numerals_need_a_context():
    assert normalize_text("Пётр I") == "пётр первый"
    assert normalize_text("I love it") != "первый love it"  # a Latin I stays Latin
    assert normalize_text("в XIX веке") == "в девятнадцатом веке"
    assert expansions.roman_value("MCMXCIV") == 1994
