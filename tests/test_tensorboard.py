"""What a run leaves for TensorBoard and for notebook 08's listening: a real two-epoch run on
the tone corpus, its event files read back with TensorBoard's own reader."""

import io
import shutil
import wave
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import (
    STORE_EVERYTHING_SIZE_GUIDANCE,
    EventAccumulator,
)

from kokoro_nb.config import TrainConfig
from kokoro_nb.course import TrainedRun, load_run, samples_table
from kokoro_nb.checkpoints import TENSORBOARD_DIR
from kokoro_nb.runlog import TensorBoardLogger, read_metrics
from kokoro_nb.training import Trainer


def tiny_config(corpus, output, cache, **changes):
    settings = dict(corpus=str(corpus), output=str(output), cache_dir=str(cache), preset="demo",
                    batch_size=4, epochs=2, save_every=1, progress=False, threads=1)
    return TrainConfig(**(settings | changes))


@pytest.fixture(scope="module")
def trained(tone_corpus, tmp_path_factory):
    """A finished two-epoch run (3 steps per epoch) with TensorBoard on, as by default."""
    root = tmp_path_factory.mktemp("tensorboard_run")
    config = tiny_config(tone_corpus, root / "run", root / "cache")
    Trainer(config).train()
    return config


def read_events(output):
    accumulator = EventAccumulator(str(output / TENSORBOARD_DIR),
                                   size_guidance=STORE_EVERYTHING_SIZE_GUIDANCE)
    return accumulator.Reload()


def expected_scalars(records):
    """{tag: [(step, value), ...]} as TensorBoardLogger names the numbers of metrics.jsonl."""
    expected = {}
    for record in records:
        for key, value in record.items():
            if key in ("type", "step", "epoch", "batches") or not isinstance(value, (int, float)):
                continue
            name = key.removeprefix("val_") if record["type"] == "val" else key
            expected.setdefault(f"{record['type']}/{name}", []).append((record["step"], value))
    return expected


def test_scalars_are_the_metrics_file_at_its_steps(trained):
    output = Path(trained.output)
    records = read_metrics(output)
    events = read_events(output)
    expected = expected_scalars(records)
    assert {"train/loss", "train/mel", "train/postnet", "train/stop", "train/guided",
            "train/entropy", "train/lr", "train/grad_norm", "val/total", "val/postnet",
            "val/focus_rate", "val/diagonality", "val/sample_duration_s",
            "val/sample_stopped"} <= set(expected)
    assert set(events.Tags()["scalars"]) == set(expected)
    for tag, points in expected.items():
        logged = [(event.step, event.value) for event in events.Scalars(tag)]
        assert [step for step, _ in logged] == [step for step, _ in points], tag
        for (_, value), (_, want) in zip(logged, points, strict=True):
            assert value == pytest.approx(float(want), rel=1e-6, abs=1e-12), tag  # float32
    assert [s for s, _ in expected["train/loss"]] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in expected["val/total"]] == [3, 6]


def test_each_validation_has_its_alignment_image_and_spoken_sample(trained):
    output = Path(trained.output)
    val_steps = [r["step"] for r in read_metrics(output) if r["type"] == "val"]
    events = read_events(output)
    images = events.Images("val/alignment")
    assert [image.step for image in images] == val_steps
    assert images[0].encoded_image_string.startswith(b"\x89PNG")
    assert (images[0].width, images[0].height) == (600, 400)
    audio = events.Audio("val/sample")
    assert [clip.step for clip in audio] == val_steps
    with wave.open(io.BytesIO(audio[-1].encoded_audio_string)) as clip:
        assert clip.getframerate() == audio[-1].sample_rate == 22_050
        assert clip.getnframes() == audio[-1].length_frames > 0
    # The same clip as the sample_epoch_2.wav beside the checkpoint, in length.
    with wave.open(str(output / "sample_epoch_2.wav")) as written:
        assert written.getnframes() == audio[-1].length_frames
    assert events.Tags()["tensors"] == ["val/sample_text/text_summary"]


