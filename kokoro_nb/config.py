"""Every setting in one place, as JSON-serialisable dataclasses with the seed's defaults.

`AudioConfig` fixes how audio becomes mel spectrograms (22 050 Hz, 80 mels, n_fft 1024,
hop 256: one frame is ~11.6 ms) and which clips are too long to train on (800 frames,
~9.3 s). Changing any of its fields changes the features, so the feature cache keys on it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 22_050
    n_mels: int = 80
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    f_min: float = 0.0
    f_max: float = 8_000.0
    # log(max(mel, log_floor)): the floor keeps silence at a finite value (log 1e-5 = -11.5).
    log_floor: float = 1e-5
    # Slaney-style filterbank and area normalisation, as Tacotron 2 and most vocoders use.
    mel_scale: str = "slaney"
    mel_norm: str | None = "slaney"
    max_frames: int = 800  # longer clips are skipped for training (the seed's limit)
    # Leading/trailing silence trim: frames quieter than peak - trim_db are cut.
    trim_silence: bool = True
    trim_db: float = 40.0
    trim_margin_s: float = 0.05  # silence kept at each end after trimming
    griffin_lim_iters: int = 32
    griffin_lim_power: float = 1.5

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_mels <= 0 or self.hop_length <= 0:
            raise ValueError(f"invalid AudioConfig: {self}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} must be <= n_fft {self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate/2; got f_min={self.f_min}, "
                f"f_max={self.f_max}, sample_rate={self.sample_rate}"
            )

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    @property
    def max_seconds(self) -> float:
        """Longest clip (in seconds) that fits in `max_frames`."""
        return self.max_frames * self.frame_seconds


def config_to_dict(config: Any) -> dict:
    return asdict(config)


def config_from_dict(cls: type[T], data: dict) -> T:
    """Build a config dataclass from a dict; unknown keys are an error that names them."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
    return cls(**data)


def config_fingerprint(*configs: Any) -> str:
    """A stable string for cache keys: the configs' JSON with sorted keys."""
    return json.dumps([asdict(c) if dataclasses.is_dataclass(c) else c for c in configs],
                      sort_keys=True, ensure_ascii=False)
