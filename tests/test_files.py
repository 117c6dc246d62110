"""Safe files: atomic writes, weights-only checkpoints, plain-data processor pickles."""

import os
import pickle

import pytest
import torch

from kokoro_nb.checkpoints import (
    UnsafeFileError,
    atomic_torch_save,
    atomic_write_bytes,
    load_checkpoint_file,
    load_processor,
    save_processor,
)
from kokoro_nb.text import RussianPhonemeProcessor


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_processor_round_trip_and_json(tmp_path):
    processor = RussianPhonemeProcessor(rules="academic")
    processor.add_stress("кракозябра", 1)
    path = save_processor(processor, tmp_path / "phoneme_processor.pkl")
    loaded = load_processor(path)
    assert loaded.to_dict() == processor.to_dict()
    assert load_processor(path.with_suffix(".json")).to_dict() == processor.to_dict()


def test_crafted_processor_pickle_is_refused(tmp_path):
    path = tmp_path / "phoneme_processor.pkl"
    path.write_bytes(pickle.dumps({"format": _RunsCode()}))
    with pytest.raises(UnsafeFileError, match="posix.system|os.system|plain data"):
        load_processor(path)


def test_checkpoint_with_objects_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"format": "kokoro_nb.checkpoint", "payload": _RunsCode()}, path)
    with pytest.raises(UnsafeFileError, match="refused"):
        load_checkpoint_file(path)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.pth"
    atomic_torch_save({"format": "kokoro_nb.checkpoint", "w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint_file(path)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "file.bin"
    atomic_write_bytes(path, b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(path, b"new" * 1000)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temp file left
