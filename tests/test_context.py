"""Stress from context (kokoro_nb.text.context) and numbers in case (kokoro_nb.text.morph)."""

import pytest

from kokoro_nb.text import RussianPhonemeProcessor, normalize_text
from kokoro_nb.text.context import decide, homographs
from kokoro_nb.text.morph import agree_cardinals, inflect_cardinal
from kokoro_nb.text.phonemes import with_rule
from kokoro_nb.text.stress import split_stress_marks

PROCESSOR = RussianPhonemeProcessor()
WORD_BY_WORD = RussianPhonemeProcessor(rules=with_rule(PROCESSOR.rules, context_stress=False))


def stress_of(text: str, word: str, processor=PROCESSOR) -> tuple[int, str]:
    """(syllable, source) of `word` in `text`."""
    found = [(info.position, info.source) for w, _, info in processor.process_text(text)
             if w == word]
    assert found, f"{word!r} not in {text!r}"
    return found[0]


def syllable(stressed: str) -> int:
    return split_stress_marks(stressed)[1]


# Each: a sentence, the homograph, the reading it needs, what in the context decides.
CASES = [
    ("Нет руки.", "руки", "рук+и", "нет"),
    ("Он мыл руки.", "руки", "р+уки", "object"),
    ("Из окна было видно море.", "окна", "окн+а", "preposition"),
    ("Открытые окна выходили во двор.", "окна", "+окна", "agrees"),
    ("Он прочитал два письма.", "письма", "письм+а", "два"),
    ("Письма пришли вчера.", "письма", "п+исьма", "subject"),
    ("Мы поднялись на вершину горы.", "горы", "гор+ы", "after"),
    ("Замок стоит на горе.", "горе", "гор+е", "preposition"),
    ("У него большое горе.", "горе", "г+оре", "agrees"),
    ("Солнце уже село.", "село", "с+ело", "солнце"),
    ("Мы приехали в село.", "село", "сел+о", "preposition"),
    ("Дверной замок сломался.", "замок", "зам+ок", "дверной"),
    ("Старинный замок стоял на холме.", "замок", "з+амок", "старинный"),
    ("Добавьте в тесто стакан муки.", "муки", "мук+и", "in the sentence"),
    ("Я мою руки.", "мою", "м+ою", "subject"),
    ("Я люблю мою маму.", "мою", "мо+ю", "маму"),
    ("Прошло два часа.", "часа", "час+а", "два"),
    ("Сколько стоит билет?", "стоит", "ст+оит", "сколько"),
    ("Об этом стоит подумать.", "стоит", "ст+оит", "подумать"),
    ("Дом стоит на берегу.", "стоит", "сто+ит", "place"),
]


@pytest.mark.parametrize("text,word,stressed,why", CASES)
def test_homograph_read_from_its_sentence(text, word, stressed, why):
    assert stress_of(text, word) == (syllable(stressed), "context")
    decision = next(d for d in PROCESSOR.context_decisions(text) if d.word == word)
    assert decision.stressed == stressed and why in decision.reason


def test_each_context_case_needs_the_context():
    """Word by word, every homograph above takes one reading whatever the sentence, so at
    least one of each pair of cases must come out wrong without the pass."""
    wrong = sum(stress_of(text, word, WORD_BY_WORD)[0] != syllable(stressed)
                for text, word, stressed, _ in CASES)
    assert wrong >= len(CASES) // 3


@pytest.mark.parametrize("text,expected", [
    ("И все было хорошо.", "всё"),
    ("Я все понял.", "всё"),
    ("Все равно он придёт.", "всё"),
    ("Вот и все.", "всё"),
    ("Все пришли вовремя.", "все"),
    ("Все люди разные.", "все"),
    ("Мы все устали.", "все"),
    ("Все, кто пришёл, остались.", "все"),
])
def test_все_or_всё(text, expected):
    said = [p for w, p, _ in PROCESSOR.process_text(text) if w == "все"][0]
    assert ("o" in said) == (expected == "всё")


def test_уже_comparative():
    assert stress_of("Эта дорога гораздо уже.", "уже") == (0, "context")
    assert stress_of("Он уже пришёл.", "уже") == (1, "context")


