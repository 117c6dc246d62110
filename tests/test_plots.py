"""kokoro_nb.plots: each figure has its panels and draws all of the data it is given."""

from collections import Counter

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


def test_plots_keep_the_callers_backend():
    # A fresh interpreter whose caller chose the "pdf" backend: importing kokoro_nb.plots and
    # drawing (including the headless PNG writer) must leave that choice alone.
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('pdf'); import tempfile, torch, pathlib; "
            "from kokoro_nb import plots; plots.plot_attention(torch.eye(3)); "
            "plots.save_attention_png(torch.eye(3), pathlib.Path(tempfile.mkdtemp()) / 'a.png'); "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "pdf"


# --------------------------------------------------------------------------- model and training


def test_parameters_has_one_labelled_bar_per_module_in_order(close_figures):
    per_module = {"encoder.embedding": 8_576, "decoder.decoder_rnn": 657_408, "postnet": 185_328}
    fig = plots.plot_parameters(per_module)
    close_figures.append(fig)
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == list(per_module.values())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(per_module)
    assert "0.85 M" in ax.get_title()  # the total


def small_batch():
    from kokoro_nb.corpus import collate_batch

    examples = [{"id": f"item{i}", "ids": torch.arange(1, n + 1), "stress": torch.zeros(n, dtype=torch.long),
                 "mel": torch.zeros(t, 80)} for i, (n, t) in enumerate([(5, 10), (9, 16), (3, 7)])]
    return collate_batch(examples, frames_multiple=3)


def test_masks_draw_text_mask_mel_mask_and_stop_targets(close_figures):
    batch = small_batch()
    fig = plots.plot_masks(batch)
    close_figures.append(fig)
    assert len(fig.axes) == 3
    shapes = [tuple(ax.images[0].get_array().shape) for ax in fig.axes]
    assert shapes == [(3, 9), (3, 18), (3, 18)]
    assert fig.axes[1].images[0].get_array().sum() == 10 + 16 + 7  # real frames
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["item0", "item1", "item2"]


def test_attention_puts_steps_on_x_and_phonemes_on_y(close_figures):
    attention = torch.softmax(torch.randn(12, 5), dim=-1)  # (steps, phonemes)
    fig = plots.plot_attention(attention, title="one", text_length=4, step_length=10)
    close_figures.append(fig)
    ax = fig.axes[0]
    (image,) = ax.images
    assert image.get_array().shape == (5, 12)  # drawn transposed: phonemes are rows
    assert image.origin == "lower"
    assert image.get_clim() == (0, 1)
    assert ax.get_xlabel() == "decoder step" and ax.get_ylabel() == "phoneme"
    assert len(ax.lines) == 2  # where the padding starts
    assert len(fig.axes) == 2  # and a colour bar
    with pytest.raises(ValueError):
        plots.plot_attention(torch.zeros(2, 3, 4))


def test_attention_draws_into_a_given_axes_without_a_colour_bar(close_figures):
    fig, ax = plt.subplots()
    close_figures.append(fig)
    assert plots.plot_attention(np.full((4, 3), 0.02), ax=ax, vmax=None) is fig
    assert len(fig.axes) == 1
    assert ax.images[0].get_clim()[1] == pytest.approx(0.02)


def test_attention_grid_has_one_image_per_matrix_on_one_scale(close_figures):
    matrices = [torch.full((6, 4), 0.25), torch.full((6, 4), 0.1), torch.eye(6, 4)]
    fig = plots.plot_attention_grid(matrices, ["a", "b", "c"], columns=2, vmax=None)
    close_figures.append(fig)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 3
    assert [ax.get_title() for ax in drawn] == ["a", "b", "c"]
    assert all(ax.images[0].get_clim() == (0, 1.0) for ax in drawn)  # the largest weight
    assert sum(ax.get_visible() for ax in fig.axes) == 4  # 3 panels + a colour bar; the 4th cell hidden
    with pytest.raises(ValueError):
        plots.plot_attention_grid(matrices, ["a"])


