"""kokoro_nb.audio on real files: reading every format, trimming, mel features, Griffin-Lim."""

import dataclasses
import math
import re

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from kokoro_nb import audio
from kokoro_nb.audio import (
    AudioLoadError,
    frames_for_samples,
    griffin_lim,
    load_audio,
    mel_spectrogram,
    mel_statistics,
    mel_to_audio,
    mel_to_linear,
    read_audio,
    spectral_distance,
    write_audio,
)
from kokoro_nb.config import AudioConfig

CONFIG = AudioConfig()
SR = CONFIG.sample_rate


def tone(frequency: float, seconds: float, sample_rate: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def sine_sweep(f0: float = 200.0, f1: float = 4000.0, seconds: float = 1.5) -> torch.Tensor:
    """Exponential sweep f0 -> f1: every mel band between them gets some energy.

    The phase is computed in float64: in float32 it grows large enough to pick up rounding
    noise, a broadband floor that would dominate the round-trip distance.
    """
    t = torch.arange(round(seconds * SR), dtype=torch.float64) / SR
    rate = math.log(f1 / f0) / seconds
    return (0.5 * torch.sin(2 * math.pi * f0 * (torch.exp(rate * t) - 1) / rate)).float()


# --------------------------------------------------------------------------- reading

FORMATS = [
    # suffix, container, subtype, largest expected sample error
    ("wav", "WAV", "PCM_16", 1 / 2**15),
    ("wav", "WAV", "PCM_U8", 1 / 2**7),
    ("wav", "WAV", "FLOAT", 0.0),
    ("flac", "FLAC", "PCM_16", 1 / 2**15),
]


@pytest.mark.parametrize("suffix,container,subtype,tolerance", FORMATS,
                         ids=[f"{c}-{s}" for _, c, s, _ in FORMATS])
def test_read_audio_decodes_each_format(tmp_path, suffix, container, subtype, tolerance):
    original = tone(440, 0.5)
    path = tmp_path / f"clip.{suffix}"
    sf.write(path, original, SR, format=container, subtype=subtype)
    data, sample_rate = read_audio(path)
    assert sample_rate == SR
    assert data.dtype == np.float32 and data.shape == (1, len(original))
    assert np.abs(data[0] - original).max() <= tolerance + 1e-7


def test_read_audio_decodes_ogg_vorbis(tmp_path):
    original = tone(440, 0.5)
    path = tmp_path / "clip.ogg"
    try:
        sf.write(path, original, SR, format="OGG", subtype="VORBIS")
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as error:
        pytest.skip(f"this libsndfile cannot write Ogg Vorbis: {error}")
    data, sample_rate = read_audio(path)
    assert sample_rate == SR and data.shape == (1, len(original))
    # Vorbis is lossy: the waveform is close, not equal.
    assert np.corrcoef(data[0], original)[0, 1] > 0.99


def test_load_audio_mixes_stereo_44k_to_mono_22k(tmp_path):
    left, right = tone(440, 1.0, 44_100, 0.6), tone(440, 1.0, 44_100, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44_100, subtype="FLOAT")
    wave, info = load_audio(path, CONFIG, trim=False)
    assert wave.dtype == torch.float32 and wave.shape == (22_050,)
    assert info == audio.AudioInfo(original_sample_rate=44_100, channels=2, original_samples=44_100,
                                   duration_s=1.0, peak=pytest.approx(0.6, abs=1e-6),
                                   resampled=True, trimmed_s=0.0)
    # The mono mix is the mean, 0.4 * sine; away from the edges resampling keeps it.
    assert wave[1000:-1000].abs().max() == pytest.approx(0.4, abs=0.01)
    spectrum = np.abs(np.fft.rfft(wave.numpy()))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)  # 1 s clip: bin k is k Hz


def test_load_audio_leaves_a_22k_mono_file_alone(tmp_path):
    original = tone(440, 0.5)
    path = tmp_path / "clip.wav"
    sf.write(path, original, SR, subtype="FLOAT")
    wave, info = load_audio(path, CONFIG, trim=False)
    assert not info.resampled and info.channels == 1 and info.trimmed_s == 0.0
    assert torch.equal(wave, torch.from_numpy(original))


def test_a_wav_cut_in_half_reads_what_is_there(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, tone(440, 1.0), SR, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    # libsndfile trusts the bytes present over the header's data size.
    samples, sample_rate = read_audio(path)
    assert sample_rate == SR and 0 < samples.shape[1] < SR


@pytest.mark.parametrize("keep_bytes,reason", [(20, "not a readable audio file"), (44, "no samples")],
                         ids=["inside-header", "header-only"])
def test_a_wav_cut_at_the_header_is_an_error(tmp_path, keep_bytes, reason):
    path = tmp_path / "cut.wav"
    sf.write(path, tone(440, 1.0), SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:keep_bytes])
    with pytest.raises(AudioLoadError, match=re.escape(str(path)) + ".*" + reason):
        read_audio(path)


