"""The notebook widgets, driven the way a learner drives them (setting values, clicking)."""

from kokoro_nb.text import RussianPhonemeProcessor
from kokoro_nb.widgets import PhonemeExplorer, PresetComparison


def test_explorer_shows_ipa_and_stress_source():
    explorer = PhonemeExplorer(text="говорить")
    assert "rʲ<b><u>i</u></b>tʲ" in explorer.table.value
    assert "dictionary" in explorer.table.value
    explorer.text.value = "ёлка"
    assert ">yo<" in explorer.table.value


def test_switching_a_rule_off_changes_ipa_and_lists_the_change():
    explorer = PhonemeExplorer(text="молоко")
    before = explorer.ipa.value
    assert explorer.changes.value == ""
    explorer.switches["vowel_reduction"].value = False
    assert explorer.ipa.value != before and "/moloko/" in explorer.ipa.value
    assert "/mələko/" in explorer.changes.value
    explorer.switches["vowel_reduction"].value = True
    assert explorer.ipa.value == before


def test_preset_switch_updates_checkboxes_and_ipa():
    explorer = PhonemeExplorer(text="жена")
    explorer.preset.value = "academic"
    assert "ʐ" in explorer.ipa.value
    assert all(box.value for box in explorer.switches.values())


def test_stress_dictionary_entry_wins():
    explorer = PhonemeExplorer(processor=RussianPhonemeProcessor(), text="кракозябра")
    assert "heuristic" in explorer.table.value
    explorer.dict_word.value = "кракозябра"
    explorer.dict_syllable.value = 0
    explorer.dict_add.click()
    assert "dictionary" in explorer.table.value and "added" in explorer.dict_status.value
    assert "kr<b><u>a</u></b>k" in explorer.table.value


def test_bad_dictionary_entry_shows_an_error():
    explorer = PhonemeExplorer(text="кот")
    explorer.dict_word.value = "кот"
    explorer.dict_syllable.value = 5
    explorer.dict_add.click()
    assert "syllable" in explorer.dict_status.value


def test_preset_comparison_marks_differences():
    comparison = PresetComparison("молоко")
    assert "mələko" in comparison.table.value and "məlɐko" in comparison.table.value
    assert "#fff3cd" in comparison.table.value
