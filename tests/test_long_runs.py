"""Long trainings: a resume keeps the run's settings, stops at a step limit resume exactly,
used output directories are protected, old checkpoints are deleted safely, files get the
user's permissions, gradients accumulate."""

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from kokoro_nb import checkpoints
from kokoro_nb.checkpoints import list_checkpoints, load_checkpoint_file, prune_checkpoints
from kokoro_nb.config import TrainConfig
from kokoro_nb.device import Precision
from kokoro_nb.training import Trainer, accumulate_gradients

ROOT = Path(__file__).resolve().parents[1]


def train(corpus, out, cache, *flags, check=True):
    command = [sys.executable, "-m", "kokoro_nb", "train", "--output", str(out), *flags]
    if "--resume" not in flags:  # a resume inherits these from its checkpoint
        command += ["--corpus", str(corpus), "--cache-dir", str(cache), "--preset", "demo",
                    "--no-progress", "--threads", "1", "--save-every", "1"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def train_records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
            if '"train"' in line]


def test_a_resume_keeps_the_runs_settings_and_logs_what_a_flag_changes(tone_corpus, tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    train(tone_corpus, out, cache, "-b", "3", "-e", "1", "-lr", "5e-4", "--warmup-steps", "2")
    first = load_checkpoint_file(out / "checkpoint_epoch_1.pth")
    log = train(tone_corpus, out, cache, "--resume", "auto", "-e", "2").stderr
    assert "Resume changes: epochs: 1 -> 2" in log and "batch_size" not in log.split("changes")[1]
    second = load_checkpoint_file(out / "checkpoint_epoch_2.pth")["train_config"]
    for name in ("batch_size", "learning_rate", "preset", "warmup_steps", "cache_dir", "seed"):
        assert second[name] == first["train_config"][name], name
    assert (second["batch_size"], second["learning_rate"], second["epochs"]) == (3, 5e-4, 2)
    records = train_records(out)
    epoch1, epoch2 = ([r for r in records if r["epoch"] == e] for e in (1, 2))
    assert len(epoch2) == len(epoch1) > 0  # the same batch size, 3
    assert epoch2[0]["lr"] == pytest.approx(5e-4, rel=1e-3)  # decay barely begun; demo: 1e-3
    # No flag at all: nothing changes, and the run ends where its settings say (epoch 2).
    log = train(tone_corpus, out, cache, "--resume", "auto").stderr
    assert "Resume changes" not in log and "Training from epoch 3 to 2" in log


def test_resume_after_a_step_limit_is_exact(tone_corpus, tmp_path):
    cache = tmp_path / "cache"
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train(tone_corpus, straight, cache, "-b", "2", "-e", "2")
    log = train(tone_corpus, stopped, cache, "-b", "2", "-e", "2", "--max-steps", "7").stderr
    assert "Stopping early: max_steps 7 reached" in log
    state = load_checkpoint_file(stopped / "checkpoint_epoch_1_step_7.pth")
    assert state["global_step"] == 7 and state["batch_index"] == 2 and "optimizer" in state
    train(tone_corpus, stopped, cache, "--resume", "auto")  # max_steps is not inherited
    a, b = train_records(straight), train_records(stopped)
    assert [r["step"] for r in b] == [r["step"] for r in a] == list(range(1, len(a) + 1))
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    final_a = load_checkpoint_file(straight / "kokoro_russian_final.pth")
    final_b = load_checkpoint_file(stopped / "kokoro_russian_final.pth")
    assert all(torch.equal(final_a["model"][k], final_b["model"][k]) for k in final_a["model"])
    assert final_a["loss"] == final_b["loss"]  # the resumed epoch's mean covers all its steps


def test_a_new_run_into_a_used_directory_is_refused_unless_overwrite(tone_corpus, tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    train(tone_corpus, out, cache, "-b", "4", "-e", "1")
    before = sorted(p.name for p in out.iterdir())
    refused = train(tone_corpus, out, cache, "-b", "4", "-e", "1", check=False)
    assert refused.returncode == 2
    assert "already holds a training run" in refused.stderr
    assert all(word in refused.stderr for word in ("--resume auto", "--output", "--overwrite"))
    assert sorted(p.name for p in out.iterdir()) == before  # nothing touched
    log = train(tone_corpus, out, cache, "-b", "6", "-e", "1", "--overwrite").stderr
    assert "--overwrite: deleted the previous run" in log
    assert load_checkpoint_file(out / "checkpoint_epoch_1.pth")["train_config"]["batch_size"] == 6
    assert [r["step"] for r in train_records(out)] == list(range(1, len(train_records(out)) + 1))


def test_retention_keeps_the_last_n_best_and_final_with_user_permissions(tone_corpus, tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    old_mask = os.umask(0o022)
    try:
        log = train(tone_corpus, out, cache, "-b", "4", "-e", "5", "--keep-last", "2").stderr
    finally:
        os.umask(old_mask)
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint_epoch_4.pth",
                                                       "checkpoint_epoch_5.pth"]
    assert "Checkpoint deleted (--keep-last 2): checkpoint_epoch_1.pth" in log
    names = {p.name for p in out.iterdir()}
    assert {"best.pth", "kokoro_russian_final.pth"} <= names
    assert {f"sample_epoch_{n}.wav" for n in range(1, 6)} <= names  # small: all kept
    assert {f"alignment_epoch_{n}.png" for n in range(1, 6)} <= names
    best = load_checkpoint_file(out / "best.pth")
    assert "optimizer" not in best
    vals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
            if '"val"' in line]
    assert best["best_val_loss"] == min(v["val_postnet"] for v in vals)
    assert best["epoch"] == min(vals, key=lambda v: v["val_postnet"])["epoch"]
    for path in out.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


def test_pruning_never_deletes_the_newest_and_cleans_up_after_a_crash(tmp_path):
    for name in ["checkpoint_epoch_1.pth", "checkpoint_epoch_2.pth", "checkpoint_epoch_2_step_9.pth",
                 "checkpoint_epoch_3.pth", "checkpoint_epoch_3_step_14.pth"]:
        (tmp_path / name).write_bytes(b"x")
    removed = prune_checkpoints(tmp_path, keep_last=1, protect=tmp_path / "checkpoint_epoch_3.pth")
    assert sorted(p.name for p in removed) == ["checkpoint_epoch_1.pth", "checkpoint_epoch_2.pth",
                                               "checkpoint_epoch_2_step_9.pth"]
    # A stop after the newest epoch checkpoint is the latest state: kept.
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint_epoch_3.pth",
                                                            "checkpoint_epoch_3_step_14.pth"]
    # A resume from an older checkpoint writes a lower epoch: the one just written is kept.
    (tmp_path / "checkpoint_epoch_2.pth").write_bytes(b"y")
    prune_checkpoints(tmp_path, keep_last=1, protect=tmp_path / "checkpoint_epoch_2.pth")
    assert (tmp_path / "checkpoint_epoch_2.pth").exists()
    assert prune_checkpoints(tmp_path, keep_last=0) == []


