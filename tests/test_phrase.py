"""The phrase pass (kokoro_nb.text.phrase): clitics unstressed, in one word with their host."""

import pytest

from kokoro_nb.text import RussianPhonemeProcessor
from kokoro_nb.text.phonemes import with_rule
from kokoro_nb.text.phrase import ENCLITICS, PROCLITICS, phonological_words

PROCESSOR = RussianPhonemeProcessor(rules="seed")  # the seed's transcription style
WORD_BY_WORD = RussianPhonemeProcessor(rules=with_rule(PROCESSOR.rules, clitics=False))


def read(text, processor=PROCESSOR):
    """Each word's IPA and (position, source), in text order."""
    return [(processor.to_ipa(p), (s.position, s.source)) for _, p, s in processor.process_text(text)]


def ipa(text, processor=PROCESSOR):
    return " ".join(i for i, _ in read(text, processor))


@pytest.mark.parametrize("text,expected,word_by_word", [
    ("на столе", "nə stəlʲe", "na stəlʲe"),          # reduced, like a pre-pretonic vowel
    ("не знаю", "nʲɪ znaju", "nʲe znaju"),
    ("по дороге", "pə dərogʲɪ", "po dərogʲɪ"),
    ("и мама", "i mamə", "i mamə"),                  # и has no weaker vowel in this preset
])
def test_a_proclitic_loses_its_stress_and_its_full_vowel(text, expected, word_by_word):
    assert ipa(text) == expected
    assert ipa(text, WORD_BY_WORD) == word_by_word
    clitic = read(text)[0][1]
    assert clitic == (-1, "clitic")


@pytest.mark.parametrize("text,expected,word_by_word", [
    ("из дома", "iz domə", "is domə"),
    ("от дома", "əd domə", "ot domə"),
    ("над водой", "nəd vədoj", "nat vədoj"),
    ("без добра", "bʲəz dəbra", "bʲes dəbra"),    # pre-pretonic: ə in this preset
    ("брат же", "brad ʒə", "brat ʒe"),               # an enclitic joins the word before it
])
def test_voicing_assimilates_across_the_joint(text, expected, word_by_word):
    assert ipa(text) == expected
    assert ipa(text, WORD_BY_WORD) == word_by_word


def test_the_host_still_begins_a_word():
    assert ipa("в ёлку") == "v jolku"      # е ё ю я keep their j after the joint
    assert ipa("с ним") == "s nʲim"        # the consonant before the joint stays hard
    assert ipa("в Италии") == "v ɨtalʲii"  # и after a hard consonant reads ы
    assert ipa("в Италии", WORD_BY_WORD) == "v italʲii"
    assert ipa("в школу") == "f ʃkolu" and ipa("к брату") == "g bratu"


def test_enclitics_and_chains():
    assert read("он же сказал бы") == [("on", (0, "monosyllable")), ("ʒə", (-1, "clitic")),
                                       ("skəzal", (1, "dictionary")), ("bɨ", (-1, "clitic"))]
    assert [s for _, s in read("и не знаю")] == [(-1, "clitic"), (-1, "clitic"), (0, "dictionary")]
    # No stress flag on a clitic's vowel: one 1 for на столе, on the е of столе.
    flags, symbols = PROCESSOR.get_stress_pattern("на столе"), PROCESSOR.text_to_phonemes("на столе")
    assert [s for s, f in zip(symbols, flags, strict=True) if f] == ["e"]


def test_fixed_phrases_stress_the_preposition():
    assert read("на пол") == [("na", (0, "phrase")), ("pəl", (-1, "phrase"))]
    assert read("за город")[0] == ("za", (0, "phrase"))
    assert read("не был")[0] == ("nʲe", (0, "phrase"))
    assert read("на полу")[0][1] == (-1, "clitic")  # another form: no fixed phrase


def test_punctuation_and_marks_keep_a_clitic_stressed():
    assert read("а, вот")[0][1] == (0, "monosyllable")   # nothing to lean on
    assert read("н+а столе")[0] == ("na", (0, "marked"))  # the text asks for it
    assert read("же")[0][1][0] == 0                       # an enclitic with no word before it


def test_groups():
    assert phonological_words(["на", "столе", None, "и", "все"], [False] * 5) == [
        (0, 1, 2), (3, 4, 5)]
    assert phonological_words(["на", "столе"], [True, False]) == [(0, 0, 1), (1, 1, 2)]
    assert {"на", "в", "не", "и"} <= PROCLITICS and {"же", "бы", "ли"} <= ENCLITICS


def test_a_processor_saved_before_the_phrase_pass_reads_as_it_was_trained():
    state = PROCESSOR.to_dict()
    assert RussianPhonemeProcessor.from_dict(state).rules.clitics
    old = dict(state, rules={k: v for k, v in state["rules"].items() if k != "clitics"})
    restored = RussianPhonemeProcessor.from_dict(old)
    assert not restored.rules.clitics and ipa("на столе", restored) == "na stəlʲe"


@pytest.mark.parametrize("text", [
    "Hello мир 😀 и ещё 🚀!", "а" * 10_000, "на " * 3_000, "...", "!", ",", "—",
    "123456789012345678901234567890 рублей", "в 2024 году", "и", "на", "же бы ли",
    "не, не, не", "из-за угла", "Mама и Пaпа",
])
def test_odd_text_never_raises(text):
    PROCESSOR.text_to_indices(text)
    assert len(PROCESSOR.text_to_indices(text)) == len(PROCESSOR.get_stress_pattern(text))
