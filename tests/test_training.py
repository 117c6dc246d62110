"""Training, resume, synthesis and evaluation, run the way a user runs them."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from kokoro_nb.checkpoints import find_latest_checkpoint, load_checkpoint_file, load_processor
from kokoro_nb.config import PRESET_TRAINING, TrainConfig
from kokoro_nb.losses import entropy_weight_at
from kokoro_nb.training_setup import lr_factor

from conftest import TONE_SENTENCES

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = TONE_SENTENCES


@pytest.fixture(scope="module")
def corpus(tone_corpus):
    return tone_corpus


def run(*args, cwd=None):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                            cwd=cwd or ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def metrics(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "model"
    cache = tmp_path_factory.mktemp("cache")
    log = run("training.py", "--corpus", str(corpus), "--output", str(out), "--preset", "demo",
              "--epochs", "2", "--batch-size", "2", "--save-every", "1", "--cache-dir", str(cache),
              "--no-progress", "--threads", "1")
    return out, cache, log


def test_training_writes_the_seed_layout_and_log(trained, corpus):
    out, _, log = trained
    names = {p.name for p in out.iterdir()}
    assert {"checkpoint_epoch_1.pth", "checkpoint_epoch_2.pth", "kokoro_russian_final.pth",
            "phoneme_processor.pkl", "phoneme_processor.json", "metrics.jsonl",
            "alignment_epoch_1.png", "alignment_epoch_2.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert f"Loaded 12 samples from corpus at {corpus}" in log
    assert "Starting training on device: cpu" in log
    assert "Training from epoch 1 to 2" in log
    assert re.search(r"Epoch 2 completed\. Average loss: \d+\.\d{3}", log)
    assert f"Checkpoint saved: {out / 'checkpoint_epoch_2.pth'}" in log


def test_checkpoint_holds_what_resume_needs(trained):
    out, _, _ = trained
    state = load_checkpoint_file(out / "checkpoint_epoch_2.pth")
    for key in ("model", "optimizer", "scheduler", "model_config", "audio_config", "train_config",
                "epoch", "loss", "global_step", "rng", "phonemes", "processor"):
        assert key in state, key
    assert state["epoch"] == 2
    train_steps = [m for m in metrics(out) if m["type"] == "train"]
    assert state["global_step"] == train_steps[-1]["step"] == len(train_steps)
    assert math.isfinite(state["loss"])
    processor = load_processor(out / "phoneme_processor.pkl")
    assert processor.get_phoneme_list() == state["phonemes"]
    assert find_latest_checkpoint(out).name == "checkpoint_epoch_2.pth"


def test_resume_auto_with_a_new_batch_size_continues(trained, corpus):
    out, cache, _ = trained
    before = load_checkpoint_file(out / "checkpoint_epoch_2.pth")
    log = run("-m", "kokoro_nb", "train", "--corpus", str(corpus), "--output", str(out),
              "--preset", "demo", "--epochs", "3", "--batch-size", "3", "--resume", "auto",
              "--save-every", "1", "--cache-dir", str(cache), "--no-progress", "--threads", "1")
    assert "checkpoint_epoch_2.pth (epoch 2, step" in log
    assert "Resume changes: batch_size: 2 -> 3; epochs: 2 -> 3" in log
    assert "Training from epoch 3 to 3" in log
    after = load_checkpoint_file(out / "checkpoint_epoch_3.pth")
    records = [m for m in metrics(out) if m["type"] == "train"]
    steps = [m["step"] for m in records]
    assert steps == list(range(1, len(steps) + 1))  # continuous, nothing repeated
    resumed = [m for m in records if m["epoch"] == 3]
    assert resumed[0]["step"] == before["global_step"] + 1
    assert after["global_step"] == before["global_step"] + len(resumed)
    # The LR schedule continued: the first resumed step used the factor of its step.
    config = before["train_config"]
    expected = config["resolved_learning_rate"] * lr_factor(
        before["global_step"], config["warmup_steps"], config["lr_half_life_steps"],
        config["min_lr_ratio"])
    assert resumed[0]["lr"] == pytest.approx(expected, rel=1e-6)


def test_resume_with_a_new_learning_rate(trained, corpus, tmp_path):
    out, cache, _ = trained
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("checkpoint_epoch_1.pth", "phoneme_processor.pkl", "metrics.jsonl"):
        (copy / name).write_bytes((out / name).read_bytes())
    state = load_checkpoint_file(copy / "checkpoint_epoch_1.pth")
    log = run("training.py", "-c", str(corpus), "-o", str(copy), "--preset", "demo", "-e", "2",
              "-b", "2", "-lr", "5e-4", "-r", str(copy / "checkpoint_epoch_1.pth"),
              "--cache-dir", str(cache), "--no-progress", "--threads", "1")
    assert "learning_rate: 0.001 -> 0.0005" in log
    first = [m for m in metrics(copy) if m["type"] == "train" and m["epoch"] == 2][0]
    expected = 5e-4 * lr_factor(state["global_step"], 50, 20_000, 0.05)
    assert first["lr"] == pytest.approx(expected, rel=1e-6)


def test_synthesize_and_evaluate(trained, corpus, tmp_path):
    out, cache, _ = trained
    wav, png = tmp_path / "out.wav", tmp_path / "out.png"
    log = run("-m", "kokoro_nb", "synthesize", "--checkpoint", str(out / "kokoro_russian_final.pth"),
              "--text", "Мама мыла раму.", "--out", str(wav), "--alignment", str(png))
    assert "phonemes /" in log
    data, rate = sf.read(str(wav))
    assert rate == 22_050 and data.ndim == 1 and len(data) > 0
    assert png.stat().st_size > 1000
    report = _json_tail(run("-m", "kokoro_nb", "evaluate", "--checkpoint",
                            str(out / "kokoro_russian_final.pth"), "--corpus", str(corpus),
                            "--limit", "4", "--json", "--cache-dir", str(cache)))
    assert report["items"] == 4
    # The batched scores equal those of each item alone (padding changes nothing), computed
    # here through another path: one item at a time, and free running through Synthesizer.
    from kokoro_nb.corpus import validate_corpus
    from kokoro_nb.evaluation import teacher_forced_alignment
    from kokoro_nb.synthesis import Synthesizer

    synth = Synthesizer(out / "kokoro_russian_final.pth")
    items = validate_corpus(corpus, synth.audio_config, synth.processor).items[:4]
    alone = [teacher_forced_alignment(synth.model, synth.processor, synth.audio_config, item,
                                      str(cache)) for item in items]
    focus = sum(a["focus_rate"] for a in alone) / 4
    diagonality = sum(a["diagonality"] for a in alone) / 4
    assert report["teacher_forced"]["focus_rate"] == pytest.approx(focus, abs=1e-3)
    assert report["teacher_forced"]["diagonality"] == pytest.approx(diagonality, abs=1e-3)
    assert report["free_running"]["stop_rate"] in (0, 0.25, 0.5, 0.75, 1)


def _json_tail(text: str) -> dict:
    """The JSON document at the end of a command's output (log lines may precede it)."""
    return json.loads(text[text.index("{\n"):])


