"""How close synthesized speech is to a recording, in numbers.

- `mcd_dtw`: mel cepstral distortion (dB) after dynamic time warping. The cepstra are the
  cosine transform of this project's log-mel (`audio.mel_spectrogram`, natural log of the
  magnitude) read as a cepstrum, c_m = 2/M sum_k L_k cos(pi m (k + 1/2) / M), coefficients
  1-13 (c0, the level, left out); each frame of one is matched to a frame of the other along the cheapest
  monotonic path, and MCD = 10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2), averaged over the
  path. Lower is better; 0 for identical audio. Absolute values depend on the cepstrum's
  definition, so compare figures of this function with each other only.
- `dnsmos`: DNSMOS P.808 and P.835 (signal, background, overall) MOS estimates of a clip
  on its own, no reference needed (1-5, higher is better), from the ``speechmos`` package,
  which ships its ONNX models in its wheel and runs offline
  (``pip install kokoro_nb[quality]``). None without it.
- `stoi`: short-time objective intelligibility (0-1) of a clip aligned sample for sample
  with its reference (copy synthesis), from ``pystoi``; None without it.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from .audio import mel_spectrogram
from .config import AudioConfig

log = logging.getLogger(__name__)

CEPSTRA = 13
DNSMOS_RATE = 16_000
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


def mel_cepstra(wave: torch.Tensor, audio: AudioConfig, n: int = CEPSTRA) -> np.ndarray:
    """(frames, n) cepstral coefficients 1..n of a waveform's log-mel."""
    log_mel = mel_spectrogram(wave.float(), audio).numpy().T  # (frames, n_mels)
    m = log_mel.shape[1]
    k = np.arange(1, n + 1)[:, None]
    basis = np.cos(np.pi * k * (np.arange(m)[None, :] + 0.5) / m) * (2.0 / m)
    return log_mel @ basis.T


def dtw_cost(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """(sum of frame distances, path length) of the cheapest monotonic alignment of the
    rows of `a` and `b` (steps: diagonal, down, right)."""
    distances = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    n, m = distances.shape
    cost = np.full((n + 1, m + 1), np.inf)
    length = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):  # the three predecessors, cheapest first
            options = ((cost[i - 1, j - 1], length[i - 1, j - 1]),
                       (cost[i - 1, j], length[i - 1, j]), (cost[i, j - 1], length[i, j - 1]))
            best, steps = min(options, key=lambda option: option[0])
            cost[i, j] = best + distances[i - 1, j - 1]
            length[i, j] = steps + 1
    return float(cost[n, m]), int(length[n, m])


def mcd_dtw(reference: torch.Tensor, synthesized: torch.Tensor, audio: AudioConfig) -> float:
    """Mel cepstral distortion in dB of `synthesized` against `reference` (waveforms at
    ``audio.sample_rate``), frames matched by `dtw_cost`."""
    a, b = mel_cepstra(reference, audio), mel_cepstra(synthesized, audio)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("MCD needs two non-empty clips")
    total, steps = dtw_cost(a, b)
    return _MCD_SCALE * total / steps


def dnsmos(wave: torch.Tensor, sample_rate: int) -> dict | None:
    """DNSMOS estimates of one clip: ``p808``, ``ovrl``, ``sig``, ``bak``; None when the
    ``speechmos`` package (the ``quality`` extra) is missing."""
    try:
        from speechmos import dnsmos as model
    except ImportError:
        return None
    import torchaudio

    clip = torchaudio.functional.resample(wave.float(), sample_rate, DNSMOS_RATE)
    clip = clip.clamp(-1.0, 1.0).numpy().astype(np.float32)
    if clip.shape[0] < DNSMOS_RATE // 2:  # the models need some speech to judge
        clip = np.pad(clip, (0, DNSMOS_RATE // 2 - clip.shape[0]))
    scores = model.run(clip, sr=DNSMOS_RATE)
    return {"p808": float(scores["p808_mos"]), "ovrl": float(scores["ovrl_mos"]),
            "sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"])}


def stoi(reference: torch.Tensor, degraded: torch.Tensor, sample_rate: int) -> float | None:
    """STOI of a clip against its time-aligned reference (the shorter length of the two);
    None when ``pystoi`` (the ``quality`` extra) is missing."""
    try:
        from pystoi import stoi as measure
    except ImportError:
        return None
    n = min(reference.shape[-1], degraded.shape[-1])
    return float(measure(reference[:n].double().numpy(), degraded[:n].double().numpy(),
                         sample_rate, extended=False))


def quality_extra_available() -> bool:
    """Whether DNSMOS and STOI can be computed (``pip install kokoro_nb[quality]``)."""
    try:
        import pystoi  # noqa: F401
        import speechmos  # noqa: F401
    except ImportError:
        return False
    return True
