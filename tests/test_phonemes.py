"""The Russian phoneme processor: seed examples, each rule, stress tiers, vocabulary, caches."""

import hashlib
import json
import pickle

import pytest

from kokoro_nb.text import (
    G2P_VERSION,
    PHONEME_INVENTORY,
    PRESETS,
    PhonemeRules,
    RussianPhonemeProcessor,
    StressInfo,
)
from kokoro_nb.text.lexicon import load_stress_lexicon
from kokoro_nb.text.phonemes import with_rule
from kokoro_nb.text.stress import penultimate_stress, seed_heuristic_stress


@pytest.fixture(scope="module")
def processor():
    """The seed's transcription style, in which most expectations here are written."""
    return RussianPhonemeProcessor(rules="seed")


def ipa(processor, word):
    return processor.to_ipa(processor.process_word(word)[0])


def ipa_with(word, **changes):
    rules = with_rule(PRESETS["seed"], **changes)
    p = RussianPhonemeProcessor(rules=rules)
    return p.to_ipa(p.process_word(word)[0])


# ----------------------------------------------------------------------------- seed examples

@pytest.mark.parametrize(
    "word, expected, position",
    [
        ("говорить", "gəvərʲitʲ", 2),
        ("привет", "prʲivʲet", 1),
        ("как", "kak", 0),
        ("дела", "dʲɪla", 1),
        ("что", "ʃto", 0),
        ("конечно", "kənʲeʃnə", 1),
        ("его", "jɪvo", 1),
        ("сегодня", "sʲɪvodʲnʲə", 1),
    ],
)
def test_seed_examples(processor, word, expected, position):
    phonemes, stress = processor.process_word(word)
    assert processor.to_ipa(phonemes) == expected
    assert stress.position == position


def test_seed_example_govorit_full_result(processor):
    phonemes, stress = processor.process_word("говорить")
    assert phonemes == ["g", "ə", "v", "ə", "rʲ", "i", "tʲ"]
    assert stress == StressInfo(position=2, vowel_index=5, is_marked=False, source="dictionary")


def test_seed_process_text_example(processor):
    results = processor.process_text("Привет, как дела?")
    assert [(w, processor.to_ipa(p), s.position) for w, p, s in results] == [
        ("привет", "prʲivʲet", 1),
        ("как", "kak", 0),
        ("дела", "dʲɪla", 1),
    ]


def test_seed_training_integration_snippet(processor):
    """The seed's `text_to_phonemes` helper works against our API unchanged."""
    ids, stress = [], []
    for _, phonemes, info in processor.process_text("говорить по-русски"):
        ids.extend(processor.phoneme_to_id[p] for p in phonemes if p in processor.phoneme_to_id)
        stress.extend(1 if i == info.vowel_index else 0 for i in range(len(phonemes)))
    symbols = [processor.get_phoneme_list()[i] for i in ids]
    assert "".join(symbols) == "gəvərʲitʲpəruskʲi"
    assert stress == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]  # говорИть, по-рУсски


# ----------------------------------------------------------------------------- each rule

def test_exception_rule(processor):
    assert ipa(processor, "что") == "ʃto"
    assert ipa_with("что", exceptions=False) == "tʃto"


def test_cluster_simplification():
    cases = {
        "чу+вство": "tʃustvə",
        "со+лнце": "sontsə",
        "се+рдце": "sʲertsə",
        "по+здно": "poznə",
        "че+стный": "tʃesnɨj",
        "+учится": "utʃitsə",
        "сча+стье": "ʃtʃasʲtʲjɪ",  # с soft before the soft т (soft_assimilation)
        "р+усский": "ruskʲij",  # a doubled consonant before another is single
        "кл+асс": "klas",
    }
    for word, expected in cases.items():
        assert ipa_with(word) == expected, word
    # Without the rule the spelled consonants come back.
    assert ipa_with("чу+вство", cluster_simplification=False) == "tʃufstvə"
    assert ipa_with("со+лнце", cluster_simplification=False) == "solntsə"
    assert ipa_with("по+здно", cluster_simplification=False) == "pozdnə"
    assert ipa_with("+учится", cluster_simplification=False) == "utʃitsʲə"
    assert ipa_with("сча+стье", cluster_simplification=False) == "stʃasʲtʲjɪ"
    assert ipa_with("кл+асс", cluster_simplification=False) == "klass"


