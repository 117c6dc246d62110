"""Every file a run writes and how it is read back: names, order, atomic saves, safe loads.

An output directory holds (names are the seed's where the seed has one)::

    checkpoint_epoch_N.pth          after epoch N: everything an exact resume needs
    checkpoint_epoch_N_step_S.pth   a stop inside epoch N + 1 (signal, step limit, repeated
                                    NaN) after S optimiser steps in all
    alignment_epoch_N.png           a validation alignment at that checkpoint
    sample_epoch_N.wav              a held-out validation sentence, free-running, at that epoch
    best.pth                        the model of the epoch with the lowest validation mel loss
    kokoro_russian_final.pth        the trained model for synthesis (no optimiser state)
    phoneme_processor.pkl           the front end as plain data (+ .json beside it)
    metrics.jsonl                   one JSON line per step and per validation (`runlog.py`)
    tensorboard/                    the same, with alignments and samples, for TensorBoard

- Order: checkpoints sort by (epoch, step), never by name or mtime: epoch 12 comes after
  epoch 3, and a mid-epoch checkpoint after its epoch's own.
- Retention (`prune_checkpoints`): the newest N epoch checkpoints stay, with the one just
  written and any mid-epoch checkpoint newer than them; older ones go. A new checkpoint is
  written before any old one is deleted, so a crash in between leaves one file too many,
  never one too few.
- Writing: `atomic_write_bytes` writes a temp file (``.<name>.<random>.tmp``) in the target's
  directory, fsyncs it, renames it over the target and fsyncs the directory. A crash leaves
  the old file or the new one, never a mix, and at worst a temp file that
  `remove_stale_temp_files` deletes at the next start. Every file the project writes goes
  through it (checkpoints, PNGs, WAVs, the feature cache, the processor).
- Reading: checkpoints load with ``torch.load(weights_only=True)`` (tensors and plain
  containers only); ``phoneme_processor.pkl`` with an unpickler that refuses every class and
  function, so a crafted file cannot run code. Errors name the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import re
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from .config import (
    AudioConfig,
    ModelConfig,
    TrainConfig,
    config_from_dict,
    model_config_from_dict,
)
from .text import RussianPhonemeProcessor

# The "format" entry of every checkpoint and final model file this package writes, and the
# layout version of their contents (a file from a newer kokoro_nb is refused, not misread).
CHECKPOINT_FORMAT = "kokoro_nb.checkpoint"
CHECKPOINT_VERSION = 1
FINAL_NAME = "kokoro_russian_final.pth"
BEST_NAME = "best.pth"
PROCESSOR_NAME = "phoneme_processor.pkl"
METRICS_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint_epoch_(\d+)(?:_step_(\d+))?\.pth$")
TEMP_PATTERN = ".*.tmp"


class UnsafeFileError(ValueError):
    """A file asked for code or objects where only plain data belongs."""


# --------------------------------------------------------------------------- names and order


def epoch_checkpoint_name(epoch: int) -> str:
    return f"checkpoint_epoch_{epoch}.pth"


def interrupted_checkpoint_name(epoch: int, step: int) -> str:
    """A stop after `epoch` complete epochs and `step` optimiser steps in all."""
    return f"checkpoint_epoch_{epoch}_step_{step}.pth"


def alignment_png_name(epoch: int) -> str:
    return f"alignment_epoch_{epoch}.png"


def sample_wav_name(epoch: int) -> str:
    return f"sample_epoch_{epoch}.wav"


def checkpoint_position(path: str | os.PathLike) -> tuple[int, int] | None:
    """(epoch, step) of a checkpoint file name; an epoch's own checkpoint has step -1, so it
    sorts before that epoch's mid-epoch ones. None for any other name.

    >>> checkpoint_position("checkpoint_epoch_12_step_900.pth"), checkpoint_position("x.pth")
    ((12, 900), None)
    """
    match = CHECKPOINT_PATTERN.match(Path(path).name)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) else -1


def list_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """The checkpoints in `output_dir`, oldest first by (epoch, step), not by name or mtime."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [p for p in output_dir.iterdir() if checkpoint_position(p) and p.is_file()]
    return sorted(found, key=checkpoint_position)


def find_latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest checkpoint in `output_dir` (see `list_checkpoints`), or None."""
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1] if checkpoints else None


def prune_checkpoints(output_dir: str | os.PathLike, keep_last: int,
                      protect: str | os.PathLike | None = None) -> list[Path]:
    """Delete the checkpoints that retention no longer needs; return what was deleted.

    Kept: the newest `keep_last` epoch checkpoints, `protect` (the one just written, even if
    a resume from an older checkpoint put it before others), and the mid-epoch checkpoints
    newer than the newest epoch checkpoint (a stop after it). `keep_last` 0 keeps everything.
    """
    if keep_last <= 0:
        return []
    checkpoints = list_checkpoints(output_dir)
    epochs = [p for p in checkpoints if checkpoint_position(p)[1] == -1]
    keep = set(epochs[-keep_last:]) | ({Path(protect)} if protect else set())
    newest_epoch = checkpoint_position(epochs[-1]) if epochs else (-1, -1)
    removed = []
    for path in checkpoints:
        if path in keep or checkpoint_position(path) > newest_epoch:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


# --------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (see the module's docstring); the file gets the
    permissions the user's umask gives a new file (normally 0644), as `open` would."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp creates 0600; give what open() would
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)
    return path


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """A matplotlib figure as a PNG file, written atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())


