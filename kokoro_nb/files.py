"""Files that must never be half-written or run code when read.

- `atomic_write_bytes` / `atomic_torch_save`: write a temp file in the target's directory,
  fsync it, then rename it over the target. A crash leaves the old file or the new one,
  never a mix; a failed write (disk full, no permission) raises and leaves the old file.
- `load_checkpoint_file`: ``torch.load(weights_only=True)``: tensors and plain containers
  only, no arbitrary objects.
- `save_processor` / `load_processor`: the phoneme processor as plain data, pickled (the
  seed's ``phoneme_processor.pkl``) with a JSON copy beside it; the pickle is read with an
  unpickler that refuses every class and function, so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from .text import RussianPhonemeProcessor


# The "format" entry of every checkpoint and final model file this package writes.
CHECKPOINT_FORMAT = "kokoro_nb.checkpoint"


class UnsafeFileError(ValueError):
    """A file asked for code or objects where only plain data belongs."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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