def test_genitive_ogo_rule():
    assert ipa_with("кр+асного") == "krasnəvə"
    assert ipa_with("кр+асного", genitive_ogo=False) == "krasnəgə"
    assert ipa_with("ничег+о", exceptions=False) == "nʲitʃɪvo"
    assert ipa_with("мн+ого") == "mnogə"  # not a genitive ending


def test_palatalization_rule():
    assert ipa_with("нёс") == "nʲos"
    assert ipa_with("нёс", palatalization=False) == "nos"
    assert ipa_with("м+ать") == "matʲ"
    # ж ш ц stay hard before soft vowels and ь; ч щ are soft by themselves.
    assert ipa_with("ж+изнь") == "ʒɨzʲnʲ"  # з soft before нь (soft_assimilation)
    assert ipa_with("ц+ирк") == "tsɨrk"
    assert ipa_with("м+ышь") == "mɨʃ"


def test_iotation_rule():
    assert ipa_with("+яма") == "jamə"
    assert ipa_with("+яма", iotation=False) == "amə"
    assert ipa_with("семь+я") == "sʲɪmʲja"  # after ь
    assert ipa_with("объ+ём") == "əbjom"  # after ъ, the б stays hard
    assert ipa_with("мо+ё") == "məjo"  # after a vowel
    assert ipa_with("соловь+и") == "sələvʲji"  # и after ь


def test_vowel_reduction_rule():
    assert ipa_with("молок+о") == "mələko"
    assert ipa_with("молок+о", vowel_reduction=False) == "moloko"
    assert ipa_with("яз+ык") == "jɪzɨk"
    assert ipa_with("телев+изор") == "tʲəlʲɪvʲizər"  # seed: further from the stress -> ə
    assert ipa_with("в+оля") == "volʲə"  # final unstressed я is ə


def test_final_devoicing_rule():
    assert ipa_with("г+ород") == "gorət"
    assert ipa_with("г+ород", final_devoicing=False) == "gorəd"
    assert ipa_with("гл+аз") == "glas"
    assert ipa_with("хл+еб") == "xlʲep"


def test_voicing_assimilation_rule():
    assert ipa_with("сд+елать") == "zʲdʲelətʲ"  # soft before дʲ (soft_assimilation)
    assert ipa_with("сд+елать", voicing_assimilation=False) == "sʲdʲelətʲ"
    assert ipa_with("л+ожка") == "loʃkə"
    assert ipa_with("вт+орник") == "ftornʲik"
    assert ipa_with("св+ет") == "svʲet"  # в does not voice the с before it
    assert ipa_with("пр+осьба") == "prozʲbə"


def test_academic_preset():
    academic = RussianPhonemeProcessor(rules="academic")
    assert academic.text_to_ipa("молок+о") == "məlɐko"
    assert academic.text_to_ipa("телев+изор") == "tʲɪlʲɪvʲizər"
    assert academic.text_to_ipa("жен+а") == "ʐɨna"
    assert academic.text_to_ipa("окн+о") == "ɐkno"
    assert academic.text_to_ipa("щ+ука") == "ɕːukə"
    assert academic.text_to_ipa("ч+ас") == "tɕas"
    # The default preset takes academic's ɐ and ikanye and keeps the seed's consonants; the
    # seed preset is the seed's transcription.
    default = RussianPhonemeProcessor()
    assert default.text_to_ipa("молок+о") == "məlɐko"
    assert default.text_to_ipa("телев+изор") == "tʲɪlʲɪvʲizər"
    assert default.text_to_ipa("щ+ука") == "ʃtʃukə"
    seed = RussianPhonemeProcessor(rules="seed")
    assert seed.text_to_ipa("молок+о") == "mələko"
    assert seed.text_to_ipa("телев+изор") == "tʲəlʲɪvʲizər"


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown rule preset"):
        RussianPhonemeProcessor(rules="fancy")
    with pytest.raises(ValueError, match="unknown rule settings"):
        RussianPhonemeProcessor(rules={"no_such_rule": True})


# ----------------------------------------------------------------------------- stress tiers

def test_marked_stress_acute_and_plus(processor):
    for word in ("за́мок", "з+амок", "за\u0341мок"):
        _, info = processor.process_word(word)
        assert (info.position, info.is_marked, info.source) == (0, True, "marked")
    _, info = processor.process_word("замо́к")
    assert info.position == 1 and info.source == "marked"
    _, info = processor.process_word("замо\u0300к")  # grave
    assert info.position == 1 and info.is_marked


