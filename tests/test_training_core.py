"""The training core in-process: mixed precision with a gradient scaler, loader workers,
and what a run leaves for the notebooks."""

import math
import shutil

import pytest
import torch

from kokoro_nb import training
from kokoro_nb.checkpoints import load_checkpoint_file
from kokoro_nb.config import TrainConfig
from kokoro_nb.corpus import batch_to_device
from kokoro_nb.course import load_run
from kokoro_nb.device import Precision
from kokoro_nb.runlog import read_metrics
from kokoro_nb.training import Trainer


def demo_config(corpus, output, cache, **changes):
    settings = dict(corpus=str(corpus), output=str(output), cache_dir=str(cache), preset="demo",
                    batch_size=4, epochs=1, save_every=1, progress=False, threads=1)
    return TrainConfig(**(settings | changes))


@pytest.fixture
def bf16_with_scaler(monkeypatch):
    """Make the CPU train as a GPU with fp16-style scaling would: bf16 autocast (which the CPU
    has) plus a GradScaler, so the scaler's code path runs here."""
    monkeypatch.setattr(training, "choose_precision",
                        lambda device, amp: Precision(torch.bfloat16, True))


def test_mixed_precision_step_with_a_gradient_scaler(tone_corpus, tmp_path, bf16_with_scaler):
    trainer = Trainer(demo_config(tone_corpus, tmp_path / "run", tmp_path / "cache"))
    assert isinstance(trainer.scaler, torch.amp.GradScaler)
    batch = trainer.collate([trainer.train_set[i] for i in range(4)])
    outputs, _ = trainer.forward_losses(batch_to_device(batch, trainer.device))
    assert outputs["mel"].dtype == torch.bfloat16  # the forward pass really ran in bf16
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    record = trainer.train_step(batch)
    assert "skipped" not in record and math.isfinite(record["total"])
    assert math.isfinite(record["grad_norm"]) and record["grad_norm"] > 0
    changed = [k for k, v in trainer.model.named_parameters() if not torch.equal(before[k], v)]
    assert len(changed) > len(before) // 2
    assert trainer.global_step == 1


def test_resume_restores_the_gradient_scaler(tone_corpus, tmp_path, bf16_with_scaler):
    config = demo_config(tone_corpus, tmp_path / "run", tmp_path / "cache", epochs=2)
    trainer = Trainer(config)
    batch = trainer.collate([trainer.train_set[i] for i in range(4)])
    trainer.train_step(batch)
    trainer.scaler.update(new_scale=1234.0)  # a scale that no fresh scaler has
    path = trainer.save_interrupted()
    assert load_checkpoint_file(path)["scaler"]["scale"] == 1234.0
    resumed = Trainer(config, resume=str(path))
    assert resumed.scaler.get_scale() == 1234.0
    assert resumed.global_step == 1
    fresh = Trainer(demo_config(tone_corpus, tmp_path / "other", tmp_path / "cache"))
    assert fresh.scaler.get_scale() != 1234.0


def test_loader_workers_train_exactly_as_the_main_process(tone_corpus, tmp_path):
    losses = {}
    for workers in (0, 2):
        output = tmp_path / f"workers{workers}"
        Trainer(demo_config(tone_corpus, output, tmp_path / "cache", num_workers=workers)).train()
        losses[workers] = [r["loss"] for r in read_metrics(output) if r["type"] == "train"]
    assert len(losses[0]) == 3
    assert losses[2] == losses[0]


def test_load_run_lists_mid_epoch_checkpoints_in_training_order(tone_corpus, tmp_path):
    output = tmp_path / "run"
    trainer = Trainer(demo_config(tone_corpus, output, tmp_path / "cache", epochs=2))
    trainer.train()
    # A stop inside epoch 2 and a later epoch 12, named as training names them.
    shutil.copy(output / "checkpoint_epoch_1.pth", output / "checkpoint_epoch_1_step_4.pth")
    shutil.copy(output / "checkpoint_epoch_2.pth", output / "checkpoint_epoch_12.pth")
    run = load_run(output)
    assert [p.name for p in run.checkpoints] == [
        "checkpoint_epoch_1.pth", "checkpoint_epoch_1_step_4.pth", "checkpoint_epoch_2.pth",
        "checkpoint_epoch_12.pth"]
    assert run.final_model == output / "kokoro_russian_final.pth"
    assert run.validation_item.id in {item.id for item in trainer.val_set.items}
    assert [r["step"] for r in run.metrics() if r["type"] == "train"] == list(range(1, 7))