def test_missing_corpus_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "training.py", "--corpus", str(tmp_path / "nope"),
                             "-o", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 2
    assert "corpus directory not found" in result.stderr


def test_final_model_has_no_optimizer(trained):
    out, _, _ = trained
    final = load_checkpoint_file(out / "kokoro_russian_final.pth")
    assert "optimizer" not in final and "model" in final
    latest = load_checkpoint_file(find_latest_checkpoint(out))
    assert final["global_step"] == latest["global_step"]
    assert torch.is_tensor(final["model"]["mel_mean"])


def test_run_helpers_for_notebook_06(trained, corpus):
    import matplotlib.pyplot as plt

    from kokoro_nb.course import load_run
    from kokoro_nb.evaluation import checkpoint_alignments
    from kokoro_nb.plots import plot_synthesis
    from kokoro_nb.synthesis import Synthesizer
    from kokoro_nb.runlog import read_metrics

    out, cache, _ = trained
    run_info = load_run(out)
    assert [p.name for p in run_info.checkpoints][:2] == ["checkpoint_epoch_1.pth",
                                                          "checkpoint_epoch_2.pth"]
    assert run_info.validation_item.text in SENTENCES
    records = read_metrics(out)
    assert records == run_info.metrics()
    assert {"train", "val"} == {r["type"] for r in records}
    assert all("elapsed_s" in r for r in records if r["type"] == "val")
    rows = checkpoint_alignments(run_info.checkpoints, run_info.validation_item, limit=2,
                                 cache_dir=cache)
    assert [r["name"].split(",")[0] for r in rows] == ["epoch 1", f"epoch {len(run_info.checkpoints)}"]
    assert rows[0]["attention"].shape[1] == len(rows[0]["symbols"])
    result = Synthesizer(run_info.final_model).synthesize("Мама мыла раму.")
    fig = plot_synthesis(result)
    assert len(fig.axes) >= 3
    plt.close(fig)


def test_compare_attention_kinds_trains_both(corpus, tmp_path, monkeypatch):
    from kokoro_nb.course import compare_attention_kinds

    monkeypatch.setenv("KOKORO_NB_CACHE", str(tmp_path / "cache"))
    rows = compare_attention_kinds(steps=2, corpus=str(corpus), batch_size=4)
    assert [r["attention"] for r in rows] == ["location", "content"]
    assert all(r["steps"] == 2 for r in rows) and rows[0]["text"] == rows[1]["text"]
    for row in rows:  # the scores are those of the matrix shown beside them
        matrix = row["attention_matrix"]
        assert row["focus_rate"] == pytest.approx(float(matrix.max(dim=1).values.mean()), rel=1e-5)
        assert torch.allclose(matrix.sum(dim=1), torch.ones(matrix.shape[0]), atol=1e-4)
    assert not torch.equal(rows[0]["attention_matrix"], rows[1]["attention_matrix"])


