"""kokoro_nb.plots: each figure has its panels and draws all of the data it is given."""

from collections import Counter

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from kokoro_nb import plots
from kokoro_nb.audio import mel_spectrogram, mel_statistics
from kokoro_nb.config import AudioConfig

CONFIG = AudioConfig()
SR = CONFIG.sample_rate


@pytest.fixture
def close_figures():
    figures = []
    yield figures
    for fig in figures:
        plt.close(fig)


def chirp(seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * SR), dtype=torch.float64) / SR
    return (0.5 * torch.sin(2 * np.pi * (200 + 2000 * t) * t)).float()


def rows(n: int = 17) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"duration_s": float(rng.uniform(1, 5)), "chars": int(rng.integers(10, 80)),
             "phonemes_per_s": float(rng.uniform(10, 18)), "frames_per_phoneme": float(rng.uniform(4, 8))}
            for _ in range(n)]


def test_corpus_histograms_count_every_row_in_each_panel(close_figures):
    fig = plots.plot_corpus_histograms(rows(17), bins=5)
    close_figures.append(fig)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    for ax, (_, label) in zip(fig.axes[:4], plots.CORPUS_HISTOGRAMS, strict=True):
        assert sum(patch.get_height() for patch in ax.patches) == 17
        assert ax.get_xlabel() == label


def test_character_coverage_has_one_bar_per_character_most_frequent_first(close_figures):
    fig = plots.plot_character_coverage(Counter({"а": 10, " ": 30, "ё": 1}))
    close_figures.append(fig)
    (ax,) = fig.axes
    assert [p.get_height() for p in ax.patches] == [30, 10, 1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["␣", "а", "ё"]
    assert ax.get_yscale() == "log"


def test_frame_lengths_draws_every_clip_and_one_line_per_limit(close_figures):
    fig = plots.plot_frame_lengths([100, 250, 900], [200, 800], CONFIG)
    close_figures.append(fig)
    (ax,) = fig.axes
    assert sum(p.get_height() for p in ax.patches) == 3
    assert len(ax.lines) == 2


def test_waveform_and_mel_share_the_time_axis_in_seconds(close_figures):
    wave = chirp(0.5)
    mel = mel_spectrogram(wave, CONFIG)
    fig = plots.plot_waveform_and_mel(wave, mel, CONFIG, title="chirp")
    close_figures.append(fig)
    top, bottom = fig.axes[:2]
    assert len(top.lines[0].get_xdata()) == wave.shape[0]
    image = bottom.images[0]
    assert image.get_array().shape == tuple(mel.shape)
    assert image.get_extent()[1] == pytest.approx(mel.shape[1] * CONFIG.hop_length / SR)
    assert image.get_extent()[3] == CONFIG.n_mels
    assert top.get_title() == "chirp"


def test_mel_steps_are_the_pieces_of_mel_spectrogram():
    steps = plots.mel_steps(chirp(0.3), CONFIG)
    n_freqs = CONFIG.n_fft // 2 + 1
    assert steps["stft_db"].shape == (n_freqs, steps["log_mel"].shape[1])
    assert steps["filterbank"].shape == (n_freqs, CONFIG.n_mels)
    magnitude = 10 ** (steps["stft_db"] / 20)
    rebuilt = torch.log(torch.clamp(steps["filterbank"].T @ magnitude, min=CONFIG.log_floor))
    assert torch.allclose(rebuilt, steps["log_mel"], atol=1e-3)
    # Nothing above f_max reaches the mel.
    assert not steps["filterbank"][int(CONFIG.f_max / SR * CONFIG.n_fft) + 2:].any()


def test_mel_steps_figure_has_four_panels_and_every_triangle(close_figures):
    config = AudioConfig(n_mels=40)
    steps = plots.mel_steps(chirp(0.3), config)
    fig = plots.plot_mel_steps(steps, config, title="steps")
    close_figures.append(fig)
    wave_ax, stft_ax, bank_ax, mel_ax = fig.axes[:4]
    assert len(wave_ax.lines[0].get_xdata()) == steps["wave"].shape[0]
    assert stft_ax.images[0].get_array().shape == tuple(steps["stft_db"].shape)
    assert len(bank_ax.lines) == 40
    assert len(bank_ax.lines[0].get_xdata()) == config.n_fft // 2 + 1
    assert mel_ax.images[0].get_array().shape == (40, steps["log_mel"].shape[1])


def test_mel_statistics_plot_has_one_point_per_channel(close_figures):
    stats = mel_statistics([mel_spectrogram(chirp(0.4), CONFIG), mel_spectrogram(chirp(0.2), CONFIG)])
    fig = plots.plot_mel_statistics(stats)
    close_figures.append(fig)
    (ax,) = fig.axes
    mean_line = ax.lines[0]
    assert list(mean_line.get_ydata()) == pytest.approx(stats["mean"])
    assert len(ax.collections) == 1  # the ± std band


def test_plots_do_not_choose_a_backend():
    source = plots.__file__
    with open(source, encoding="utf-8") as handle:
        assert "matplotlib.use(" not in handle.read()
    assert matplotlib.get_backend()  # whatever the caller chose stays
