"""The notebook widgets, driven the way a learner drives them (setting values, clicking)."""

import io

import pytest
import soundfile as sf

from kokoro_nb.corpus import demo_corpus_dir, validate_corpus
from kokoro_nb.text import RussianPhonemeProcessor
from kokoro_nb.widgets import MelExplorer, PhonemeExplorer, PresetComparison


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
    assert "/məlɐko/" in explorer.changes.value
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


# --------------------------------------------------------------------------- MelExplorer

@pytest.fixture(scope="module")
def demo_items():
    report = validate_corpus(demo_corpus_dir(), read_audio_data=False)
    return report.items[:2]


def test_mel_explorer_shows_a_plot_a_sound_and_the_shape(demo_items):
    explorer = MelExplorer(demo_items, max_seconds=1.0, n_iter=4)
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    wave, rate = sf.read(io.BytesIO(bytes(explorer.audio.value)))
    assert rate == 22050 and len(wave) > 0
    # 1.0 s = 22050 samples -> 1 + 22050 // 256 = 87 frames.
    assert "mel shape (80, 87)" in explorer.info.value
    assert "round-trip distance" in explorer.info.value


def test_changing_a_setting_changes_image_sound_and_shape(demo_items):
    explorer = MelExplorer(demo_items, max_seconds=1.0, n_iter=4)
    image, sound = explorer.image.value, explorer.audio.value
    explorer.n_mels.value = 40
    assert "mel shape (40, 87)" in explorer.info.value
    assert explorer.image.value != image and explorer.audio.value != sound

    image, sound = explorer.image.value, explorer.audio.value
    explorer.hop.value = 128
    assert "mel shape (40, 173)" in explorer.info.value  # 1 + 22050 // 128
    assert explorer.image.value != image and explorer.audio.value != sound

    image, sound = explorer.image.value, explorer.audio.value
    explorer.clip.value = demo_items[1].id
    assert explorer.image.value != image and explorer.audio.value != sound


def test_too_many_mels_for_the_fft_is_a_warning_not_an_error(demo_items):
    explorer = MelExplorer(demo_items, max_seconds=0.5, n_iter=2)
    explorer.n_fft.value = 512
    explorer.f_max.value = 4000
    explorer.n_mels.value = 128
    assert "mel shape (128," in explorer.info.value
    assert "all zero values" in explorer.info.value


def test_an_impossible_setting_shows_a_message_and_does_not_raise(demo_items):
    explorer = MelExplorer(demo_items, max_seconds=0.5, n_iter=2)
    explorer.config = explorer.config.__class__(sample_rate=16000)  # f_max 11025 > 8000 Hz
    explorer.f_max.value = 11025
    assert "ValueError" in explorer.info.value and "f_max" in explorer.info.value
    assert bytes(explorer.audio.value) == b""
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