def test_kill_9_while_deleting_old_checkpoints_loses_nothing(tone_corpus, tmp_path):
    """The process dies (SIGKILL) in the middle of retention's deletions: the newest
    checkpoint is whole, `--resume auto` continues, and the next save removes the rest."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    train(tone_corpus, out, cache, "-b", "4", "-e", "3", "--keep-last", "0")
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from kokoro_nb import checkpoints
        from kokoro_nb.config import TrainConfig
        from kokoro_nb.training import Trainer

        original = Path.unlink
        def dying_unlink(self, missing_ok=False):
            if self.name.startswith("checkpoint_epoch_2"):
                os.kill(os.getpid(), signal.SIGKILL)  # epoch 1 is gone, epoch 2 is not
            return original(self, missing_ok=missing_ok)
        Path.unlink = dying_unlink
        Trainer(TrainConfig(output={str(out)!r}, epochs=4, keep_last=1), resume="auto",
                explicit={{"epochs", "keep_last"}}).train()
    """)
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    left = [p.name for p in list_checkpoints(out)]
    assert left == ["checkpoint_epoch_2.pth", "checkpoint_epoch_3.pth", "checkpoint_epoch_4.pth"]
    assert load_checkpoint_file(out / "checkpoint_epoch_4.pth")["epoch"] == 4
    train(tone_corpus, out, cache, "--resume", "auto", "-e", "5", "--keep-last", "1")
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint_epoch_5.pth"]
    steps = [r["step"] for r in train_records(out)]
    assert steps == list(range(1, len(steps) + 1))