def test_no_context_keeps_the_lexicon_reading():
    """Nothing in the sentence tells: the lexicon's (curated) reading stands: как дела́."""
    assert stress_of("Как дела?", "дела")[1] != "context"
    assert PROCESSOR.context_decisions("Как дела?") == []


def test_marked_and_user_dictionary_words_are_not_overridden():
    assert stress_of("Нет р+уки.", "руки") == (0, "marked")
    processor = RussianPhonemeProcessor()
    processor.add_stress("руки", 0)
    assert stress_of("Нет руки.", "руки", processor)[0] == 0


def test_context_reading_survives_the_phrase_pass():
    """A homograph after a clitic: the group is sounded with the context's stress."""
    results = PROCESSOR.process_text("из руки")
    assert [(w, s.position, s.source) for w, _, s in results] == [
        ("из", -1, "clitic"), ("руки", 1, "context")]


def test_switch_off_and_saved_processors_read_as_before():
    state = PROCESSOR.to_dict()
    old = dict(state, rules={k: v for k, v in state["rules"].items() if k != "context_stress"})
    restored = RussianPhonemeProcessor.from_dict(old)
    assert not restored.rules.context_stress
    assert restored.context_decisions("Нет руки.") == []


def test_table_readings_are_well_formed():
    for form, readings in homographs().items():
        assert len({r.stressed for r in readings}) >= 2, form
        for reading in readings:
            letters, marked = split_stress_marks(reading.stressed)
            assert letters.replace("ё", "е") == form, reading
            assert marked is not None or "ё" in letters, reading


@pytest.mark.parametrize("text", [
    "", "все", "руки", ",,,", "все все все все", "руки " * 5000, "нет 😀 руки", "Pyки руки",
    "на на на", "два", "1" * 30 + " рублей", "с " + "9" * 30 + " друзьями",
])
def test_malformed_input_never_raises(text):
    PROCESSOR.text_to_ipa(text)
    decide(text.split())


# ----------------------------------------------------------------------------- numbers in case

@pytest.mark.parametrize("raw,spoken", [
    ("с 5 друзьями", "с пятью друзьями"),
    ("к 2 часам", "к двум часам"),
    ("за $1000", "за тысячу долларов"),
    ("через 1 минуту", "через одну минуту"),
    ("о 3 книгах", "о трёх книгах"),
    ("при 30 °C", "при тридцати градусах цельсия"),
    ("владеет 5 языками", "владеет пятью языками"),
    ("с 21 другом", "с двадцатью одним другом"),
    ("в 2024 году", "в две тысячи двадцать четвёртом году"),   # an ordinal: left alone
    ("5 книг лежали", "пять книг лежали"),
    ("на 5 дней", "на пять дней"),
])
def test_numbers_take_their_case(raw, spoken):
    assert normalize_text(raw) == spoken


def test_without_agreement_the_numbers_stay_nominative():
    assert agree_cardinals("с пять друзьями") == "с пятью друзьями"
    assert agree_cardinals("с друзьями пять") == "с друзьями пять"
    assert inflect_cardinal(["две", "тысячи"], "ablt", None) == ["двумя", "тысячами"]


# ----------------------------------------------------------------------------- dev sets

def test_dev_sets_stay_above_their_floors():
    """The sentence-level dev sets (tests/data/dev, scored by scripts/eval_sentences.py) do
    not regress below what was measured when they were built (see README)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("eval_sentences",
                                                  root / "scripts" / "eval_sentences.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dev = root / "tests" / "data" / "dev"
    rows = module.read_rows(dev / "homographs_dev.tsv", 4)
    right = sum(module.homograph_correct(PROCESSOR, row)[0] for row in rows)
    assert right / len(rows) >= 0.93
    clitic_rows = module.read_rows(dev / "clitics_dev.tsv", 2)
    results = [module.clitics_correct(PROCESSOR, row) for row in clitic_rows]
    assert sum(r for r, _, _ in results) / sum(t for _, t, _ in results) >= 0.98


def test_your_dictionary_comes_before_ё():
    processor = RussianPhonemeProcessor()
    assert processor.process_word("ёжик")[1].source == "yo"
    processor.add_stress("ёжик", 1)
    assert processor.process_word("ёжик")[1].position == 1
