"""Stopping and resuming: SIGTERM mid-epoch, exact resume, non-finite losses."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from kokoro_nb.checkpoints import find_latest_checkpoint, load_checkpoint_file
from kokoro_nb.config import TrainConfig
from kokoro_nb.training import Trainer

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["мама", "папа", "кот", "дом", "лес", "сад", "мир", "день", "ночь", "река"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Forty short two-word clips: enough batches per epoch to interrupt one."""
    root = tmp_path_factory.mktemp("corpus40")
    (root / "wavs").mkdir()
    lines = []
    rng = np.random.default_rng(0)
    for i in range(40):
        text = f"{WORDS[i % 10].capitalize()} и {WORDS[(i * 3 + 1) % 10]}."
        t = np.arange(int(0.5 * 22_050)) / 22_050
        wave = 0.3 * np.sin(2 * np.pi * (150 + 10 * (i % 7)) * t) + 0.01 * rng.standard_normal(len(t))
        sf.write(str(root / "wavs" / f"u{i:02d}.wav"), wave, 22_050)
        lines.append(f"u{i:02d}|{text}")
    (root / "metadata_RUSLAN_22200.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def train_args(corpus, out, cache, *extra):
    return [sys.executable, "-m", "kokoro_nb", "train", "--corpus", str(corpus), "--output",
            str(out), "--preset", "demo", "--batch-size", "2", "--save-every", "1", "--cache-dir",
            str(cache), "--no-progress", "--threads", "1", *extra]


def train_records(out):
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == "train"]


def test_sigterm_mid_epoch_then_exact_resume(corpus, tmp_path):
    cache = tmp_path / "cache"
    straight = tmp_path / "straight"
    subprocess.run(train_args(corpus, straight, cache, "--epochs", "2"), check=True,
                   capture_output=True, cwd=ROOT, timeout=600)

    stopped = tmp_path / "stopped"
    process = subprocess.Popen(train_args(corpus, stopped, cache, "--epochs", "2"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.time() + 300
    while time.time() < deadline:
        metrics = stopped / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    log, _ = process.communicate(timeout=300)
    assert process.returncode == 0, log
    assert "Received SIGTERM" in log
    interrupted = find_latest_checkpoint(stopped)
    assert interrupted is not None and "_step_" in interrupted.name, log
    state = load_checkpoint_file(interrupted)
    assert state["epoch"] == 0 and 0 < state["batch_index"] < 16
    assert not (stopped / "kokoro_russian_final.pth").exists()

    resumed_log = subprocess.run(train_args(corpus, stopped, cache, "--epochs", "2", "--resume", "auto"),
                                 check=True, capture_output=True, text=True, cwd=ROOT,
                                 timeout=600).stderr
    assert f"skipping the {state['batch_index']} batches" in resumed_log

    # Same steps, same losses, bit-identical weights: nothing repeated, nothing skipped.
    a, b = train_records(straight), train_records(stopped)
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, len(a) + 1))
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    final_a = load_checkpoint_file(straight / "kokoro_russian_final.pth")["model"]
    final_b = load_checkpoint_file(stopped / "kokoro_russian_final.pth")["model"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_non_finite_losses_skip_steps_then_stop_with_a_checkpoint(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("KOKORO_NB_CACHE", str(tmp_path / "cache"))
    config = TrainConfig(corpus=str(corpus), output=str(tmp_path / "nan"), preset="demo",
                         batch_size=2, epochs=1, progress=False, threads=1, max_nonfinite_steps=3)
    trainer = Trainer(config)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    original = trainer.model.forward

    def poisoned(*args, **kwargs):
        out = original(*args, **kwargs)
        out["mel"] = out["mel"] * float("nan")
        return out

    monkeypatch.setattr(trainer.model, "forward", poisoned)
    with pytest.raises(RuntimeError, match="3 non-finite losses .* resume from"):
        trainer.train()
    saved = find_latest_checkpoint(tmp_path / "nan")
    assert saved is not None and saved.name == "checkpoint_epoch_0_step_3.pth"
    after = load_checkpoint_file(saved)["model"]
    # The weights never took a NaN step (batch-norm statistics may move; weights may not).
    assert all(torch.equal(before[k], after[k]) for k in before)
    records = train_records(tmp_path / "nan")
    assert [r.get("skipped") for r in records] == [True, True, True]


def test_find_latest_checkpoint_orders_by_epoch_then_step(tmp_path):
    for name in ("checkpoint_epoch_2.pth", "checkpoint_epoch_10.pth", "checkpoint_epoch_9_step_500.pth",
                 "checkpoint_epoch_10_step_20.pth", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    os.utime(tmp_path / "checkpoint_epoch_2.pth", (2e9, 2e9))  # newest mtime must not matter
    assert find_latest_checkpoint(tmp_path).name == "checkpoint_epoch_10_step_20.pth"
    (tmp_path / "checkpoint_epoch_11.pth").write_bytes(b"x")
    assert find_latest_checkpoint(tmp_path).name == "checkpoint_epoch_11.pth"


def test_kill_9_at_random_moments_never_loses_more_than_the_last_save(corpus, tmp_path):
    """Ten SIGKILLs at random moments (during steps, validation and checkpoint writes):
    every checkpoint on disk always loads, `--resume auto` always continues, and the run
    still ends with one contiguous step history."""
    import random

    out, cache = tmp_path / "killed", tmp_path / "cache"
    rng = random.Random(7)
    args = train_args(corpus, out, cache, "--epochs", "6", "--resume", "auto")
    for trial in range(10):
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   cwd=ROOT)
        time.sleep(rng.uniform(2.0, 6.0))
        if trial == 9:  # on a loaded machine the random kills may all land before any save
            deadline = time.time() + 120
            while not list(out.glob("checkpoint_*.pth")) and time.time() < deadline \
                    and process.poll() is None:
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 1.0))
        process.kill()
        process.wait(timeout=60)
        for path in out.glob("checkpoint_*.pth"):
            state = load_checkpoint_file(path)  # raises if half-written
            assert state["format"] == "kokoro_nb.checkpoint", (trial, path)
    assert list(out.glob("checkpoint_*.pth")), "no kill landed after a checkpoint"
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT, timeout=600)
    steps = [r["step"] for r in train_records(out)]
    assert steps == list(range(1, len(steps) + 1))
    final = load_checkpoint_file(out / "kokoro_russian_final.pth")
    assert final["epoch"] == 6 and final["global_step"] == steps[-1]
    assert not list(out.glob(".*.tmp"))