def test_yo_is_always_stressed(processor):
    phonemes, info = processor.process_word("ёлка")
    assert info.source == "yo" and info.position == 0
    assert processor.to_ipa(phonemes) == "jolkə"


def test_lexicon_restores_yo_written_as_e(processor):
    phonemes, info = processor.process_word("еще")
    assert processor.to_ipa(phonemes) == "jɪʃtʃo"
    assert info.source == "dictionary" and info.position == 1


def test_dictionary_beats_heuristic(tmp_path):
    word = "кракозябра"  # not a Russian word: heuristics decide by default
    default = RussianPhonemeProcessor()
    _, info = default.process_word(word)
    assert (info.position, info.source) == (2, "heuristic")  # the suffix table: -я́бра
    path = tmp_path / "stress.tsv"
    path.write_text("# my words\nкракозябра\t0\t# first syllable\n\nговорить\t0\n", encoding="utf-8")
    custom = RussianPhonemeProcessor(stress_dict_path=path)
    _, info = custom.process_word(word)
    assert (info.position, info.source) == (0, "dictionary")
    # The user's dictionary also wins over the built-in lexicon.
    assert custom.process_word("говорить")[1].position == 0


def test_stress_dict_accepts_marked_words(tmp_path):
    path = tmp_path / "stress.tsv"
    path.write_text("зам+ок\nкра́сивый\n", encoding="utf-8")
    p = RussianPhonemeProcessor(stress_dict_path=path)
    assert p.process_word("замок")[1].position == 1
    assert p.process_word("красивый")[1].position == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("слово\tдва\n", "integer"),
        ("слово\t5\n", "syllable"),
        ("слово\n", "expected"),
        ("брр\t0\n", "no vowel"),
    ],
)
def test_stress_dict_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text("# header\n" + content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as excinfo:
        RussianPhonemeProcessor(stress_dict_path=path)
    assert f"{path}:2" in str(excinfo.value)


def test_missing_stress_dict_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="stress dictionary"):
        RussianPhonemeProcessor(stress_dict_path=tmp_path / "nope.tsv")


def test_add_stress_wins_and_clears_cache():
    p = RussianPhonemeProcessor()
    heuristic = StressInfo(2, 6, False, "heuristic")
    assert p.process_word("кракозябра")[1] == heuristic
    p.add_stress("кракозябра", 1)
    assert p.process_word("кракозябра")[1] == StressInfo(1, 4, False, "dictionary")
    p.remove_stress("кракозябра")
    assert p.process_word("кракозябра")[1] == heuristic
    with pytest.raises(ValueError):
        p.add_stress("кот", 3)


def test_monosyllable_and_no_vowel(processor):
    assert processor.process_word("кот")[1] == StressInfo(0, 1, False, "monosyllable")
    phonemes, info = processor.process_word("в")
    assert phonemes == ["f"] and info == StressInfo(-1, -1, False, "none")


def test_heuristic_floor_without_lexicon():
    bare = RussianPhonemeProcessor(use_lexicon=False)
    assert bare.process_word("читать")[1].position == 1  # infinitive: ending
    assert bare.process_word("красный")[1].position == 0  # -ный: root
    assert bare.process_word("молоко")[1].position == 1  # default: penultimate
    assert bare.process_word("молоко")[1].source == "heuristic"
    phonemes, info = bare.process_word("красная")  # -ная: root, third from the end
    assert (bare.to_ipa(phonemes), info.position) == ("krasnəjə", 0)


@pytest.mark.parametrize(
    "word, syllable",
    [
        ("читать", 1),    # infinitive: the ending
        ("нести", 1),
        ("красная", 0),   # -ная/-ное/-ные: the root before the suffix, third from the end
        ("главное", 0),
        ("данные", 0),
    ],
)
def test_seed_heuristic_rules(word, syllable):
    """Each rule of `seed_heuristic_stress` gets the lexicon's stress where the penultimate
    (the rule it overrides) would not."""
    assert seed_heuristic_stress(word) == syllable == load_stress_lexicon().lookup(word).syllable
    assert penultimate_stress(word) != syllable


@pytest.mark.parametrize("word", ["интересный", "возможность", "известность"])
def test_seed_heuristic_root_of_ny_and_ost_is_penultimate(word):
    """-ный and -ость/-есть stress the root too, which is the penultimate syllable: no rule
    of their own (the third from the end, the scripts' old answer, is wrong here)."""
    assert seed_heuristic_stress(word) == penultimate_stress(word)
    assert seed_heuristic_stress(word) == load_stress_lexicon().lookup(word).syllable


