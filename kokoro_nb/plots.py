"""matplotlib figures for the notebooks. Each function draws data it is given (computed by
`kokoro_nb` functions that tests also call) and returns the figure; none picks a backend or
closes a figure. `mel_steps` is the one data function here: the intermediate arrays of
`audio.mel_spectrogram`, which exist only to be drawn."""

from __future__ import annotations

from collections import Counter

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
    triangles of `torchaudio.functional.melscale_fbanks` with the config's settings, and
    ``log_mel`` (n_mels, frames) from `audio.mel_spectrogram` itself. The STFT uses the same
    settings as the mel transform, so ``ln(max(filterbank.T @ |STFT|, floor)) == log_mel``
    up to rounding (a test checks it).
    """
    import torch
    import torchaudio

    from .audio import mel_spectrogram

    wave = torch.as_tensor(wave, dtype=torch.float32)
    spectrum = torch.stft(wave, n_fft=config.n_fft, hop_length=config.hop_length,
                          win_length=config.win_length, window=torch.hann_window(config.win_length),
                          center=True, pad_mode="reflect", return_complex=True).abs()
    filterbank = torchaudio.functional.melscale_fbanks(
        n_freqs=config.n_fft // 2 + 1, f_min=config.f_min, f_max=config.f_max,
        n_mels=config.n_mels, sample_rate=config.sample_rate, norm=config.mel_norm,
        mel_scale=config.mel_scale)
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