def test_a_resume_replaces_the_steps_it_trains_again(trained, tmp_path):
    """Resuming from epoch 1 trains epoch 2 again into the same event directory: TensorBoard
    shows each step once, as metrics.jsonl does."""
    output = tmp_path / "run"
    shutil.copytree(trained.output, output)
    config = tiny_config(Path(trained.corpus), output, Path(trained.cache_dir))
    Trainer(config, resume=str(output / "checkpoint_epoch_1.pth")).train()
    assert len(list((output / TENSORBOARD_DIR).iterdir())) == 2  # one event file per call
    records = read_metrics(output)
    events = read_events(output)
    for tag, points in expected_scalars(records).items():
        assert [event.step for event in events.Scalars(tag)] == [s for s, _ in points], tag
    assert [image.step for image in events.Images("val/alignment")] == [3, 6]
    assert [clip.step for clip in events.Audio("val/sample")] == [3, 6]


def test_a_resume_whose_first_record_is_a_validation_keeps_the_step_it_resumed_at(tmp_path):
    """A stop after an epoch's last batch resumes into a validation at the resumed step: the
    earlier call's train step there stays, its later records go."""
    earlier = TensorBoardLogger(tmp_path)
    for step in range(1, 7):
        earlier.record({"type": "train", "step": step, "epoch": 1, "loss": float(step)})
    earlier.record({"type": "val", "step": 6, "epoch": 1, "val_total": 1.0})
    earlier.close()
    # TensorBoard reads event files in name order, which starts with the second they were
    # opened; make sure the earlier call's file sorts first even within one second.
    (written,) = tmp_path.iterdir()
    written.rename(tmp_path / "events.out.tfevents.0000000001.earlier")
    resumed = TensorBoardLogger(tmp_path)
    resumed.record({"type": "val", "step": 3, "epoch": 1, "val_total": 2.0})
    resumed.record({"type": "train", "step": 4, "epoch": 2, "loss": 40.0})
    resumed.close()
    events = EventAccumulator(str(tmp_path)).Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [
        (1, 1.0), (2, 2.0), (3, 3.0), (4, 40.0)]
    assert [(e.step, e.value) for e in events.Scalars("val/total")] == [(3, 2.0)]


def test_no_tensorboard_writes_no_directory(tone_corpus, tmp_path):
    config = tiny_config(tone_corpus, tmp_path / "run", tmp_path / "cache", epochs=1,
                         tensorboard=False)
    Trainer(config).train()
    assert (tmp_path / "run" / "sample_epoch_1.wav").exists()
    assert not (tmp_path / "run" / TENSORBOARD_DIR).exists()


def test_samples_of_a_run_oldest_first_with_their_alignments(trained):
    run = load_run(trained.output)
    samples = run.samples()
    assert [s.epoch for s in samples] == [1, 2]
    for sample in samples:
        assert sample.wav.name == f"sample_epoch_{sample.epoch}.wav" and sample.wav.is_file()
        assert sample.alignment.name == f"alignment_epoch_{sample.epoch}.png"
        assert sample.validation["epoch"] == sample.epoch
        assert sample.validation["sample_duration_s"] > 0
    assert [s.epoch for s in run.samples(limit=1)] == [2]


def test_samples_evenly_spaced_and_only_those_with_a_wav(tmp_path):
    for epoch in range(1, 11):
        (tmp_path / f"sample_epoch_{epoch}.wav").write_bytes(b"")
    (tmp_path / "alignment_epoch_4.png").write_bytes(b"")
    (tmp_path / "alignment_epoch_11.png").write_bytes(b"")  # no sample: not listed
    (tmp_path / "sample_epoch_x.wav").write_bytes(b"")      # not a name training writes
    run = TrainedRun(tmp_path)
    assert [s.epoch for s in run.samples()] == list(range(1, 11))
    picked = run.samples(limit=4)
    assert [s.epoch for s in picked] == [1, 4, 7, 10]
    assert picked[1].alignment == tmp_path / "alignment_epoch_4.png"
    assert picked[0].alignment is None and picked[0].validation == {}


def test_samples_table_puts_each_epoch_beside_the_others(trained):
    run = load_run(trained.output)
    table = samples_table(run.samples(), recording_s=1.5).data
    assert table.count("<td") == 2 and "the recording is 1.50 s long" in table
    assert table.count('src="data:audio/wav;base64,') == 2
    assert table.count('src="data:image/png;base64,') == 2
    assert "<b>epoch 2</b>, step 6" in table
    assert "No spoken samples" in samples_table([]).data
