"""matplotlib figures for the notebooks. Each function draws data it is given (computed by
`kokoro_nb` functions that tests also call) and returns the figure; none picks a backend or
closes a figure. `mel_steps` is the one data function here: the intermediate arrays of
`audio.mel_spectrogram`, which exist only to be drawn. `LiveTrainingCurves` is the one
that displays: an ``on_step`` callback that redraws the training curves in place."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

# One colour per stress tier (`kokoro_nb.text.STRESS_SOURCES`), shared with the widgets.
SOURCE_COLOURS = {
    "marked": "#1f77b4",
    "yo": "#9467bd",
    "dictionary": "#2ca02c",
    "exception": "#ff7f0e",
    "heuristic": "#d62728",
    "monosyllable": "#7f7f7f",
    "none": "#bbbbbb",
    "clitic": "#dddddd",
    "phrase": "#17becf",
    "compound": "#bcbd22",
}


def plot_phoneme_frequencies(counts: Counter, title: str = "Phoneme frequencies", top: int | None = None):
    """Bar chart of phoneme counts, most frequent first."""
    items = counts.most_common(top)
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(items)), 3.2))
    ax.bar(range(len(items)), [c for _, c in items], color="#4c72b0")
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels([p for p, _ in items], fontsize=9)
    ax.set_ylabel("count")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_stress_sources(counts: Counter, title: str = "Which tier placed the stress"):
    """Horizontal bars: how many words each stress tier decided, in the tiers' colours."""
    items = counts.most_common()
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(items) + 1))
    ax.barh([s for s, _ in items], [c for _, c in items],
            color=[SOURCE_COLOURS.get(s, "#333") for s, _ in items])
    ax.invert_yaxis()
    ax.set_xlabel("words")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- corpus (notebook 01)

# (item_table column, axis label) for `plot_corpus_histograms`, in reading order.
CORPUS_HISTOGRAMS = (
    ("duration_s", "duration (s)"),
    ("chars", "text length (characters)"),
    ("phonemes_per_s", "speaking rate (phonemes per second)"),
    ("frames_per_phoneme", "mel frames per phoneme"),
)


def plot_corpus_histograms(rows: list[dict], bins: int = 30, title: str | None = None):
    """2x2 histograms of `corpus.item_table` rows: duration, text length, speaking rate and
    frames per phoneme, each with its median as a dashed line. Outliers in the last two are
    the items whose text and audio may not belong together."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 6))
    for ax, (column, label) in zip(axes.flat, CORPUS_HISTOGRAMS, strict=True):
        values = [row[column] for row in rows]
        ax.hist(values, bins=bins, color="#4c72b0")
        if values:
            median = float(np.median(values))
            ax.axvline(median, color="#d62728", linestyle="--", label=f"median {median:.3g}")
            ax.legend(fontsize=8)
        ax.set_xlabel(label)
        ax.set_ylabel("items")
    fig.suptitle(title or f"{len(rows)} items")
    fig.tight_layout()
    return fig


def plot_character_coverage(counts: Counter, title: str = "Characters in the transcriptions"):
    """Bar chart of character counts (`corpus.character_coverage`), most frequent first, on
    a log scale so that the rare characters — the ones a model barely sees — stay visible.
    The space is drawn as ␣."""
    items = counts.most_common()
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(items)), 3.2))
    ax.bar(range(len(items)), [c for _, c in items], color="#4c72b0")
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels(["␣" if ch == " " else ch for ch, _ in items], fontsize=9)
    ax.set_yscale("log")
    ax.set_ylabel("count (log scale)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_frame_lengths(frames: list[int], limits: list[int], config,
                       title: str = "Clip lengths in mel frames"):
    """Histogram of clip lengths in mel frames (`CorpusReport.frames`) with each candidate
    `max_frames` limit as a vertical line: clips to the right of a line are dropped."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(frames, bins=40, color="#4c72b0")
    for limit in limits:
        ax.axvline(limit, color="#d62728", linestyle="--")
        ax.annotate(f"{limit} ({limit * config.frame_seconds:.1f} s)", (limit, 1),
                    xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                    fontsize=8, color="#d62728")
    ax.set_xlabel("mel frames")
    ax.set_ylabel("clips")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- audio (notebook 03)


