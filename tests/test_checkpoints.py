"""kokoro_nb.checkpoints: names and their order, atomic writes of every kind, format checks."""

import os

import matplotlib.pyplot as plt
import pytest
import torch

from kokoro_nb import checkpoints
from kokoro_nb.audio import write_audio
from kokoro_nb.checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    checkpoint_parts,
    checkpoint_position,
    find_latest_checkpoint,
    list_checkpoints,
    remove_stale_temp_files,
)
from kokoro_nb.plots import save_attention_png

NAMES = ["checkpoint_epoch_12_step_900.pth", "checkpoint_epoch_3.pth", "checkpoint_epoch_12.pth",
         "checkpoint_epoch_3_step_40.pth", "checkpoint_epoch_100.pth", "checkpoint_epoch_9.pth"]


def test_checkpoints_sort_by_epoch_then_step_not_by_name(tmp_path):
    for name in NAMES + ["kokoro_russian_final.pth", "checkpoint_epoch_x.pth", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "checkpoint_epoch_7.pth").mkdir()  # a directory is not a checkpoint
    os.utime(tmp_path / "checkpoint_epoch_3.pth", (2e9, 2e9))  # the newest mtime must not matter
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "checkpoint_epoch_3.pth", "checkpoint_epoch_3_step_40.pth", "checkpoint_epoch_9.pth",
        "checkpoint_epoch_12.pth", "checkpoint_epoch_12_step_900.pth", "checkpoint_epoch_100.pth"]
    assert find_latest_checkpoint(tmp_path).name == "checkpoint_epoch_100.pth"
    assert find_latest_checkpoint(tmp_path / "missing") is None
    assert list_checkpoints(tmp_path / "missing") == []


def test_names_and_positions_round_trip():
    assert checkpoint_position(checkpoints.epoch_checkpoint_name(5)) == (5, -1)
    assert checkpoint_position(checkpoints.interrupted_checkpoint_name(5, 321)) == (5, 321)
    assert checkpoint_position("alignment_epoch_5.png") is None
    assert checkpoints.alignment_png_name(5) == "alignment_epoch_5.png"


def test_every_writer_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    """The PNG, WAV and checkpoint writers all go through atomic_write_bytes: when the
    final rename fails, the old file is untouched and no temp file remains."""
    png, wav, pth = tmp_path / "a.png", tmp_path / "a.wav", tmp_path / "a.pth"
    save_attention_png(torch.eye(4), png, "first")
    write_audio(wav, torch.zeros(100), 22_050)
    checkpoints.atomic_torch_save({"x": 1}, pth)
    before = {p: p.read_bytes() for p in (png, wav, pth)}

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints.os, "replace", broken_replace)
    for write in (lambda: save_attention_png(torch.eye(5), png, "second"),
                  lambda: write_audio(wav, torch.ones(200) * 0.1, 22_050),
                  lambda: checkpoints.atomic_torch_save({"x": 2}, pth)):
        with pytest.raises(OSError, match="disk full"):
            write()
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.pth", "a.wav"]


def test_attention_png_is_a_png_and_leaves_pyplot_alone(tmp_path):
    figures = plt.get_fignums()
    path = save_attention_png(torch.softmax(torch.randn(6, 4), -1), tmp_path / "x.png", "t")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert plt.get_fignums() == figures


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    for name in (".alignment_epoch_2.png.abc123.tmp", ".checkpoint_epoch_2.pth.x.tmp",
                 "checkpoint_epoch_2.pth", "metrics.jsonl"):
        (tmp_path / name).write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_epoch_2.pth",
                                                          "metrics.jsonl"]


def test_files_of_another_format_or_a_newer_version_are_refused():
    with pytest.raises(ValueError, match="no 'format' marker"):
        checkpoints.check_format({"model": {}}, "x.pth")
    with pytest.raises(ValueError, match="newer kokoro_nb"):
        checkpoints.check_format({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION + 1},
                                 "x.pth")
    checkpoints.check_format({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION}, "x.pth")
    with pytest.raises(ValueError, match="no 'format' marker"):
        checkpoint_parts({"format": "other"}, "x.pth")
