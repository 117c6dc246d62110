"""Audio in and out: read, mix to mono, resample, trim, log-mel features, and back to sound.

The forward path is what the model learns from::

    wave, info = load_audio("wavs/0001.wav", AudioConfig())   # (samples,) float32, 22 050 Hz
    mel = mel_spectrogram(wave, AudioConfig())                 # (80, 1 + samples // 256)

The way back (`mel_to_audio`) is Griffin-Lim: no neural vocoder, so it sounds metallic, but
it needs no training and lets a learner *hear* what a mel spectrogram keeps and loses.

Files are read and written with `soundfile` only (torchaudio 2.9+ loads files through
torchcodec, which this project does not depend on); torchaudio does the signal processing.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from .checkpoints import atomic_write_bytes
from .config import AudioConfig

# Where a float clip peaks above full scale, it is scaled down to this (not to 1.0, so that a
# later 16-bit write cannot wrap around).
PEAK_SAFE_LEVEL = 0.999
# `mel_to_audio` output is for listening: normalised to this peak.
LISTENING_PEAK = 0.95
# Griffin-Lim starts from random phases; a fixed seed makes the same mel give the same sound.
GRIFFIN_LIM_SEED = 0
# Suffix -> soundfile container written by `write_audio` (always 16-bit PCM).
WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}

PathLike = str | os.PathLike


class AudioLoadError(ValueError):
    """An audio file could not be read; the message names the file and the reason."""


@dataclass(frozen=True)
class AudioInfo:
    """What `load_audio` found in a file and did to it."""

    original_sample_rate: int
    channels: int
    original_samples: int
    duration_s: float  # after mixing, resampling and trimming
    peak: float  # largest |sample| as decoded from the file, before any processing
    resampled: bool
    trimmed_s: float  # seconds of leading + trailing silence removed


# --------------------------------------------------------------------------- reading

def read_audio(path: PathLike) -> tuple[np.ndarray, int]:
    """Decode a sound file into float32 samples of shape (channels, samples) and its rate.

    Anything soundfile (libsndfile) reads works: WAV of any subtype (8/16/24/32-bit PCM,
    float), FLAC, OGG Vorbis. Every failure, from a missing file to garbage bytes, is an
    `AudioLoadError` naming the file; nothing else escapes.
    """
    path = Path(path)
    if not path.exists():
        raise AudioLoadError(f"{path}: no such file")
    if path.is_dir():
        raise AudioLoadError(f"{path}: is a directory, not an audio file")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise AudioLoadError(f"{path}: cannot be read ({error})") from error
    if size == 0:
        raise AudioLoadError(f"{path}: empty file (0 bytes)")
    try:
        data, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as error:
        # libsndfile's message ("Format not recognised", "Unspecified internal error", ...)
        # is kept: it is the most specific reason available.
        raise AudioLoadError(f"{path}: not a readable audio file ({error})") from error
    if data.shape[0] == 0:
        raise AudioLoadError(f"{path}: contains no samples")
    if not np.isfinite(data).all():
        raise AudioLoadError(f"{path}: contains NaN or infinite samples")
    # soundfile gives (samples, channels); torch/torchaudio work on (channels, samples).
    return np.ascontiguousarray(data.T), int(sample_rate)


def missing_wav_frames(path: PathLike) -> int:
    """How many sample frames a RIFF/WAV file's header declares beyond what the file holds:
    a truncated download or copy (0 for a complete file, and for anything not a plain
    RIFF/WAV file). Decoders quietly read what is there, so only the header tells."""
    import struct

    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        block_align = 0
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return 0
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = handle.read(size + size % 2)
                block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else 0
            elif name == b"data":
                if not block_align or size == 0xFFFFFFFF:  # unknown layout, or streamed
                    return 0
                present = os.fstat(handle.fileno()).st_size - handle.tell()
                return max(0, (size - present) // block_align)
            else:
                handle.seek(size + size % 2, os.SEEK_CUR)


def silence_bounds(wave: torch.Tensor, config: AudioConfig) -> tuple[int, int]:
    """(start, end) sample indices of `wave` to keep after trimming leading/trailing silence.

    The clip is cut into consecutive blocks of `hop_length` samples (~11.6 ms); a block whose
    RMS is more than `trim_db` below the loudest block's is silence. `trim_margin_s` of the
    silence is kept at each end so that soft onsets (breaths, fricatives) survive. The
    precision is one block. An all-zero clip is kept whole: (0, len(wave)).
    """
    n = wave.shape[-1]
    hop = config.hop_length
    if n == 0:
        return 0, 0
    n_blocks = math.ceil(n / hop)
    padded = torch.nn.functional.pad(wave.to(torch.float64), (0, n_blocks * hop - n))
    sum_squares = padded.reshape(n_blocks, hop).square().sum(dim=1)
    counts = torch.full((n_blocks,), float(hop), dtype=torch.float64, device=wave.device)
    counts[-1] = n - (n_blocks - 1) * hop  # the last block may be partial
    rms = (sum_squares / counts).sqrt()
    loudest = rms.max()
    if loudest <= 0:
        return 0, n
    # Comparing amplitudes: -trim_db dB is a factor of 10^(-trim_db / 20).
    loud = torch.nonzero(rms > loudest * 10 ** (-config.trim_db / 20)).flatten()
    margin = round(config.trim_margin_s * config.sample_rate)
    start = max(0, int(loud[0]) * hop - margin)
    end = min(n, (int(loud[-1]) + 1) * hop + margin)
    return start, end


def trim_silence(wave: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    """`wave` (samples,) without its leading and trailing silence (see `silence_bounds`)."""
    start, end = silence_bounds(wave, config)
    return wave[start:end]


def load_audio(
    path: PathLike, config: AudioConfig, trim: bool | None = None
) -> tuple[torch.Tensor, AudioInfo]:
    """A file as the model hears it: mono float32 (samples,) at `config.sample_rate`.

    Steps: mix channels (mean), resample if the file's rate differs, trim silence (when
    `trim`, default `config.trim_silence`), and scale down to a peak of 0.999 if the clip
    exceeds full scale (float files can; quiet clips are never scaled up).
    """
    data, original_rate = read_audio(path)
    channels, original_samples = data.shape
    peak = float(np.abs(data).max())
    wave = torch.from_numpy(data).mean(dim=0)

    resampled = original_rate != config.sample_rate
    if resampled:
        wave = torchaudio.functional.resample(wave, original_rate, config.sample_rate)

    trimmed_samples = 0
    if config.trim_silence if trim is None else trim:
        before = wave.shape[0]
        wave = trim_silence(wave, config)
        trimmed_samples = before - wave.shape[0]

    processed_peak = float(wave.abs().max()) if wave.numel() else 0.0
    if processed_peak > 1.0:
        wave = wave * (PEAK_SAFE_LEVEL / processed_peak)

    info = AudioInfo(
        original_sample_rate=original_rate,
        channels=channels,
        original_samples=original_samples,
        duration_s=wave.shape[0] / config.sample_rate,
        peak=peak,
        resampled=resampled,
        trimmed_s=trimmed_samples / config.sample_rate,
    )
    return wave.contiguous(), info


# --------------------------------------------------------------------------- mel features

@functools.lru_cache(maxsize=16)
def mel_filterbank(config: AudioConfig) -> torch.Tensor:
    """The mel triangles, (n_fft // 2 + 1, n_mels) on the CPU: ``mel = filterbank.T @ |STFT|``.

    Slaney or HTK scale and normalisation as the config says. Built once per config (it costs
    far more than a short clip's STFT); `mel_spectrogram`, `mel_to_linear` and the notebook's
    `plots.mel_steps` all use this one.
    """
    return torchaudio.functional.melscale_fbanks(
        n_freqs=config.n_fft // 2 + 1,
        f_min=config.f_min,
        f_max=config.f_max,
        n_mels=config.n_mels,
        sample_rate=config.sample_rate,
        norm=config.mel_norm,
        mel_scale=config.mel_scale,
    )


@functools.lru_cache(maxsize=16)
def _on_device(tensor_fn, config: AudioConfig, device: torch.device) -> torch.Tensor:
    return tensor_fn(config).to(device)


def magnitude_spectrogram(wave: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    """|STFT| of (..., samples): (..., n_fft // 2 + 1, 1 + samples // hop), Hann window,
    centred frames with reflect padding (the input must be longer than n_fft // 2)."""
    window = _on_device(_hann_window, config, wave.device)
    spectrum = torch.stft(wave, n_fft=config.n_fft, hop_length=config.hop_length,
                          win_length=config.win_length, window=window, center=True,
                          pad_mode="reflect", return_complex=True)
    return spectrum.abs()


def _hann_window(config: AudioConfig) -> torch.Tensor:
    return torch.hann_window(config.win_length)


def frames_for_samples(n_samples: int, config: AudioConfig) -> int:
    """Number of mel frames for a clip of `n_samples` (centred STFT: 1 + n // hop)."""
    return 1 + n_samples // config.hop_length


def mel_spectrogram(wave: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    """Log-mel spectrogram: (samples,) -> (n_mels, frames), or (B, samples) -> (B, n_mels, frames).

    Natural log of the magnitude mel, floored at `config.log_floor` (silence is
    log(1e-5) = -11.5). Computed on `wave`'s device; frames = 1 + samples // hop_length.
    """
    if wave.dim() not in (1, 2):
        raise ValueError(f"expected a wave of shape (samples,) or (B, samples); got {tuple(wave.shape)}")
    wave = wave.to(torch.float32)
    n = wave.shape[-1]
    frames = frames_for_samples(n, config)
    # Reflect padding needs more than n_fft // 2 samples; a shorter clip is padded with zeros
    # first and the extra frames dropped, so the frame count formula still holds.
    minimum = config.n_fft // 2 + 1
    if n < minimum:
        wave = torch.nn.functional.pad(wave, (0, minimum - n))
    # Magnitude, not power (Tacotron 2's convention), through the shared filterbank.
    filterbank = _on_device(mel_filterbank, config, wave.device)
    spectrum = magnitude_spectrogram(wave, config)
    mel = torch.matmul(spectrum.transpose(-1, -2), filterbank).transpose(-1, -2)[..., :frames]
    return torch.log(torch.clamp(mel, min=config.log_floor))


# --------------------------------------------------------------------------- back to sound

@functools.lru_cache(maxsize=16)
def _mel_pseudo_inverse(config: AudioConfig, device: torch.device) -> torch.Tensor:
    # mel = fb.T @ linear, so linear ~ pinv(fb.T) @ mel.
    fb = mel_filterbank(config)
    return torch.linalg.pinv(fb.T.to(torch.float64)).to(torch.float32).to(device)


def mel_to_linear(log_mel: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    """Magnitude spectrogram (n_fft // 2 + 1, frames) that a log-mel most likely came from.

    The mel filterbank has fewer rows than frequency bins, so this is an estimate: the
    least-squares (pseudo-inverse) solution with negative values clamped to 0. A true
    non-negative least squares solve (torchaudio's InverseMelScale) is iterative and much
    slower while Griffin-Lim cannot hear the difference. Bins above `f_max` come back as 0.
    Also takes a batch (B, n_mels, frames).
    """
    if log_mel.shape[-2] != config.n_mels:
        raise ValueError(f"expected {config.n_mels} mel channels; got shape {tuple(log_mel.shape)}")
    inverse = _mel_pseudo_inverse(config, log_mel.device)
    mel = torch.exp(log_mel.to(torch.float32))
    return torch.clamp(inverse @ mel, min=0.0)


def griffin_lim(
    linear_magnitude: torch.Tensor, config: AudioConfig, n_iter: int | None = None
) -> torch.Tensor:
    """Waveform (samples,) whose STFT magnitude matches `linear_magnitude` (n_freqs, frames).

    Magnitudes are first raised to `config.griffin_lim_power` (1.2), as Tacotron does: it
    deepens the valleys between harmonics that the mel inversion smeared, which reduces the
    hiss at the price of a level change (normalise afterwards; `mel_to_audio` does). The
    output has (frames - 1) * hop_length samples, the inverse of `frames_for_samples`.
    Deterministic: the random initial phases come from a fixed seed in a forked RNG, so the
    caller's random state is untouched.
    """
    n_iter = config.griffin_lim_iters if n_iter is None else n_iter
    frames = linear_magnitude.shape[-1]
    if frames < 2:  # too short to invert: silence of the matching length
        return linear_magnitude.new_zeros(*linear_magnitude.shape[:-2], 0)
    magnitude = linear_magnitude.to(torch.float32).clamp(min=0.0) ** config.griffin_lim_power
    device = magnitude.device
    window = torch.hann_window(config.win_length, device=device)
    length = (magnitude.shape[-1] - 1) * config.hop_length
    # torchaudio's griffinlim draws its initial phases from the global RNG and takes no
    # generator, so the seed is set inside a fork that is discarded afterwards.
    forked = [] if device.type == "cpu" else [device]
    with torch.random.fork_rng(devices=forked, device_type=device.type):
        torch.manual_seed(GRIFFIN_LIM_SEED)
        return torchaudio.functional.griffinlim(
            magnitude,
            window=window,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.win_length,
            power=1.0,  # the input is a magnitude, not a power spectrogram
            n_iter=n_iter,
            momentum=0.99,  # the "fast Griffin-Lim" of Perraudin et al. (torchaudio default)
            length=length,
            rand_init=True,
        )


def mel_to_audio(log_mel: torch.Tensor, config: AudioConfig, n_iter: int | None = None) -> torch.Tensor:
    """Listenable waveform from a log-mel: Griffin-Lim on `mel_to_linear`.

    The level follows the mel: the sharpening power changes the overall magnitude, so the
    result is scaled back by the ratio of the spectrogram norms before and after it; it is
    only scaled down further if it would clip (peak above 0.95).
    """
    linear = mel_to_linear(log_mel, config)
    wave = griffin_lim(linear, config, n_iter)
    if wave.shape[-1] == 0:
        return wave
    sharpened = linear.clamp(min=0.0) ** config.griffin_lim_power
    level = linear.sum(dim=(-2, -1)) / sharpened.sum(dim=(-2, -1)).clamp(min=1e-8)
    wave = wave * level[..., None] if wave.dim() > 1 else wave * level
    peak = wave.abs().amax(dim=-1, keepdim=True)
    return wave * torch.clamp(LISTENING_PEAK / peak.clamp(min=1e-8), max=1.0)


# --------------------------------------------------------------------------- writing

def write_audio(path: PathLike, wave: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write `wave` ((samples,) or (channels, samples)) as 16-bit PCM WAV or FLAC (by suffix).

    Samples are clipped to [-1, 1]. The file appears atomically (`checkpoints.atomic_write_bytes`),
    so a reader never sees half a file.
    Returns the path written.
    """
    path = Path(path)
    container = WRITE_FORMATS.get(path.suffix.lower())
    if container is None:
        raise ValueError(f"{path}: cannot write {path.suffix!r}; use one of {sorted(WRITE_FORMATS)}")
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().to("cpu", torch.float32).numpy()
    data = np.asarray(wave, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise ValueError(f"{path}: expected (samples,) or (channels, samples); got {data.shape}")
    data = np.clip(data if data.ndim == 1 else data.T, -1.0, 1.0)  # soundfile wants (samples, channels)
    buffer = io.BytesIO()
    sf.write(buffer, data, int(sample_rate), subtype="PCM_16", format=container)
    return atomic_write_bytes(path, buffer.getvalue())


# --------------------------------------------------------------------------- statistics

def mel_statistics(mels: Iterable[torch.Tensor]) -> dict:
    """Normalisation statistics of log-mels (each (n_mels, frames)), streamed one at a time.

    Returns a JSON-ready dict: `mean` and `std` per mel channel (lists of n_mels floats),
    `global_mean`, `global_std`, `min`, `max` over all values, and the `frames` and `n_mels`
    counted. Standard deviations are population ones (ddof 0). Means and squared deviations
    are merged per clip (Chan et al.'s parallel update, in float64), so a corpus of any size
    never has to be concatenated and no precision is lost to huge sums of squares.
    """
    count = 0
    mean = m2 = None  # per channel, float64
    minimum, maximum = math.inf, -math.inf
    for index, mel in enumerate(mels):
        if mel.dim() != 2:
            raise ValueError(f"mel #{index}: expected (n_mels, frames); got {tuple(mel.shape)}")
        mel = mel.detach().to("cpu", torch.float64)
        if mean is not None and mel.shape[0] != mean.shape[0]:
            raise ValueError(f"mel #{index}: {mel.shape[0]} channels, earlier mels had {mean.shape[0]}")
        frames = mel.shape[1]
        if frames == 0:
            continue
        if not torch.isfinite(mel).all():
            raise ValueError(f"mel #{index}: contains NaN or infinite values")
        batch_mean = mel.mean(dim=1)
        batch_m2 = (mel - batch_mean[:, None]).square().sum(dim=1)
        if mean is None:
            mean, m2 = batch_mean, batch_m2
        else:
            total = count + frames
            delta = batch_mean - mean
            mean = mean + delta * (frames / total)
            m2 = m2 + batch_m2 + delta.square() * (count * frames / total)
        count += frames
        minimum = min(minimum, float(mel.min()))
        maximum = max(maximum, float(mel.max()))
    if mean is None:
        raise ValueError("mel_statistics needs at least one mel with frames")
    # Every channel has `count` values, so the global figures follow from the channels':
    # total variance = mean within-channel variance + variance of the channel means.
    variance = m2 / count
    global_mean = mean.mean()
    global_variance = variance.mean() + (mean - global_mean).square().mean()
    return {
        "n_mels": int(mean.shape[0]),
        "frames": count,
        "mean": mean.tolist(),
        "std": variance.sqrt().tolist(),
        "global_mean": float(global_mean),
        "global_std": float(global_variance.sqrt()),
        "min": minimum,
        "max": maximum,
    }


def spectral_distance(log_mel_a: torch.Tensor, log_mel_b: torch.Tensor) -> float:
    """Mean |a - b| between two log-mels over their common frames, in log units.

    The units are those of the log-mel (natural log of magnitude): 1.0 is a factor of e,
    about 8.7 dB. Used to check that a reconstruction sounds like its source.
    """
    if log_mel_a.shape[:-1] != log_mel_b.shape[:-1]:
        raise ValueError(f"mel shapes differ beyond frames: {tuple(log_mel_a.shape)} vs {tuple(log_mel_b.shape)}")
    frames = min(log_mel_a.shape[-1], log_mel_b.shape[-1])
    if frames == 0:
        raise ValueError("no common frames to compare")
    a = log_mel_a[..., :frames].to(torch.float64)
    b = log_mel_b[..., :frames].to(log_mel_a.device, torch.float64)
    return float((a - b).abs().mean())


# --------------------------------------------------------------------------- pitch


@dataclass(frozen=True)
class PitchContour:
    """The fundamental frequency of a clip, frame by frame (librosa's pYIN): ``f0`` in Hz,
    NaN where the frame is unvoiced, at ``times`` in seconds (the mel's frame grid)."""

    times: np.ndarray
    f0: np.ndarray

    def final_movement(self, tail: float = 0.2) -> float | None:
        """Semitones between the median pitch of the last `tail` share of the voiced frames
        and the clip's median: positive for a final rise, negative for a fall; None with
        fewer than 10 voiced frames."""
        voiced = self.f0[~np.isnan(self.f0)]
        if len(voiced) < 10:
            return None
        end = voiced[int(len(voiced) * (1 - tail)):]
        return float(12 * np.log2(np.median(end) / np.median(voiced)))


def pitch_contour(wave: torch.Tensor, config: AudioConfig, fmin: float = 60.0,
                  fmax: float = 400.0) -> PitchContour:
    """pYIN pitch tracking (Mauch and Dixon, 2014, through librosa) on the mel's frame grid:
    a probabilistic YIN that scores several pitch candidates per frame and picks a smooth
    path through them with a hidden Markov model, deciding voiced/unvoiced on the way.
    `fmin` and `fmax` bound the voice's range (60-400 Hz covers most adult speakers)."""
    import librosa

    f0, voiced, _ = librosa.pyin(wave.detach().cpu().numpy().astype(np.float32), fmin=fmin,
                                 fmax=fmax, sr=config.sample_rate, frame_length=config.n_fft,
                                 hop_length=config.hop_length)
    f0 = np.where(voiced, f0, np.nan)
    return PitchContour(np.arange(len(f0)) * config.hop_length / config.sample_rate, f0)