def test_hyphenated_words(processor):
    phonemes, info = processor.process_word("кто-нибудь")
    assert processor.to_ipa(phonemes) == "ktonʲibutʲ"
    assert info.position == 0
    phonemes, info = processor.process_word("по-русски")
    assert processor.to_ipa(phonemes) == "pəruskʲi"
    assert info.position == 1


# ----------------------------------------------------------------------------- text

def test_text_keeps_punctuation_and_boundaries(processor):
    assert processor.text_to_phonemes("Да, нет.") == ["d", "a", ",", " ", "nʲ", "e", "t", "."]


def test_text_expands_numbers(processor):
    words = [w for w, _, _ in processor.process_text("У меня 21 кот")]
    assert words == ["у", "меня", "двадцать", "один", "кот"]


def test_proclitics_join_the_next_word(processor):
    seq = processor.text_to_phonemes("в школу")
    assert seq[:2] == ["f", " "]
    assert processor.text_to_phonemes("с домом")[0] == "z"
    assert processor.text_to_phonemes("в окно")[0] == "v"
    assert processor.text_to_phonemes("к брату")[0] == "g"


def test_indices_and_stress_pattern_line_up(processor):
    text = "Говорить по-русски, пожалуйста!"
    ids = processor.text_to_indices(text)
    pattern = processor.get_stress_pattern(text)
    assert len(ids) == len(pattern)
    symbols = [processor.get_phoneme_list()[i] for i in ids]
    assert symbols == processor.text_to_phonemes(text)
    stressed = [s for s, flag in zip(symbols, pattern, strict=True) if flag]
    assert stressed == ["i", "u", "a"]  # говорИть, по-рУсски, пожАлуйста
    assert processor.unk_id not in ids


def test_stress_pattern_seed_example(processor):
    pattern = processor.get_stress_pattern("говорить по-русски")
    assert pattern == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0]


def test_latin_lookalikes_are_mapped(processor):
    # "мoлoкo" typed with Latin o
    assert processor.text_to_ipa("мoлoкo") == processor.text_to_ipa("молоко") == "mələko"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ""),
        ("   ", ""),
        ("🙂🙂", ""),
        ("...", ""),
        ("-", ""),
        ("ъ", ""),
        ("\u0301", ""),
        ("привет 😀 мир", "prʲivʲet mʲir"),
        ("ыыыыыы", "ɨɨɨɨɨɨ"),
        ("Москва-река", "məskvərʲɪka"),
        ("рус+", "rus"),
        ("а" * 500, "ə" * 496 + "aəəə"),  # the suffix table: -ааа, fourth vowel from the end
    ],
)
def test_malformed_text_never_raises(processor, text, expected):
    ids = processor.text_to_indices(text)
    assert processor.text_to_ipa(text) == expected
    assert [processor.get_phoneme_list()[i] for i in ids] == processor.text_to_phonemes(text)
    assert len(processor.get_stress_pattern(text)) == len(ids)


def test_digits_and_latin_are_read(processor):
    assert processor.text_to_ipa("123") == "sto dvatsətʲ trʲi"  # сто двадцать три
    assert processor.text_to_ipa("Hello world") == "xɪlou vorlt"  # the Latin dictionary
    assert processor.text_to_ipa("Torvalds") == "tərvalts"  # letter by letter
    assert processor.text_to_phonemes("🙂") == []


@pytest.mark.parametrize("word", ["", "  ", "два слова", "42", "🙂"])
def test_process_word_rejects_non_words(processor, word):
    with pytest.raises(ValueError):
        processor.process_word(word)


def test_very_long_word(processor):
    phonemes, info = processor.process_word("рентгеноэлектрокардиографического" * 3)
    assert len(phonemes) == 99
    assert info == StressInfo(38, 91, False, "heuristic")  # the suffix table: -и́ческого
    assert phonemes[info.vowel_index] == "i"


# ----------------------------------------------------------------------------- vocabulary

def test_vocabulary_is_stable_and_complete(processor):
    phonemes = processor.get_phoneme_list()
    assert phonemes[:4] == ["<pad>", "<unk>", "<eos>", " "]
    assert processor.get_vocab_size() == len(PHONEME_INVENTORY) == len(set(phonemes))
    assert processor.phoneme_to_id["<pad>"] == 0
    # Every symbol either preset can write is in the inventory.
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю! Щука? Цирк: жёлтый…"
    for rules in PRESETS.values():
        p = RussianPhonemeProcessor(rules=rules)
        assert set(p.text_to_phonemes(text)) <= set(phonemes)