def remove_stale_temp_files(directory: str | os.PathLike) -> int:
    """Delete the temp files of writes that a crash interrupted; returns how many."""
    stale = list(Path(directory).glob(TEMP_PATTERN))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


# --------------------------------------------------------------------------- contents


def training_checkpoint(model: torch.nn.Module, processor: RussianPhonemeProcessor,
                        model_config: ModelConfig, audio_config: AudioConfig,
                        train_config: TrainConfig, progress: dict,
                        resume: dict | None = None) -> dict:
    """What a checkpoint holds: the model, everything needed to rebuild it and its front end
    (read back by `checkpoint_parts`), the run's settings and `progress` (epoch,
    batch_index, global_step, loss); with `resume` (optimizer, scheduler, scaler and rng
    states), everything an exact resume needs too. A final model has no `resume` part."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": model.state_dict(),
        "model_config": asdict(model_config),
        "audio_config": asdict(audio_config),
        "train_config": asdict(train_config) | {
            "resolved_learning_rate": train_config.resolved_learning_rate()},
        **progress,
        "phonemes": processor.get_phoneme_list(),
        "processor": processor.to_dict(),
    }
    return state | (resume or {})


def resume_state(optimizer, scheduler, scaler, device: torch.device) -> dict:
    """The part of a checkpoint that only resuming needs: optimizer, LR schedule, fp16
    gradient scaler and random generators."""
    return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(device)}


# --------------------------------------------------------------------------- loading


def load_checkpoint_file(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(
            f"{path}: refused to load: it holds objects other than tensors and plain data "
            f"({exc}). Only load checkpoints from sources you trust.") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a kokoro_nb checkpoint (a {type(state).__name__})")
    return state


def check_format(state: dict, path: str | os.PathLike) -> None:
    """A kokoro_nb model file of a layout this version reads, or a ValueError saying why not."""
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a kokoro_nb model file (no 'format' marker)")
    version = state.get("version", 1)
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise ValueError(f"{path}: written by a newer kokoro_nb (file layout {version!r}, this "
                         f"version reads up to {CHECKPOINT_VERSION}); upgrade kokoro_nb")


def checkpoint_parts(state: dict, path: str | os.PathLike
                     ) -> tuple[ModelConfig, AudioConfig, RussianPhonemeProcessor]:
    """Model config, audio config and phoneme processor stored in a loaded checkpoint.

    Raises ValueError naming the mismatch when the file is not a kokoro_nb model, or when its
    vocabulary or sizes do not fit its own model config (a file from another version, or
    pieces of two runs put together).
    """
    check_format(state, path)
    model_config = model_config_from_dict(state["model_config"])
    audio_config = config_from_dict(AudioConfig, state["audio_config"])
    processor = RussianPhonemeProcessor.from_dict(state["processor"])
    if processor.get_vocab_size() != model_config.vocab_size:
        raise ValueError(
            f"{path}: the phoneme vocabulary has {processor.get_vocab_size()} symbols but the "
            f"model was built for {model_config.vocab_size}")
    if model_config.n_mels != audio_config.n_mels:
        raise ValueError(f"{path}: model n_mels {model_config.n_mels} != audio n_mels "
                         f"{audio_config.n_mels}")
    return model_config, audio_config, processor


def load_weights(model: torch.nn.Module, weights: dict, path: str | os.PathLike) -> None:
    """`load_state_dict`, with a ValueError that names the first tensors that do not fit."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        details = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
        raise ValueError(f"{path}: weights do not fit the model config: "
                         + "; ".join(details[:3])) from None


# --------------------------------------------------------------------------- random state


def rng_state(device: torch.device) -> dict:
    """The random generators an exact resume must restore (CPU torch, Python, the GPU's:
    dropout on CUDA and MPS draws from the device's own generator)."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    elif device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng_state(state: dict, device: torch.device) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "python" in state:
        random.setstate(_to_tuple(state["python"]))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and device.type == "mps":
        torch.mps.set_rng_state(state["mps"])


def _to_tuple(value):
    """random.setstate needs tuples where a checkpoint may hold lists."""
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


# --------------------------------------------------------------------------- phoneme processor


class _PlainDataUnpickler(pickle.Unpickler):
    """Builds dicts, lists, tuples, strings, numbers, booleans and None; nothing else."""

    def find_class(self, module: str, name: str):
        raise UnsafeFileError(
            f"refused to load {module}.{name}: phoneme_processor.pkl must hold plain data only")


def save_processor(processor: RussianPhonemeProcessor, path: str | os.PathLike) -> Path:
    """Write ``processor.to_dict()`` as a pickle of plain data and as JSON beside it."""
    path = Path(path)
    state = processor.to_dict()
    atomic_write_bytes(path, pickle.dumps(state, protocol=4))
    atomic_write_bytes(path.with_suffix(".json"),
                       json.dumps(state, ensure_ascii=False, indent=1).encode("utf-8"))
    return path


def load_processor(path: str | os.PathLike) -> RussianPhonemeProcessor:
    """Read `save_processor`'s pickle (or its .json) with the plain-data-only unpickler."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"phoneme processor file not found: {path}")
    if path.suffix == ".json":
        state = json.loads(path.read_text(encoding="utf-8"))
    else:
        try:
            state = _PlainDataUnpickler(io.BytesIO(path.read_bytes())).load()
        except UnsafeFileError as exc:
            raise UnsafeFileError(f"{path}: {exc}") from None
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable phoneme processor file ({exc})") from None
    try:
        return RussianPhonemeProcessor.from_dict(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a phoneme processor state ({exc})") from None
