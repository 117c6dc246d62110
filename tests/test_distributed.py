"""Training under torchrun: the sampler's shards, and real 2-process runs on CPU (gloo)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kokoro_nb.checkpoints import list_checkpoints, load_checkpoint_file
from kokoro_nb.config import TrainConfig
from kokoro_nb.corpus import LengthBucketSampler, shard_batches
from kokoro_nb.distributed import Ranks, launched_by_torchrun
from kokoro_nb.runlog import read_metrics
from kokoro_nb.training_setup import rank_random_state, resume_position


@pytest.mark.parametrize("batches,world", [(10, 2), (10, 3), (9, 4), (2, 4), (7, 1), (0, 2)])
def test_shards_are_equal_and_cover_each_batch_once(batches, world):
    epoch = [[i] for i in range(batches)]
    shards = [shard_batches(epoch, rank, world) for rank in range(world)]
    assert len({len(s) for s in shards}) == 1  # no rank waits on a short epoch
    rounds = -(-batches // world)
    assert all(len(s) == rounds for s in shards)
    # Round k holds batches k * world .. k * world + world - 1: the epoch's order, in rounds.
    in_rounds = [shards[r][k] for k in range(rounds) for r in range(world)]
    assert in_rounds[:batches] == epoch
    assert all(b in epoch for b in in_rounds[batches:])  # the fill-up repeats the epoch's own


def test_sampler_shards_agree_across_ranks_and_epochs():
    lengths = [(i * 37) % 101 + 5 for i in range(203)]
    for epoch in (1, 2, 7):
        whole = LengthBucketSampler(lengths, batch_size=8, seed=3)
        whole.set_epoch(epoch)
        ranks = []
        for rank in range(3):
            sampler = LengthBucketSampler(lengths, batch_size=8, seed=3, rank=rank, world_size=3)
            sampler.set_epoch(epoch)
            ranks.append(sampler.batches())
            assert len(sampler) == len(ranks[-1])
        assert len({len(r) for r in ranks}) == 1
        seen = [i for shard in ranks for batch in shard for i in batch]
        assert set(seen) == set(range(len(lengths)))  # every item of the epoch
        assert len(seen) - len(lengths) < 3 * 8  # repeated: at most the last round's fill-up
        # Each rank's batches are the whole epoch's length buckets, not new ones.
        buckets = [tuple(b) for b in whole.batches()]
        assert all(tuple(b) in buckets for shard in ranks for b in shard)
    other = LengthBucketSampler(lengths, batch_size=8, seed=3, rank=0, world_size=3)
    other.set_epoch(8)
    assert other.batches() != ranks[0]  # the shuffle moves with the epoch


def test_shard_of_a_missing_rank_is_an_error():
    with pytest.raises(ValueError, match="rank 2 is not in a world of 2"):
        shard_batches([[0]], 2, 2)


def test_resume_position_counts_the_batches_of_all_ranks():
    checkpoint = {"epoch": 3, "global_step": 40, "batch_index": 6, "loss": 1.0,
                  "train_config": {"batch_size": 8}}
    config = TrainConfig(batch_size=8)
    assert resume_position(checkpoint, config, world_size=2)[2] == 3
    assert resume_position(checkpoint, config, world_size=1)[2] == 6
    assert resume_position(checkpoint, config, world_size=4)[2] == 1  # 2 batches again


def test_each_rank_resumes_its_own_random_state():
    checkpoint = {"rng": {"who": 0}, "rng_ranks": [{"who": 0}, {"who": 1}]}
    assert rank_random_state(checkpoint, 1, 2) == {"who": 1}
    assert rank_random_state(checkpoint, 0, 3) == {"who": 0}
    assert rank_random_state(checkpoint, 2, 3) == {}  # another rank count: a new stream
    assert rank_random_state({"rng": {"who": 0}}, 0, 1) == {"who": 0}


def test_one_process_without_torchrun_is_one_rank(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ranks = Ranks.from_environment()
    assert not launched_by_torchrun() and ranks.is_main and not ranks.active
    model = torch.nn.Linear(2, 2)
    assert ranks.wrap(model, torch.device("cpu")) is model
    assert ranks.join(torch.device("cpu")) == torch.device("cpu")
    assert ranks.mean({"a": torch.tensor(2.0)}) == {"a": 2.0}
    assert ranks.any(True, torch.device("cpu")) and ranks.from_main(5) == 5


def test_torchrun_refuses_mps(monkeypatch):
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="torchrun with MPS is not supported"):
        Ranks.from_environment().join(torch.device("mps"))


# ---------------------------------------------------------------- real 2-process runs


def torchrun(corpus, out, cache, *extra, background=False):
    launcher = Path(sys.executable).parent / "torchrun"
    command = [str(launcher)] if launcher.exists() else [sys.executable, "-m",
                                                        "torch.distributed.run"]
    command += ["--standalone", "--nproc_per_node", "2", "-m", "kokoro_nb", "train",
                "--corpus", str(corpus), "--output", str(out), "--cache-dir", str(cache),
                "--preset", "demo", "--batch-size", "2", "--save-every", "1", "--device", "cpu",
                "--threads", "1", "--no-progress", "--no-tensorboard", *extra]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    if background:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, start_new_session=True)
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def step_records(out):
    return [r for r in read_metrics(out / "metrics.jsonl") if r["type"] == "train"]


def weights(path):
    return load_checkpoint_file(path)["model"]


@pytest.mark.slow
def test_two_ranks_train_write_once_resume_exactly_and_load_in_one_process(
        tone_corpus, tmp_path):
    cache = tmp_path / "cache"
    # 12 clips: 10 train, in 5 batches of 2; two ranks take 3 rounds (the last filled up).
    straight = tmp_path / "straight"
    log = torchrun(tone_corpus, straight, cache, "--epochs", "50", "--max-steps", "14").stderr
    assert "rank 0 of 2" in log and "gloo backend" in log
    records = step_records(straight)
    assert [r["step"] for r in records] == list(range(1, 15))  # one writer: no step twice
    assert [r["epoch"] for r in records] == [e for e in range(1, 6) for _ in range(3)][:14]
    assert log.count("Validation: loss") == 4  # rank 0 validates; the others stay quiet
    epoch_end = load_checkpoint_file(straight / "checkpoint_epoch_4.pth")
    assert epoch_end["world_size"] == 2 and len(epoch_end["rng_ranks"]) == 2
    assert not list(straight.glob(".*.tmp"))

    # SIGTERM to the torchrun group: one mid-epoch checkpoint, every rank exits.
    stopped = tmp_path / "stopped"
    process = torchrun(tone_corpus, stopped, cache, "--epochs", "50", background=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (
            (stopped / "metrics.jsonl").exists() and len(step_records(stopped)) >= 2):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    interrupted = [p for p in list_checkpoints(stopped) if "step" in p.name]
    assert len(interrupted) == 1, output[-3000:]
    stop_step = load_checkpoint_file(interrupted[0])["global_step"]
    assert 2 <= stop_step < 14, output[-3000:]

    # Two ranks resume it and end where the uninterrupted run did, with its weights.
    resumed = torchrun(tone_corpus, stopped, cache, "--resume", "auto", "--max-steps", "14")
    assert "Resuming from" in resumed.stderr
    assert [r["step"] for r in step_records(stopped)] == list(range(1, 15))
    end = "checkpoint_epoch_4_step_14.pth"
    for name, tensor in weights(straight / end).items():
        assert torch.equal(tensor, weights(stopped / end)[name]), name

    # One process (no torchrun) continues the 2-rank checkpoint: 2 x 2 batches of epoch 5
    # were done, one is left, then epoch 6 begins.
    from kokoro_nb.training import Trainer

    single = tmp_path / "single"
    shutil.copytree(straight, single)
    trainer = Trainer(TrainConfig(output=str(single), corpus=str(tone_corpus), preset="demo",
                                  cache_dir=str(cache), max_steps=16, progress=False,
                                  tensorboard=False, threads=1), resume="auto")
    assert (trainer.global_step, trainer.epoch, trainer.batches_done) == (14, 4, 4)
    trainer.train()
    records = step_records(single)
    assert [r["epoch"] for r in records[-2:]] == [5, 6] and records[-1]["step"] == 16

    # And two ranks continue the single process's checkpoint.
    torchrun(tone_corpus, single, cache, "--resume", "auto", "--max-steps", "18")
    assert [r["step"] for r in step_records(single)] == list(range(1, 19))
    assert load_checkpoint_file(single / "checkpoint_epoch_5_step_18.pth")["world_size"] == 2


def rank_pid(launcher_pid: int, rank: int) -> int | None:
    """The pid of torchrun's worker of `rank` (Linux: read from /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            environ = (stat.parent / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher_pid and f"RANK={rank}".encode() in environ:
            return int(stat.parent.name)
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_a_rank_that_dies_stops_the_others_with_an_error(tone_corpus, tmp_path):
    out = tmp_path / "run"
    process = torchrun(tone_corpus, out, tmp_path / "cache", "--epochs", "50",
                       "--grad-accum", "2", background=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (
            (out / "metrics.jsonl").exists() and len(step_records(out)) >= 2):
        time.sleep(0.1)
    records = step_records(out)
    assert records[0]["batches"] == 2  # gradient accumulation under DDP (3 batches a rank)
    os.kill(rank_pid(process.pid, 1), signal.SIGKILL)
    output = process.communicate(timeout=120)[0]  # no hang: rank 0 fails, torchrun ends
    assert process.returncode != 0
    # torchrun names the rank that failed first. Rank 0 either fails at its next exchange
    # (gloo names the lost peer) or is stopped by torchrun before it gets there.
    assert "Root Cause" in output and "Signal 9 (SIGKILL)" in output, output[-3000:]
    assert "by peer" in output or "Signal 15 (SIGTERM) received by PID" in output, output[-3000:]


def test_a_nan_on_another_rank_skips_the_step_here():
    """The NaN guard under torchrun: each rank sees the mean loss over the ranks, so a NaN
    on one rank stops every rank before backward (here a rank whose own loss is finite)."""
    from kokoro_nb.training import accumulate_gradients

    class NaNElsewhere(Ranks):
        def mean(self, values):
            return {k: float("nan") if k == "total" else float(v.detach()) for k, v in values.items()}

    weight = torch.nn.Parameter(torch.ones(3))

    def forward(_batch):
        return None, {"total": (weight * 2).sum(), "mel": weight.sum()}

    totals, finite = accumulate_gradients([{}], forward, None, NaNElsewhere())
    assert not finite and weight.grad is None and totals["mel"] == 3.0
    totals, finite = accumulate_gradients([{}, {}], forward, None, Ranks())
    assert finite and torch.equal(weight.grad, torch.full((3,), 2.0))