def test_held_out_sentences_are_not_in_the_demo_corpus():
    from kokoro_nb.corpus import METADATA_NAME, demo_corpus_dir
    from kokoro_nb.course import held_out_sentences

    held_out = held_out_sentences()
    corpus_text = (demo_corpus_dir() / METADATA_NAME).read_text(encoding="utf-8")
    assert len(held_out) >= 20
    assert not any(f"|{s}\n" in corpus_text for s in held_out)


def test_attention_entropy_weight_waits_then_ramps_in():
    def weight(step, **changes):
        return entropy_weight_at(TrainConfig(**changes), step)

    full = PRESET_TRAINING["demo"]["attention_entropy_weight"]
    assert full > 0 and PRESET_TRAINING["default"]["attention_entropy_weight"] == 0
    assert [weight(s, preset="demo") for s in (0, 300, 450, 600, 5000)] == pytest.approx(
        [0, 0, full / 2, full, full])
    assert weight(5000, preset="default") == 0
    assert weight(5000, preset="default", attention_entropy_weight=0.3) == pytest.approx(0.3)
    assert weight(0, preset="demo", attention_entropy_start=0) == pytest.approx(full)


def test_pretrained_model_loads_and_matches_its_card():
    """The bundled demo model loads (float16 weights widened to float32) and is what its
    card says: the demo preset at the recorded step, with held-out figures beside it."""
    from kokoro_nb.course import pretrained_card, pretrained_model
    from kokoro_nb.synthesis import load_model

    model, processor, audio, state = load_model(pretrained_model())
    card = pretrained_card()
    assert next(model.parameters()).dtype == torch.float32
    assert state["global_step"] == card["global_step"] and card["preset"] == "demo"
    assert card["held_out"]["free_running"]["stop_rate"] > 0.9
    assert pretrained_model().stat().st_size == card["bytes"] < 5_000_000


def test_example_batch_and_held_out_item_for_the_notebooks():
    """The notebooks' held-out clip, the vocoder's training clips and the trainer all use
    one split: a demo run's validation items are never trained on by either model."""
    from kokoro_nb.config import AudioConfig, TrainConfig, VocoderTrainConfig
    from kokoro_nb.course import demo_train_config, example_batch, held_out_item
    from kokoro_nb.text import RussianPhonemeProcessor
    from kokoro_nb.training_setup import corpus_datasets
    from kokoro_nb.vocoder_training import vocoder_run_items

    processor = RussianPhonemeProcessor()
    batch = example_batch(processor, reduction=3, count=3)
    assert len(batch["item_ids"]) == 3 and batch["mels"].shape[1] % 3 == 0
    config = demo_train_config("unused")
    _, _, val_set = corpus_datasets(config, AudioConfig(), processor)
    validation = {item.id for item in val_set.items}
    assert held_out_item().id in validation
    vocoder_train, _ = vocoder_run_items(VocoderTrainConfig(corpus=config.corpus), AudioConfig())
    assert validation.isdisjoint(item.id for item in vocoder_train)
    assert TrainConfig().seed == config.seed


def test_quiet_logs_holds_back_info_but_not_warnings(caplog):
    import logging

    from kokoro_nb.course import quiet_logs

    log = logging.getLogger("kokoro_nb.training")
    with quiet_logs() as lines:
        log.info("a step")
        log.warning("a problem")
    assert lines == ["INFO:kokoro_nb.training:a step", "WARNING:kokoro_nb.training:a problem"]
    assert logging.getLogger("kokoro_nb").propagate


def test_stop_frame_share_and_the_best_constant_answer():
    from kokoro_nb.losses import best_constant_stop_probability, stop_frame_share

    # 7 frames at r = 3: 9 covered, frames 6..8 are "stop" (the last real one and 2 pads).
    assert stop_frame_share([7], 3) == 3 / 9
    assert stop_frame_share([6, 7], 3) == (1 + 3) / (6 + 9)
    share = 0.01
    assert best_constant_stop_probability(share, 1.0) == share
    assert abs(best_constant_stop_probability(share, (1 - share) / share) - 0.5) < 1e-12
    assert share < best_constant_stop_probability(share, 5.0) < 0.5


def test_intonation_by_ending_measures_questions_and_statements():
    from kokoro_nb.config import AudioConfig
    from kokoro_nb.corpus import demo_corpus_dir, validate_corpus
    from kokoro_nb.course import intonation_by_ending

    items = validate_corpus(demo_corpus_dir(), read_audio_data=False).items
    moves = intonation_by_ending(items, AudioConfig(), limit=1)
    assert set(moves) == {"questions", "statements"}
    assert all(len(v) <= 1 and all(abs(m) < 24 for m in v) for v in moves.values())
    assert sum(len(v) for v in moves.values()) >= 1