def test_resume_names_what_does_not_fit(corpus, tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    config = TrainConfig(corpus=str(corpus), output=str(out), preset="demo", batch_size=8,
                         epochs=1, save_every=1, cache_dir=str(cache), progress=False)
    Trainer(config).train()
    checkpoint_path = find_latest_checkpoint(out)

    # Another architecture than the checkpoint's: the differing fields are named.
    with pytest.raises(ValueError, match=r"attention_heads 1 \(checkpoint\) vs 2 .*--preset demo"):
        Trainer(TrainConfig(**{**config.__dict__, "preset": "default", "epochs": 2}), resume="auto",
                explicit={"preset", "epochs"})
    # Inference-only settings may change on resume.
    changed = TrainConfig(**{**config.__dict__, "epochs": 2,
                             "model_changes": {"max_decoder_steps": 300}})
    assert Trainer(changed, resume="auto").epoch == 1

    state = load_checkpoint_file(checkpoint_path)
    # A vocabulary that does not match the model's embedding table.
    bad_vocab = tmp_path / "bad_vocab.pth"
    torch.save({**state, "model_config": {**state["model_config"], "vocab_size": 99}}, bad_vocab)
    with pytest.raises(ValueError, match="vocabulary has 67 symbols but the model was built for 99"):
        Trainer(config, resume=str(bad_vocab))
    # Weights of another shape than the config says.
    weights = dict(state["model"])
    weights["decoder.frames.weight"] = weights["decoder.frames.weight"][:-3]
    bad_weights = tmp_path / "bad_weights.pth"
    torch.save({**state, "model": weights}, bad_weights)
    with pytest.raises(ValueError, match=r"size mismatch for decoder\.frames\.weight"):
        Trainer(config, resume=str(bad_weights))