def metrics_records(steps: int = 10, epoch_steps: int = 5) -> list[dict]:
    records = []
    for step in range(1, steps + 1):
        records.append({"type": "train", "step": step, "epoch": (step - 1) // epoch_steps + 1,
                        "loss": 3.0 - 0.1 * step, "mel": 0.8, "postnet": 0.9, "stop": 0.7,
                        "guided": 0.01, "grad_norm": 1.0, "lr": 1e-4 * step, "seconds": 0.1})
        if step % epoch_steps == 0:
            records.append({"type": "val", "step": step, "epoch": step // epoch_steps,
                            "val_total": 2.0, "focus_rate": 0.1 * step / epoch_steps,
                            "diagonality": 0.35})
    return records


def test_training_curves_draw_every_step_the_lr_and_the_validations(close_figures):
    records = metrics_records(10, 5)
    fig = plots.plot_training_curves(records, marks={"resumed": 5})
    close_figures.append(fig)
    loss_ax, val_ax, lr_ax = fig.axes
    labels = {label for _, label, _ in plots.LOSS_PARTS}
    losses = [line for line in loss_ax.lines if line.get_label() in labels]
    assert len(losses) == len(plots.LOSS_PARTS)
    assert list(losses[0].get_xdata()) == list(range(1, 11))
    assert list(losses[0].get_ydata()) == pytest.approx([3.0 - 0.1 * s for s in range(1, 11)])
    assert list(lr_ax.lines[0].get_ydata()) == pytest.approx([1e-4 * s for s in range(1, 11)])
    focus, diagonality = val_ax.lines[:2]
    assert list(focus.get_xdata()) == [5, 10] and list(focus.get_ydata()) == pytest.approx([0.1, 0.2])
    assert list(diagonality.get_ydata()) == pytest.approx([0.35, 0.35])
    assert loss_ax.get_yscale() == "log"
    assert any(list(line.get_xdata()) == [5, 5] for line in val_ax.lines)  # the resume mark


def test_training_curves_without_validation_or_records(close_figures):
    fig = plots.plot_training_curves([r for r in metrics_records(3, 5) if r["type"] == "train"])
    close_figures.append(fig)
    assert len(fig.axes[0].lines) == len(plots.LOSS_PARTS)
    assert not fig.axes[1].lines
    close_figures.append(plots.plot_training_curves([]))


def test_live_training_curves_keep_records_and_redraw_into_one_figure():
    from matplotlib.figure import Figure

    monitor = plots.LiveTrainingCurves(every=2, records=metrics_records(2, 5), marks={"resumed": 2})
    figure = monitor.figure
    assert isinstance(figure, Figure)
    for record in metrics_records(5, 5)[2:]:
        monitor(record)
    assert len(monitor.records) == 2 + 4  # the earlier records, 3 new steps and a validation
    assert monitor.show() is figure
    loss_ax, val_ax, _ = figure.axes  # redrawn, not stacked: still three axes
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3, 4, 5]
    # Not a pyplot figure: Jupyter does not draw it again at the cell's end.
    assert all(plt.figure(num) is not figure for num in plt.get_fignums())


def test_plot_mels_and_spectrogram_with_pitch():
    from kokoro_nb.audio import PitchContour

    config = AudioConfig()
    wave = torch.sin(2 * np.pi * 150 * torch.arange(22050) / 22050)
    mel = mel_spectrogram(wave, config)
    fig = plots.plot_mels({"a": mel, "b": mel[:, :40]}, config, title="two")
    assert isinstance(fig, Figure) and len(fig.axes) >= 2
    contour = PitchContour(np.arange(mel.shape[1]) * 0.0116, np.full(mel.shape[1], 150.0))
    fig = plots.plot_spectrogram_with_pitch(wave, config, contour, title="tone")
    assert isinstance(fig, Figure)