def test_gradient_scaler_skips_count_as_non_finite_steps(tone_corpus, tmp_path, monkeypatch):
    from kokoro_nb import training

    monkeypatch.setattr(training, "choose_precision",
                        lambda device, amp: Precision(torch.bfloat16, True))
    trainer = Trainer(TrainConfig(corpus=str(tone_corpus), output=str(tmp_path / "run"),
                                  cache_dir=str(tmp_path / "cache"), preset="demo", batch_size=4,
                                  progress=False, threads=1))
    weight = trainer.model.decoder.frames.weight
    before = weight.detach().clone()
    hook = weight.register_hook(lambda grad: torch.full_like(grad, float("inf")))
    scale = trainer.scaler.get_scale()
    record = trainer.train_step(trainer.collate([trainer.train_set[i] for i in range(4)]))
    hook.remove()
    assert record["skipped"] and trainer.nonfinite_in_row == 1
    assert trainer.scaler.get_scale() < scale and torch.equal(weight.detach(), before)
    record = trainer.train_step(trainer.collate([trainer.train_set[i] for i in range(4)]))
    assert "skipped" not in record and trainer.nonfinite_in_row == 0


def test_mps_random_state_is_saved_and_restored(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: torch.tensor([7, 8, 9]))
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: calls.append(state))
    state = checkpoints.rng_state(torch.device("mps"))
    assert torch.equal(state["mps"], torch.tensor([7, 8, 9]))
    checkpoints.restore_rng_state(state, torch.device("mps"))
    assert len(calls) == 1 and torch.equal(calls[0], torch.tensor([7, 8, 9]))
    checkpoints.restore_rng_state(state, torch.device("cpu"))  # another device: untouched
    assert len(calls) == 1


def test_accumulated_gradients_are_the_mean_of_the_batches(tone_corpus, tmp_path):
    trainer = Trainer(TrainConfig(corpus=str(tone_corpus), output=str(tmp_path / "run"),
                                  cache_dir=str(tmp_path / "cache"), preset="demo", batch_size=2,
                                  progress=False, threads=1,
                                  model_changes={"dropout": 0.0, "prenet_dropout": 0.0,
                                                 "rnn_dropout": 0.0}))
    first = trainer.collate([trainer.train_set[i] for i in (0, 1)])
    second = trainer.collate([trainer.train_set[i] for i in (2, 3, 4)])
    params = [p for p in trainer.model.parameters() if p.requires_grad]

    def gradients(batches):
        trainer.model.zero_grad(set_to_none=True)
        accumulate_gradients(batches, trainer.forward_losses, None)
        return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]

    together = gradients([first, second])
    alone = [gradients([first]), gradients([second])]
    for g, a, b in zip(together, *alone, strict=True):
        torch.testing.assert_close(g, (a + b) / 2, rtol=1e-4, atol=1e-6)


def test_grad_accum_counts_optimiser_steps(tone_corpus, tmp_path):
    out = tmp_path / "run"
    train(tone_corpus, out, tmp_path / "cache", "-b", "2", "-e", "1", "--grad-accum", "2")
    records = train_records(out)
    trainer_batches = sum(r["batches"] for r in records)
    assert all(r["batches"] == 2 for r in records[:-1]) and records[-1]["batches"] in (1, 2)
    assert len(records) == -(-trainer_batches // 2)
    assert load_checkpoint_file(out / "checkpoint_epoch_1.pth")["global_step"] == len(records)


def test_a_checkpoint_resumes_after_its_preset_was_redefined(tone_corpus, tmp_path, monkeypatch):
    """Week-long runs outlive preset definitions (the default preset's attention and postnet
    were narrowed once): the checkpoint's stored model config rules a resume."""
    from kokoro_nb import config as config_module

    settings = TrainConfig(corpus=str(tone_corpus), output=str(tmp_path / "run"),
                           cache_dir=str(tmp_path / "cache"), preset="demo", batch_size=4,
                           epochs=1, progress=False, threads=1)
    Trainer(settings).train()
    redefined = config_module.MODEL_PRESETS["demo"] | {"attention_dim": 32, "postnet_channels": 64}
    monkeypatch.setitem(config_module.MODEL_PRESETS, "demo", redefined)
    resumed = Trainer(TrainConfig(output=settings.output, epochs=2), resume="auto")
    assert resumed.model_config.attention_dim == 64 and resumed.model_config.postnet_channels == 128
    resumed.train()
    assert load_checkpoint_file(tmp_path / "run" / "checkpoint_epoch_2.pth")["epoch"] == 2
