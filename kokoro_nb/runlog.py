"""What a training run reports while it runs: ``metrics.jsonl`` and progress callbacks.

- `MetricsFile`: one JSON line per optimiser step (``"type": "train"``) and per validation
  (``"type": "val"``). A resume first drops the lines written after its checkpoint, so the
  file always tells one history, step after step.
- Callbacks: `Trainer.train(callbacks=[...])` calls each one's `epoch_started`,
  `record` (every metrics record as it is written), `validated` (after each validation, with
  its alignment and a spoken validation sentence) and `epoch_ended`. `ProgressBar` is the
  tqdm bar per epoch (on unless ``TrainConfig.progress`` is False); `RecordCallback` turns a
  plain function of a record into a callback (what ``train(on_step=...)`` passes, e.g.
  `plots.LiveTrainingCurves`). `TensorBoardLogger` writes the same records, the validation
  alignments and the spoken samples for TensorBoard into ``<output>/tensorboard`` (on unless
  ``TrainConfig.tensorboard`` is False): ``tensorboard --logdir <output>/tensorboard``.
"""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path
from typing import Callable

from .checkpoints import METRICS_NAME, atomic_write_bytes


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics.jsonl (a directory means its metrics.jsonl); a line cut
    short by a crash is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


class MetricsFile:
    """Appends records to ``metrics.jsonl`` as JSON lines (all but rank 0 under torchrun
    make one with `enabled` false, which writes nothing)."""

    def __init__(self, path: str | os.PathLike, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def remove(self) -> None:
        """A new run starts a new file."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def truncate_after(self, step: int) -> None:
        """Drop the records written after `step` (a resume writes them again); the file is
        replaced atomically."""
        if not self.enabled or not self.path.exists():
            return
        kept = [json.dumps(r) for r in read_metrics(self.path) if r.get("step", 0) <= step]
        atomic_write_bytes(self.path, "".join(k + "\n" for k in kept).encode("utf-8"))


class TrainingCallback:
    """Hooks of `Trainer.train`; override the ones you need."""

    def epoch_started(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        """Epoch `epoch` of `epochs` begins: `batches` in all, `done` of them trained before
        a stop (a resumed epoch)."""

    def record(self, record: dict) -> None:
        """A metrics record, as written to metrics.jsonl."""

    def validated(self, record: dict, attention, sample) -> None:
        """After a validation: its record, the first validation item's teacher-forced
        attention (steps, symbols) and that sentence spoken free-running (a
        `synthesis.SynthesisResult`)."""

    def epoch_ended(self, epoch: int) -> None:
        """The epoch's batches are done (or it stopped early)."""


class RecordCallback(TrainingCallback):
    """A function of each metrics record, as a callback."""

    def __init__(self, function: Callable[[dict], None]) -> None:
        self.function = function

    def record(self, record: dict) -> None:
        self.function(record)


class ProgressBar(TrainingCallback):
    """A tqdm bar per epoch with the step's loss, as the seed's training script shows it."""

    def __init__(self) -> None:
        self.bar = None

    def epoch_started(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(desc=f"Epoch {epoch}/{epochs}", total=batches, initial=done, leave=True)

    def record(self, record: dict) -> None:
        if self.bar is not None and record["type"] == "train":
            self.bar.update(record.get("batches", 1))  # several with gradient accumulation
            self.bar.set_postfix(loss=f"{record['loss']:.3f}")

    def epoch_ended(self, epoch: int) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Callbacks(TrainingCallback):
    """Several callbacks called in order."""

    def __init__(self, callbacks: list[TrainingCallback]) -> None:
        self.callbacks = list(callbacks)

    def epoch_started(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        for callback in self.callbacks:
            callback.epoch_started(epoch, epochs, batches, done)

    def record(self, record: dict) -> None:
        for callback in self.callbacks:
            callback.record(record)

    def validated(self, record: dict, attention, sample) -> None:
        for callback in self.callbacks:
            callback.validated(record, attention, sample)

    def epoch_ended(self, epoch: int) -> None:
        for callback in self.callbacks:
            callback.epoch_ended(epoch)


class TensorBoardLogger(TrainingCallback):
    """A run's records for TensorBoard, as event files in `log_dir` (``<output>/tensorboard``):

    - scalars: every number of every record at the record's step, tagged ``train/<name>``
      (``train/loss``, ``train/mel``, ``train/lr``, ``train/grad_norm``, ``train/entropy``,
      ...) and ``val/<name>`` without the ``val_`` prefix (``val/total``, ``val/postnet``,
      ``val/focus_rate``, ``val/diagonality``, ``val/sample_duration_s``,
      ``val/sample_stopped`` as 0/1): the names and values of metrics.jsonl;
    - per validation: the alignment as the image ``val/alignment`` (the picture of
      ``alignment_epoch_N.png``) and the validation sentence spoken free-running as the audio
      ``val/sample`` (its text once, as ``val/sample_text``).

    A resume writes into the same directory. The writer opens at the first record of the
    call, and its ``purge_step`` (that record's step: the resumed step + 1) tells TensorBoard
    to hide whatever an earlier call wrote from there on, the steps the resume trains again,
    as metrics.jsonl drops their lines. Data is flushed after each epoch and each validation;
    the writer closes when the logger is dropped (after `Trainer.train` returns) or at exit.
    """

    NOT_SCALARS = frozenset({"type", "step", "epoch", "batches"})

    def __init__(self, log_dir: str | os.PathLike) -> None:
        # Imported here, not at the top: tensorboard (and its protobuf) loads only for runs
        # that log to it, so `import kokoro_nb` stays light.
        from torch.utils.tensorboard import SummaryWriter

        self.summary_writer = SummaryWriter
        self.log_dir = Path(log_dir)
        self.writer = None
        self.text_written = False
        self._close = None

    def _writer(self, record: dict):
        """The writer, opened at the first record: its step is the first this call writes (a
        train step; or, when a resumed epoch had no batches left, its validation at the
        resumed step, which is kept)."""
        if self.writer is None:
            first = record["step"] + 1 if record["type"] == "val" else record["step"]
            self.writer = self.summary_writer(str(self.log_dir), purge_step=first)
            self._close = weakref.finalize(self, self.writer.close)
        return self.writer

    def record(self, record: dict) -> None:
        writer = self._writer(record)
        for key, value in record.items():
            if key not in self.NOT_SCALARS and isinstance(value, (int, float)):
                name = key.removeprefix("val_") if record["type"] == "val" else key
                writer.add_scalar(f"{record['type']}/{name}", float(value), record["step"])

    def validated(self, record: dict, attention, sample) -> None:
        from .plots import attention_image  # matplotlib, only when there is a picture to draw

        writer, step = self._writer(record), record["step"]
        if attention is not None:
            title = f"epoch {record['epoch']}, step {step}"
            writer.add_image("val/alignment", attention_image(attention, title), step,
                             dataformats="HWC")
        if sample is not None and sample.wave is not None:
            wave = sample.wave.detach().float().cpu().clamp(-1.0, 1.0).reshape(1, -1)
            writer.add_audio("val/sample", wave, step, sample_rate=sample.sample_rate)
            if not self.text_written:
                writer.add_text("val/sample_text", sample.text, step)
                self.text_written = True
        writer.flush()

    def epoch_ended(self, epoch: int) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file (a later record opens a new one)."""
        if self._close is not None:
            self._close()
        self.writer, self._close = None, None