def mel_steps(wave, config) -> dict:
    """The intermediate arrays of `audio.mel_spectrogram`, for drawing them one by one.

    Returns ``wave`` (samples,), ``stft_db`` (n_fft // 2 + 1, frames): 20·log10 of the STFT
    magnitude (floored at `config.log_floor`), ``filterbank`` (n_fft // 2 + 1, n_mels): the
    triangles of `audio.mel_filterbank`, and
    ``log_mel`` (n_mels, frames) from `audio.mel_spectrogram` itself. The STFT uses the same
    settings as the mel transform, so ``ln(max(filterbank.T @ |STFT|, floor)) == log_mel``
    up to rounding (a test checks it).
    """
    import torch

    from .audio import magnitude_spectrogram, mel_filterbank, mel_spectrogram

    wave = torch.as_tensor(wave, dtype=torch.float32)
    spectrum = magnitude_spectrogram(wave, config)
    filterbank = mel_filterbank(config)
    return {
        "wave": wave,
        "stft_db": 20 * torch.log10(spectrum.clamp(min=config.log_floor)),
        "filterbank": filterbank,
        "log_mel": mel_spectrogram(wave, config),
    }


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _mel_image(ax, log_mel, config, label: str = "log-mel (ln magnitude)"):
    """Draw a (n_mels, frames) log-mel with time in seconds and mel bins upwards."""
    data = _numpy(log_mel)
    n_mels, frames = data.shape
    image = ax.imshow(data, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                      extent=(0, frames * config.frame_seconds, 0, n_mels))
    ax.set_ylabel("mel bin")
    ax.figure.colorbar(image, ax=ax, label=label, pad=0.01)
    return image


def _waveform(ax, wave, sample_rate: int) -> None:
    samples = _numpy(wave)
    times = np.arange(len(samples)) / sample_rate
    ax.plot(times, samples, color="#4c72b0", linewidth=0.5)
    ax.set_xlim(0, len(samples) / sample_rate)
    ax.set_ylabel("amplitude")