def _zero_length(path):
    path.write_bytes(b"")


def _directory(path):
    path.mkdir()


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def _nan_samples(path):
    sf.write(path, np.array([0.0, np.nan, 0.5], dtype=np.float32), SR, subtype="FLOAT")


@pytest.mark.parametrize("make,reason", [
    (_zero_length, "empty file"),
    (_directory, "is a directory"),
    (lambda path: None, "no such file"),
    (_random_bytes, "not a readable audio file"),
    (_nan_samples, "NaN"),
], ids=["zero-length", "directory", "missing", "random-bytes", "nan"])
def test_unreadable_files_raise_audio_load_error_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "x.wav"
    make(path)
    with pytest.raises(AudioLoadError, match=re.escape(str(path)) + ".*" + reason):
        read_audio(path)
    with pytest.raises(AudioLoadError):
        load_audio(path, CONFIG)
    assert issubclass(AudioLoadError, ValueError)


# --------------------------------------------------------------------------- trim and peak

def test_trim_removes_the_silence_around_a_tone_and_keeps_the_margins(tmp_path):
    noise = np.random.default_rng(0).normal(0, 1e-3, SR).astype(np.float32)  # -54 dB below the tone
    clip = np.concatenate([noise, tone(440, 0.5), noise])
    path = tmp_path / "padded.wav"
    sf.write(path, clip, SR, subtype="FLOAT")

    wave, info = load_audio(path, CONFIG)  # trim defaults to config.trim_silence (True)
    expected = 0.5 + 2 * CONFIG.trim_margin_s
    block = CONFIG.hop_length / SR  # trimming works in hop-sized blocks
    assert abs(info.duration_s - expected) <= 2 * block
    assert info.trimmed_s == pytest.approx(len(clip) / SR - info.duration_s)
    assert wave.shape[0] == round(info.duration_s * SR)

    untrimmed, info = load_audio(path, CONFIG, trim=False)
    assert untrimmed.shape[0] == len(clip) and info.trimmed_s == 0.0