# ----------------------------------------------------------------------------- state

def test_to_dict_from_dict_round_trip(tmp_path):
    p = RussianPhonemeProcessor(rules="academic")
    p.add_stress("кракозябра", 0)
    state = p.to_dict()
    q = RussianPhonemeProcessor.from_dict(state)
    assert q.rules == p.rules
    assert q.get_phoneme_list() == p.get_phoneme_list()
    assert q.process_word("кракозябра") == p.process_word("кракозябра")
    text = "Говорить по-русски, пожалуйста!"
    assert q.text_to_indices(text) == p.text_to_indices(text)
    with pytest.raises(ValueError, match="format"):
        RussianPhonemeProcessor.from_dict({"rules": {}})


def test_pickle_holds_plain_data():
    p = RussianPhonemeProcessor()
    p.add_stress("кракозябра", 2)
    blob = pickle.dumps(p)
    q = pickle.loads(blob)
    assert q.process_word("кракозябра") == p.process_word("кракозябра")
    assert b"functools" not in blob


def test_caches_and_clear_cache():
    p = RussianPhonemeProcessor()
    p.process_word("молоко")
    p.process_word("молоко")
    p.text_to_indices("молоко")
    p.text_to_indices("молоко")
    stats = p.get_cache_info()
    # Words: the second process_word and both texts hit; the text: the second call hits.
    assert (stats["process_word_cache"].hits, stats["process_word_cache"].misses) == (3, 1)
    assert (stats["normalize_text_cache"].hits, stats["normalize_text_cache"].misses) == (1, 1)
    p.clear_cache()
    stats = p.get_cache_info()
    assert stats["process_word_cache"].currsize == 0
    assert stats["normalize_text_cache"].currsize == 0


def test_cached_result_is_not_shared_mutable(processor):
    phonemes, _ = processor.process_word("молоко")
    phonemes.append("x")
    assert processor.process_word("молоко")[0][-1] == "o"


def test_rules_are_json_serialisable():
    from dataclasses import asdict

    for rules in PRESETS.values():
        assert PhonemeRules(**json.loads(json.dumps(asdict(rules)))) == rules


def test_every_rule_changes_each_of_its_examples(processor):
    from kokoro_nb.text import RULE_ORDER
    from kokoro_nb.text.analysis import rule_effects
    from kokoro_nb.text.phonemes import RULE_EXAMPLES

    rows = rule_effects(processor)
    assert {row["rule"] for row in rows} == set(RULE_ORDER) == set(RULE_EXAMPLES)
    unchanged = [(row["rule"], row["word"]) for row in rows if not row["changed"]]
    assert not unchanged


# ----------------------------------------------------------------------------- G2P_VERSION

# sha256 of what `g2p_output` returns, by G2P_VERSION. When the output changes on purpose,
# bump G2P_VERSION in kokoro_nb/text/phonemes.py and add the new digest here.
G2P_DIGESTS = {
    1: "a12525917b32e6b571f8bff73f8fa8c98fa511228d53e7f05fede480468c95e3",
    2: "cbedd54d748d9a6f048dac910a1214751635ef6373ac2c41a3cd85dee3562fc7",  # -ная/-ное/-ные
    3: "0e61ebe2dedf67b320cfd02a36b93e0ff676914f3e7a384bd2c87af9c79524c0",  # clitics (phrase.py)
    4: "3c2f96fa2969196fb8d6347e8b48ea4750c652562e8510a5f507b51c448cb926",  # трёх-, е, э, softness, сш
    5: "3c2f96fa2969196fb8d6347e8b48ea4750c652562e8510a5f507b51c448cb926",  # expansions.py (not in this text)
    6: "b8fbd050537be97f89962c01ed1df5bd8c0c85c8aa286661c42b29e264988c29",  # context.py; a third text
    7: "79c26d611a27e3970b033ff06a060ba3e5d4196fa8d33dc2fdfea5df77be7370",  # пятьсот, Россия
    8: "5328b0270bc4ab16a0a4eeea9d8f4242516fefe494fcb84361fa7b98fb21f078",  # default: ɐ, ikanye
    9: "5328b0270bc4ab16a0a4eeea9d8f4242516fefe494fcb84361fa7b98fb21f078",  # cases (not in this text)
}