def plot_waveform_and_mel(wave, log_mel, config, title: str | None = None):
    """The waveform over time (top) and its log-mel spectrogram (bottom), on one time axis.

    `wave` is (samples,) at `config.sample_rate`; `log_mel` is (n_mels, frames) from
    `audio.mel_spectrogram`. Frame k is drawn at k * hop_length / sample_rate seconds.
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 2]})
    _waveform(top, wave, config.sample_rate)
    # The colour bar takes room from the mel axes only; an invisible one keeps both aligned.
    _mel_image(bottom, log_mel, config)
    fig.colorbar(bottom.images[0], ax=top, pad=0.01).ax.set_visible(False)
    bottom.set_xlabel("time (s)")
    if title:
        top.set_title(title)
    fig.tight_layout()
    return fig


def plot_mel_steps(steps: dict, config, title: str | None = None):
    """Waveform -> |STFT| in dB -> mel filterbank -> log-mel, one panel per step.

    `steps` is what `mel_steps(wave, config)` returns: ``wave`` (samples,),
    ``stft_db`` (n_fft // 2 + 1, frames), ``filterbank`` (n_fft // 2 + 1, n_mels) and
    ``log_mel`` (n_mels, frames). The filterbank panel has frequency on its x axis: each
    curve is one mel channel's triangle, narrow at low frequencies and wide at high ones.
    """
    fig, axes = plt.subplots(4, 1, figsize=(9, 11),
                             gridspec_kw={"height_ratios": [1, 2, 1.4, 2]})
    wave_ax, stft_ax, fb_ax, mel_ax = axes
    rate = config.sample_rate
    _waveform(wave_ax, steps["wave"], rate)
    wave_ax.set_xlabel("time (s)")
    wave_ax.set_title("1 · waveform")
    # Frame k covers k * hop / rate seconds: the waveform panel spans the frames' time too.
    wave_ax.set_xlim(0, _numpy(steps["log_mel"]).shape[1] * config.frame_seconds)

    stft = steps["stft_db"]
    stft = _numpy(stft)
    image = stft_ax.imshow(stft, origin="lower", aspect="auto", cmap="magma",
                           interpolation="nearest",
                           extent=(0, stft.shape[1] * config.frame_seconds, 0, rate / 2))
    fig.colorbar(image, ax=stft_ax, label="dB", pad=0.01)
    stft_ax.axhline(config.f_max, color="white", linestyle="--", linewidth=0.8)
    stft_ax.set_ylabel("frequency (Hz)")
    stft_ax.set_xlabel("time (s)")
    stft_ax.set_title(f"2 · |STFT|: {stft.shape[0]} frequency bins of {rate / config.n_fft:.1f} Hz "
                      f"× {stft.shape[1]} frames (dashed: f_max)")

    bank = steps["filterbank"]
    bank = _numpy(bank)
    freqs = np.arange(bank.shape[0]) * rate / config.n_fft
    colours = plt.get_cmap("viridis")
    for m in range(bank.shape[1]):
        fb_ax.plot(freqs, bank[:, m], color=colours(m / max(1, bank.shape[1] - 1)), linewidth=0.8)
    fb_ax.set_xlim(0, rate / 2)
    fb_ax.set_xlabel("frequency (Hz)")
    fb_ax.set_ylabel("weight")
    fb_ax.set_title(f"3 · mel filterbank: {bank.shape[1]} triangles, {config.f_min:g}–{config.f_max:g} Hz "
                    f"({config.mel_scale} scale, norm={config.mel_norm})")
    # Invisible colour bars keep the line panels as wide as the image panels.
    for ax in (wave_ax, fb_ax):
        fig.colorbar(image, ax=ax, pad=0.01).ax.set_visible(False)

    _mel_image(mel_ax, steps["log_mel"], config)
    mel_ax.set_xlabel("time (s)")
    mel_ax.set_title(f"4 · log-mel: ln(max(filterbank · |STFT|, {config.log_floor:g}))")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_spectrogram_with_pitch(wave, config, contour, title: str | None = None):
    """The log-mel of `wave` with time (s) and frequency (Hz, on the mel scale) axes
    (`librosa.display.specshow`), and below it the pitch `contour`
    (`audio.pitch_contour`) in Hz, on one time axis; returns the figure."""
    import librosa.display

    from .audio import mel_spectrogram

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, constrained_layout=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    image = librosa.display.specshow(
        _numpy(mel_spectrogram(wave, config)), sr=config.sample_rate,
        hop_length=config.hop_length, x_axis="time", y_axis="mel", fmin=config.f_min,
        fmax=config.f_max, cmap="magma", ax=top)
    fig.colorbar(image, ax=top, label="log-mel", pad=0.01)
    top.set_xlabel("")
    bottom.plot(contour.times, contour.f0, color="#1f77b4", linewidth=2)
    voiced = contour.f0[~np.isnan(contour.f0)]
    if len(voiced):
        bottom.set_ylim(voiced.min() * 0.85, voiced.max() * 1.15)
    bottom.set_ylabel("f0 (Hz)")
    bottom.set_xlabel("time (s)")
    fig.colorbar(image, ax=bottom, pad=0.01).ax.set_visible(False)  # keeps the axes aligned
    if title:
        top.set_title(title, fontsize=10)
    return fig


def plot_mel_statistics(stats: dict, title: str = "Log-mel statistics per channel"):
    """Per-channel mean ± one standard deviation of `audio.mel_statistics`, with the global
    mean as a dashed line and the log floor's value (the minimum) as a dotted one."""
    mean = np.asarray(stats["mean"])
    std = np.asarray(stats["std"])
    channels = np.arange(len(mean))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.fill_between(channels, mean - std, mean + std, color="#4c72b0", alpha=0.25,
                    label="mean ± std")
    ax.plot(channels, mean, color="#4c72b0", label="mean")
    ax.axhline(stats["global_mean"], color="#d62728", linestyle="--",
               label=f"global mean {stats['global_mean']:.2f} (std {stats['global_std']:.2f})")
    ax.axhline(stats["min"], color="#7f7f7f", linestyle=":", label=f"min {stats['min']:.2f}")
    ax.set_xlim(0, max(1, len(mean) - 1))
    ax.set_xlabel("mel channel")
    ax.set_ylabel("log-mel value")
    ax.set_title(f"{title} ({stats['frames']} frames)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- model (notebook 04)


def _millions(count: int) -> str:
    return f"{count / 1e6:.2f} M" if count >= 100_000 else f"{count / 1e3:.1f} k"


def plot_parameters(per_module: dict[str, int], title: str | None = None):
    """Horizontal bars: parameters per part of the model (`model.parameters_per_module`),
    in the order given (encoder to postnet), each labelled with its count and share."""
    names = list(per_module)
    counts = [int(per_module[name]) for name in names]
    total = max(1, sum(counts))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.2))
    bars = ax.barh(names, counts, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{_millions(c)} ({100 * c / total:.0f}%)" for c in counts],
                 padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(counts, default=1) * 1.3)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1e6:g} M")
    ax.set_xlabel("parameters")
    ax.set_title(title or f"{sum(counts) / 1e6:.2f} M parameters")
    fig.tight_layout()
    return fig


