"""What a training run reports while it runs: ``metrics.jsonl`` and progress callbacks.

- `MetricsFile`: one JSON line per optimiser step (``"type": "train"``) and per validation
  (``"type": "val"``). A resume first drops the lines written after its checkpoint, so the
  file always tells one history, step after step.
- Callbacks: `Trainer.train(callbacks=[...])` calls each one's `epoch_started`,
  `record` (every metrics record as it is written) and `epoch_ended`. `ProgressBar` is the
  tqdm bar per epoch (on unless ``TrainConfig.progress`` is False); `RecordCallback` turns a
  plain function of a record into a callback (what ``train(on_step=...)`` passes, e.g.
  `plots.LiveTrainingCurves`).
"""

from __future__ import annotations

import json
import os
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
    """Appends records to ``metrics.jsonl`` as JSON lines."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def remove(self) -> None:
        """A new run starts a new file."""
        self.path.unlink(missing_ok=True)

    def truncate_after(self, step: int) -> None:
        """Drop the records written after `step` (a resume writes them again); the file is
        replaced atomically."""
        if not self.path.exists():
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
            self.bar.update(1)
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

    def epoch_ended(self, epoch: int) -> None:
        for callback in self.callbacks:
            callback.epoch_ended(epoch)