def test_trim_leaves_an_all_silent_clip_unchanged(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SR // 2, dtype=np.float32), SR, subtype="PCM_16")
    wave, info = load_audio(path, CONFIG, trim=True)
    assert wave.shape == (SR // 2,) and info.trimmed_s == 0.0
    assert not wave.any()


def test_trim_keeps_a_clip_that_is_loud_throughout():
    wave = torch.from_numpy(tone(440, 0.5))
    assert torch.equal(audio.trim_silence(wave, CONFIG), wave)


def test_clips_above_full_scale_are_scaled_down_quiet_ones_are_not(tmp_path):
    loud = tone(440, 0.5, amplitude=2.0)
    sf.write(tmp_path / "loud.wav", loud, SR, subtype="FLOAT")
    wave, info = load_audio(tmp_path / "loud.wav", CONFIG, trim=False)
    assert info.peak == pytest.approx(2.0, abs=1e-4)  # as decoded: tells the corpus report
    assert float(wave.abs().max()) == pytest.approx(audio.PEAK_SAFE_LEVEL, abs=1e-6)

    quiet = tone(440, 0.5, amplitude=0.1)
    sf.write(tmp_path / "quiet.wav", quiet, SR, subtype="FLOAT")
    wave, info = load_audio(tmp_path / "quiet.wav", CONFIG, trim=False)
    assert float(wave.abs().max()) == pytest.approx(0.1, abs=1e-4)


# --------------------------------------------------------------------------- mel features

@pytest.mark.parametrize("n_samples", [100, 300, 512, 513, 1000, SR])
def test_mel_shape_is_n_mels_by_one_plus_samples_over_hop(n_samples):
    wave = torch.from_numpy(np.random.default_rng(1).normal(0, 0.1, n_samples).astype(np.float32))
    mel = mel_spectrogram(wave, CONFIG)
    assert mel.shape == (80, 1 + n_samples // 256) == (CONFIG.n_mels, frames_for_samples(n_samples, CONFIG))
    assert mel.dtype == torch.float32 and torch.isfinite(mel).all()


def test_mel_of_a_batch_matches_one_clip_at_a_time():
    batch = torch.from_numpy(np.random.default_rng(2).normal(0, 0.1, (3, 5000)).astype(np.float32))
    mels = mel_spectrogram(batch, CONFIG)
    assert mels.shape == (3, 80, 1 + 5000 // 256)
    for wave, mel in zip(batch, mels, strict=True):
        torch.testing.assert_close(mel, mel_spectrogram(wave, CONFIG))


def test_mel_floor_silence_is_log_floor_and_nothing_goes_below():
    silence = mel_spectrogram(torch.zeros(SR // 2), CONFIG)
    torch.testing.assert_close(silence, torch.full_like(silence, math.log(CONFIG.log_floor)))
    noise = mel_spectrogram(torch.randn(SR // 2, generator=torch.Generator().manual_seed(0)) * 1e-4,
                            CONFIG)
    assert torch.isfinite(noise).all() and noise.min() >= math.log(CONFIG.log_floor) - 1e-6


def test_mel_of_a_1khz_sine_peaks_in_the_band_centred_nearest_1khz():
    mel = mel_spectrogram(torch.from_numpy(tone(1000, 0.5)), CONFIG)
    # Slaney mel band centres computed independently by librosa with the same settings.
    centres = librosa.mel_frequencies(n_mels=CONFIG.n_mels + 2, fmin=CONFIG.f_min,
                                      fmax=CONFIG.f_max, htk=CONFIG.mel_scale == "htk")[1:-1]
    expected = int(np.argmin(np.abs(centres - 1000)))
    assert int(mel.mean(dim=1).argmax()) == expected


def test_mel_equals_torchaudios_mel_spectrogram_with_the_same_settings():
    # The STFT and the shared filterbank must give exactly what torchaudio's own transform
    # gives (the feature cache's mels were computed that way).
    config = dataclasses.replace(CONFIG, n_mels=64, f_max=7000.0)
    wave = torch.randn(5000, generator=torch.Generator().manual_seed(1)) * 0.3
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
        hop_length=config.hop_length, f_min=config.f_min, f_max=config.f_max,
        n_mels=config.n_mels, power=1.0, center=True, pad_mode="reflect",
        norm=config.mel_norm, mel_scale=config.mel_scale)(wave)
    expected = torch.log(torch.clamp(reference, min=config.log_floor))
    assert torch.equal(audio.mel_spectrogram(wave, config), expected)


def test_the_filterbank_is_built_once_per_config():
    first = audio.mel_filterbank(CONFIG)
    assert audio.mel_filterbank(CONFIG) is first
    other = audio.mel_filterbank(dataclasses.replace(CONFIG, n_mels=40))
    assert other.shape == (CONFIG.n_fft // 2 + 1, 40)


def test_mel_rejects_a_wave_of_the_wrong_rank():
    with pytest.raises(ValueError, match="samples"):
        mel_spectrogram(torch.zeros(1, 2, 100), CONFIG)


# --------------------------------------------------------------------------- back to sound

def test_mel_to_linear_is_a_non_negative_magnitude_of_the_right_shape():
    mel = mel_spectrogram(sine_sweep(), CONFIG)
    linear = mel_to_linear(mel, CONFIG)
    assert linear.shape == (CONFIG.n_fft // 2 + 1, mel.shape[1])
    assert linear.min() >= 0
    # Above f_max (8 kHz) the filterbank sees nothing, so nothing comes back.
    assert not linear[int(CONFIG.f_max / SR * CONFIG.n_fft) + 2:].any()


def test_griffin_lim_round_trip_sounds_like_the_source_and_noise_does_not():
    sweep = sine_sweep()
    mel = mel_spectrogram(sweep, CONFIG)
    wave = mel_to_audio(mel, CONFIG, n_iter=32)
    assert wave.shape == ((mel.shape[1] - 1) * CONFIG.hop_length,)
    assert float(wave.abs().max()) <= audio.LISTENING_PEAK + 1e-6
    # The level follows the mel: same loudness as the source within ~2 dB.
    rms = lambda x: float(x.pow(2).mean().sqrt())  # noqa: E731
    assert 0.8 < rms(wave) / rms(sweep) < 1.25

    distance = spectral_distance(mel, mel_spectrogram(wave, CONFIG))
    # Measured 0.31 log units (~2.7 dB) with torch 2.14 / torchaudio 2.11 on CPU; the same
    # path with griffin_lim_power 1.0 measures 0.29, so the sharpening costs little here.
    # Threshold = 1.5 x measured, leaving room for other FFT back ends (MKL, pocketfft, MPS).
    threshold = 0.46
    assert distance < threshold
    noise = torch.randn(sweep.shape[0], generator=torch.Generator().manual_seed(0))
    noise = noise * (audio.LISTENING_PEAK / noise.abs().max())
    # White noise of the same length and peak measures 8.0: the check can fail.
    assert spectral_distance(mel, mel_spectrogram(noise, CONFIG)) > 10 * threshold


def test_griffin_lim_is_deterministic_and_leaves_the_global_rng_alone():
    linear = mel_to_linear(mel_spectrogram(sine_sweep(seconds=0.3), CONFIG), CONFIG)
    torch.manual_seed(123)
    first = griffin_lim(linear, CONFIG, n_iter=4)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)
    assert torch.equal(griffin_lim(linear, CONFIG, n_iter=4), first)


# --------------------------------------------------------------------------- writing

@pytest.mark.parametrize("name", ["out.wav", "out.flac"])
def test_write_audio_reads_back_and_leaves_no_temp_file(tmp_path, name):
    wave = torch.from_numpy(tone(440, 0.5, amplitude=0.8))
    path = write_audio(tmp_path / name, wave, SR)
    assert path == tmp_path / name
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    info = sf.info(path)
    assert info.subtype == "PCM_16" and info.format == name.split(".")[1].upper()
    data, sample_rate = read_audio(path)
    assert sample_rate == SR and data.shape == (1, wave.shape[0])
    assert np.abs(data[0] - wave.numpy()).max() <= 1 / 2**15


def test_write_audio_clips_overs_and_refuses_unknown_suffixes(tmp_path):
    path = write_audio(tmp_path / "loud.wav", np.array([0.0, 1.5, -1.5], dtype=np.float32), SR)
    data, _ = read_audio(path)
    assert data[0, 1] == pytest.approx(1.0, abs=1e-4) and data[0, 2] == pytest.approx(-1.0, abs=1e-4)
    with pytest.raises(ValueError, match="mp3"):
        write_audio(tmp_path / "out.mp3", np.zeros(10), SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loud.wav"]


# --------------------------------------------------------------------------- statistics

def test_mel_statistics_streamed_equal_those_of_the_concatenation():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(80, 37, generator=generator) * 2 - 5
    b = torch.randn(80, 101, generator=generator) + torch.linspace(-11, 1, 80)[:, None]
    stats = mel_statistics(iter([a, b]))
    both = torch.cat([a, b], dim=1).double()
    assert stats["n_mels"] == 80 and stats["frames"] == 138
    np.testing.assert_allclose(stats["mean"], both.mean(dim=1).numpy(), atol=1e-5)
    np.testing.assert_allclose(stats["std"], both.std(dim=1, unbiased=False).numpy(), atol=1e-5)
    assert stats["global_mean"] == pytest.approx(float(both.mean()), abs=1e-5)
    assert stats["global_std"] == pytest.approx(float(both.std(unbiased=False)), abs=1e-5)
    assert stats["min"] == pytest.approx(float(both.min()), abs=1e-5)
    assert stats["max"] == pytest.approx(float(both.max()), abs=1e-5)


def test_mel_statistics_needs_mels_of_one_shape():
    with pytest.raises(ValueError, match="at least one"):
        mel_statistics([])
    with pytest.raises(ValueError, match="channels"):
        mel_statistics([torch.zeros(80, 3), torch.zeros(40, 3)])


def test_spectral_distance_compares_common_frames():
    mel = mel_spectrogram(sine_sweep(seconds=0.3), CONFIG)
    assert spectral_distance(mel, mel) == 0.0
    assert spectral_distance(mel, mel[:, :10]) == 0.0
    assert spectral_distance(mel, mel + 0.5) == pytest.approx(0.5, abs=1e-6)


def test_pitch_contour_follows_a_rising_tone():
    """pYIN finds the frequency of a tone, and a tone gliding up ends with a final rise."""
    from kokoro_nb.audio import pitch_contour

    sr, seconds = CONFIG.sample_rate, 1.5
    t = torch.arange(int(sr * seconds)) / sr
    steady = pitch_contour(0.5 * torch.sin(2 * math.pi * 150 * t), CONFIG)
    assert abs(float(np.nanmedian(steady.f0)) - 150) < 3
    assert abs(steady.final_movement()) < 0.5
    frequency = 120 + 60 * t / seconds  # 120 -> 180 Hz
    phase = 2 * math.pi * torch.cumsum(frequency, 0) / sr
    rising = pitch_contour(0.5 * torch.sin(phase), CONFIG)
    assert rising.final_movement() > 2  # the last fifth (~174 Hz) against the median (150)
    assert len(rising.times) == len(rising.f0)