# (batch key, panel title, colour map) for `plot_masks`, top to bottom.
MASK_PANELS = (
    ("text_mask", "text_mask: True on real phonemes (B, L)", "Greens"),
    ("mel_mask", "mel_mask: True on real mel frames (B, T)", "Blues"),
    ("stop_targets", "stop_targets: 1 from the last real frame on (B, T)", "Reds"),
)


def plot_masks(batch: dict, title: str | None = None):
    """A collated batch's masks as images, one row per item: `text_mask` (B, L), `mel_mask`
    (B, T) and `stop_targets` (B, T) from `corpus.collate_batch`. White is padding (False /
    0): what attention never looks at and the losses never count."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 5.5),
                             gridspec_kw={"height_ratios": [1, 1.6, 1.6]})
    labels = [str(i) for i in batch.get("item_ids", range(batch["text_mask"].shape[0]))]
    for ax, (key, panel_title, cmap) in zip(axes, MASK_PANELS, strict=True):
        data = _numpy(batch[key]).astype(float)
        ax.imshow(data, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_title(panel_title, fontsize=10)
    axes[0].set_xlabel("phoneme index")
    axes[1].set_xlabel("mel frame")
    axes[2].set_xlabel("mel frame")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attention(attention, title: str | None = None, ax=None, vmax: float | None = 1.0,
                   text_length: int | None = None, step_length: int | None = None):
    """One attention matrix (steps, L): decoder step on x, phoneme on y (first phoneme at
    the bottom), weights from 0 to `vmax` (1 by default, so matrices compare; None scales
    to the data, for the faint weights of an untrained model). A learned alignment is a
    bright line from bottom left to top right. `text_length` and `step_length` draw dashed
    lines where an item's padding starts. Without `ax`, a new figure with a colour bar;
    returns the figure."""
    data = _numpy(attention).astype(float)
    if data.ndim != 2:
        raise ValueError(f"attention must be (steps, phonemes), got shape {data.shape}")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7, 4))
    image = ax.imshow(data.T, origin="lower", aspect="auto", interpolation="nearest",
                      cmap="viridis", vmin=0, vmax=vmax)
    for length, line in ((text_length, ax.axhline), (step_length, ax.axvline)):
        if length is not None:
            line(length - 0.5, color="white", linestyle="--", linewidth=0.8)
    ax.set_xlabel("decoder step")
    ax.set_ylabel("phoneme")
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        fig.colorbar(image, ax=ax, label="attention weight", pad=0.01)
        fig.tight_layout()
    return ax.figure


def attention_figure(attention, title: str = ""):
    """`plot_attention` of one matrix with its colour bar on a bare `Figure` with the Agg
    canvas, without pyplot: headless training can draw it, and no global figure state is
    left behind (nothing to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    plot_attention(attention, title=title, ax=ax)
    fig.colorbar(ax.images[0], ax=ax, label="attention weight", pad=0.01)
    fig.tight_layout()
    return fig


def save_attention_png(attention, path, title: str = "") -> Path:
    """`attention_figure` as a PNG file, written atomically."""
    from .checkpoints import save_figure

    return save_figure(attention_figure(attention, title), path)


def attention_image(attention, title: str = "") -> np.ndarray:
    """`attention_figure` as pixels, (height, width, 3) uint8 RGB, for image loggers such as
    TensorBoard."""
    fig = attention_figure(attention, title)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def plot_attention_grid(matrices, titles, columns: int = 2, vmax: float | None = 1.0,
                        text_length: int | None = None, step_length: int | None = None,
                        label: str = "attention weight"):
    """Several (steps, L) attention matrices side by side (`plot_attention` for each, on
    one colour scale, one shared colour bar), e.g. each head of a model, or the same item
    under two attention types. `titles` has one entry per matrix."""
    matrices = [_numpy(m).astype(float) for m in matrices]
    titles = list(titles)
    if len(titles) != len(matrices):
        raise ValueError(f"{len(matrices)} matrices but {len(titles)} titles")
    if vmax is None:
        vmax = max(float(m.max()) for m in matrices)
    columns = max(1, min(columns, len(matrices)))
    rows = -(-len(matrices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 0.8, 3.2 * rows),
                             squeeze=False, constrained_layout=True)
    for ax, matrix, title in zip(axes.flat, matrices, titles, strict=False):  # spare cells: hidden
        plot_attention(matrix, title=title, ax=ax, vmax=vmax, text_length=text_length,
                       step_length=step_length)
    for ax in axes.flat[len(matrices):]:
        ax.set_visible(False)
    fig.colorbar(axes.flat[0].images[0], ax=axes, label=label, shrink=0.9)
    return fig


def plot_mels(mels: dict, config, title: str | None = None):
    """Log-mels (n_mels, frames) one above the other on one time axis and one colour scale,
    each titled with its key: e.g. a recording, the model's teacher-forced mel and its
    free-running one."""
    arrays = {name: _numpy(mel) for name, mel in mels.items()}
    low = min(float(a.min()) for a in arrays.values())
    high = max(float(a.max()) for a in arrays.values())
    fig, axes = plt.subplots(len(arrays), 1, figsize=(9, 2.4 * len(arrays)), sharex=True,
                             squeeze=False, constrained_layout=True)
    for ax, (name, data) in zip(axes[:, 0], arrays.items(), strict=True):
        _mel_image(ax, data, config).set_clim(low, high)
        ax.set_title(f"{name}: {data.shape[1] * config.frame_seconds:.2f} s", fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- training (notebook 06)

# Loss parts of a "train" record (`Trainer.train`), as drawn by `plot_training_curves`.
LOSS_PARTS = (
    ("loss", "total", "#000000"),
    ("mel", "mel L1", "#1f77b4"),
    ("postnet", "postnet L1", "#2ca02c"),
    ("stop", "stop BCE", "#d62728"),
    ("guided", "guided attention (unweighted)", "#9467bd"),
)


def plot_training_curves(records: list[dict], title: str | None = None, fig=None,
                         marks: dict[str, int] | None = None):
    """Training curves from metrics records (the lines of ``metrics.jsonl``, or what
    `Trainer.train(on_step=...)` passes on).

    Top panel: the total loss and its parts per "train" record against the step, on a log
    scale, with the learning rate on a twin axis (dashed grey). Bottom panel: the "val"
    records' focus rate and diagonality (0 to 1). `marks` draws labelled vertical lines,
    e.g. ``{"resumed": 120}``. Pass `fig` (a `matplotlib.figure.Figure`) to redraw into
    it, as `LiveTrainingCurves` does; otherwise a new pyplot figure is made.
    """
    train = [r for r in records if r.get("type", "train") == "train"]
    val = [r for r in records if r.get("type") == "val"]
    if fig is None:
        fig = plt.figure(figsize=(10, 6.5))
    else:
        fig.clear()
    loss_ax, val_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    lr_ax = loss_ax.twinx()
    steps = [r["step"] for r in train]
    for key, label, colour in LOSS_PARTS:
        values = [r[key] for r in train if key in r]
        if len(values) == len(steps) and steps:
            loss_ax.plot(steps, values, label=label, color=colour,
                         linewidth=1.6 if key == "loss" else 1.0)
    if steps:
        loss_ax.set_yscale("log")
        lr_ax.plot(steps, [r.get("lr", float("nan")) for r in train], color="#7f7f7f",
                   linestyle="--", linewidth=1.0, label="learning rate")
        lr_ax.yaxis.set_major_formatter(lambda x, _: f"{x:.1e}")
    loss_ax.set_ylabel("loss (log scale)")
    lr_ax.set_ylabel("learning rate", color="#7f7f7f")
    handles, labels = loss_ax.get_legend_handles_labels()
    lr_handles, lr_labels = lr_ax.get_legend_handles_labels()
    if handles or lr_handles:  # above the panel, clear of the curves
        loss_ax.legend(handles + lr_handles, labels + lr_labels, fontsize=8, loc="lower left",
                       bbox_to_anchor=(0, 1.01), ncol=3, frameon=False)
    if val:
        val_steps = [r["step"] for r in val]
        val_ax.plot(val_steps, [r["focus_rate"] for r in val], "o-", color="#ff7f0e",
                    label="focus rate")
        val_ax.plot(val_steps, [r["diagonality"] for r in val], "s-", color="#17becf",
                    label="diagonality")
        val_ax.legend(fontsize=8, loc="upper left")
    else:
        val_ax.text(0.5, 0.5, "no validation yet (one per epoch)", ha="center", va="center",
                    transform=val_ax.transAxes, color="#7f7f7f")
    val_ax.set_ylim(0, 1)
    val_ax.set_ylabel("validation attention")
    val_ax.set_xlabel("step")
    for label, step in (marks or {}).items():
        for ax in (loss_ax, val_ax):
            ax.axvline(step, color="#bbbbbb", linestyle=":", linewidth=1.2)
        loss_ax.annotate(label, (step, 1), xycoords=("data", "axes fraction"), rotation=90,
                         va="top", ha="right", fontsize=8, color="#7f7f7f")
    fig.suptitle(title or f"{len(train)} steps, {len(val)} validations")
    fig.tight_layout()
    return fig


class LiveTrainingCurves:
    """An ``on_step`` callback for `Trainer.train` that keeps every record in `records`
    and redraws `plot_training_curves` every `every` steps.

    In Jupyter the curves are one output (a PNG behind an IPython display handle) that each
    redraw replaces, so the progress bar and the log lines of the same cell stay; outside
    IPython nothing is shown. The figure is a bare `matplotlib.figure.Figure`, not a pyplot
    one, so it is never drawn a second time when the cell ends and needs no closing. Call
    `show()` once more at the end for the last steps. A new instance makes a new output:
    pass the earlier `records` (and `marks`) to continue a plot in another cell.

    >>> monitor = LiveTrainingCurves(every=10)
    >>> monitor({"type": "train", "step": 1, "loss": 2.0, "lr": 1e-3})
    >>> len(monitor.records)
    1
    """

    def __init__(self, every: int = 5, title: str | None = None,
                 records: list[dict] | None = None, marks: dict[str, int] | None = None,
                 dpi: int = 80) -> None:
        from matplotlib.figure import Figure

        self.every = max(1, int(every))
        self.title = title
        self.records: list[dict] = list(records or [])
        self.marks = dict(marks or {})
        self.dpi = dpi
        self.figure = Figure(figsize=(10, 6.5))
        self._handle = None

    def __call__(self, record: dict) -> None:
        self.records.append(record)
        if record.get("type", "train") == "train" and record.get("step", 0) % self.every == 0:
            self.show()

    def show(self):
        """Redraw the curves and replace (or create) the displayed output; returns the figure."""
        import io

        plot_training_curves(self.records, title=self.title, fig=self.figure, marks=self.marks)
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:  # plain Python without IPython: keep the figure, show nothing
            return self.figure
        if get_ipython() is None:
            return self.figure
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.dpi)
        image = Image(data=buffer.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        return self.figure


def plot_synthesis(result, title: str | None = None):
    """A `SynthesisResult` in three panels: the free-running alignment, the generated mel,
    and the stop-token probability per frame with the threshold that ends synthesis (the
    model's `stop_threshold`, carried by the result)."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), constrained_layout=True,
                             gridspec_kw={"height_ratios": [3, 2, 1.2]})
    plot_attention(result.alignment, title="alignment (free-running)", ax=axes[0])
    mel = _numpy(result.mel).T
    axes[1].imshow(mel, aspect="auto", origin="lower", interpolation="none", cmap="magma")
    axes[1].set_ylabel("mel bin")
    axes[1].set_title(f"generated log-mel, {result.duration_s:.2f} s")
    stop = _numpy(result.stop_probs)
    axes[2].plot(stop, color="#d62728")
    axes[2].axhline(result.stop_threshold, linestyle="--", color="#333", linewidth=1)
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_xlim(0, max(len(stop) - 1, 1))
    axes[2].set_xlabel("frame")
    axes[2].set_ylabel("P(stop)")
    axes[2].set_title("stop token" + (" (stopped by itself)" if result.stopped else " (hit the step limit)"))
    fig.suptitle(title or result.text)
    return fig


def plot_ladder(rungs, config, title: str | None = None):
    """The log-mel spectrogram of each rung of the listening ladder
    (`evaluation.listening_ladder`), one row each, on one time axis."""
    from .audio import mel_spectrogram

    fig, axes = plt.subplots(len(rungs), 1, figsize=(9, 1.9 * len(rungs)), sharex=True,
                             squeeze=False)
    for ax, rung in zip(axes[:, 0], rungs, strict=True):
        _mel_image(ax, mel_spectrogram(rung.wave.float(), config), config, label="ln |mel|")
        ax.set_title(rung.name.replace("_", " "), fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