def g2p_output() -> str:
    """Ids and stress flags of every 50th lexicon word, the rule examples and a few texts,
    under both presets, with and without the lexicon, as one JSON string."""
    from kokoro_nb.text.phonemes import RULE_EXAMPLES

    words = list(load_stress_lexicon())[::50]
    words += [word for examples in RULE_EXAMPLES.values() for word in examples]
    texts = [" ".join(words), "В 1812 году было 3,5 тысячи. Кто-нибудь, в школу с домом: кракозябра!",
             "Нет руки, и все было хорошо: замок стоит на горе, с 5 друзьями."]  # since 6
    out = []
    for rules in PRESETS:
        for use_lexicon in (True, False):
            p = RussianPhonemeProcessor(rules=rules, use_lexicon=use_lexicon)
            out.append([(p.text_to_indices(t), p.get_stress_pattern(t)) for t in texts])
    return json.dumps([p.get_phoneme_list(), out], ensure_ascii=False)


def test_g2p_version_names_the_output():
    """Cached features key on G2P_VERSION: output that changes must come with a new version."""
    digest = hashlib.sha256(g2p_output().encode("utf-8")).hexdigest()
    assert G2P_DIGESTS.get(G2P_VERSION) == digest, (
        f"the G2P output changed (sha256 {digest}): bump G2P_VERSION and record the digest"
    )


# ----------------------------------------------------------------------------- later rules


def test_final_e_rule_keeps_знание_apart_from_знания():
    assert ipa_with("зн+ание") == "znanʲijɪ" and ipa_with("зн+ания") == "znanʲijə"
    assert ipa_with("зн+ание", final_e=False) == ipa_with("зн+ания") == "znanʲijə"
    assert ipa_with("здр+авствуйте") == "zdrastvujtʲɪ"


def test_unstressed_e_rule():
    assert ipa_with("эт+аж") == "ɪtaʃ" and ipa_with("эт+аж", unstressed_e=False) == "etaʃ"
    assert ipa_with("+это") == "etə"  # stressed э stays


def test_soft_assimilation_rule():
    cases = {"к+ость": "kosʲtʲ", "п+есня": "pʲesʲnʲə", "б+антик": "banʲtʲik",
             "к+ончик": "konʲtʃik", "ж+енщина": "ʒenʲʃtʃinə"}
    for word, expected in cases.items():
        assert ipa_with(word) == expected, word
    assert ipa_with("к+ость", soft_assimilation=False) == "kostʲ"
    assert ipa_with("м+ост") == "most"  # nothing soft to assimilate to


def test_sibilant_merge_rule():
    assert ipa_with("сш+ить") == "ʃʃɨtʲ" and ipa_with("сш+ить", sibilant_merge=False) == "sʃɨtʲ"
    assert ipa_with("сж+ечь") == "ʒʒetʃ"  # voiced first, then merged
    assert RussianPhonemeProcessor().text_to_ipa("с шумом") == "ʃ ʃuməm"  # across the joint


def test_numeral_compounds_stress_their_second_part():
    processor = RussianPhonemeProcessor()
    for word, syllable in (("трёхсотом", 1), ("четырёхсот", 3), ("трёхэтажный", 2)):
        _, info = processor.process_word(word)
        assert (info.position, info.source) == (syllable, "compound"), word
    assert processor.process_word("трёх")[1].source == "yo"  # alone, the ё is the stress
    # The number reader writes such words: в 300-м году -> в трёхсотом году.
    stressed = {w: s.position for w, _, s in processor.process_text("в 300-м году")}
    assert stressed["трёхсотом"] == 1


def test_processors_saved_before_the_later_rules_read_without_them():
    from kokoro_nb.text.phonemes import RULES_ADDED_LATER

    state = RussianPhonemeProcessor(rules="seed").to_dict()  # what the older default was
    old = dict(state, rules={k: v for k, v in state["rules"].items()
                             if k not in RULES_ADDED_LATER})
    restored = RussianPhonemeProcessor.from_dict(old)
    assert not any(getattr(restored.rules, name) for name in RULES_ADDED_LATER)
    assert restored.text_to_ipa("кость знание") == "kostʲ znanʲijə"


def test_numeral_clusters_and_doubled_consonants():
    assert ipa_with("пятьс+от") == "pʲɪtsot" and ipa_with("шестьдес+ят") == "ʃəzʲdʲɪsʲat"
    assert ipa_with("Росс+ия") == "rəsʲijə" and ipa_with("к+асса") == "kassə"
    assert ipa_with("подд+ержка").startswith("pədd")  # a prefix doubles it: stays long
