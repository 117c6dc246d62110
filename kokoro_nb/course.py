"""What every notebook's first cell calls: settings and bundled data for the course.

`setup_notebook()` reads ``KOKORO_NB_FAST`` (set by the test run to shrink work, never to
skip it) and reports what it found, so a notebook states its settings in one line.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


def fast_mode() -> bool:
    """True when ``KOKORO_NB_FAST=1``: notebooks use fewer sentences, steps and plots."""
    return os.environ.get("KOKORO_NB_FAST", "").strip().lower() in ("1", "true", "yes")


def demo_sentences() -> list[str]:
    """The bundled demo sentences (the texts of the demo corpus), one per item."""
    text = resources.files("kokoro_nb").joinpath("data/demo_sentences.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def held_out_sentences() -> list[str]:
    """Demo sentences that are not in the demo corpus: text no demo model has heard."""
    from .corpus import METADATA_NAME, demo_corpus_dir

    metadata = (demo_corpus_dir() / METADATA_NAME).read_text("utf-8")
    in_corpus = {line.split("|", 1)[1].strip() for line in metadata.splitlines() if "|" in line}
    return [s for s in demo_sentences() if s not in in_corpus]


# Where a learner keeps RUSLAN: beside the notebook, or at the repository root when the
# notebook runs from notebooks/.
CORPUS_CANDIDATES = ("./ruslan_corpus", "../ruslan_corpus")


def locate_corpus() -> Path:
    """RUSLAN at ./ruslan_corpus or ../ruslan_corpus if present, else the bundled demo corpus."""
    from .corpus import resolve_corpus_dir

    for candidate in CORPUS_CANDIDATES:
        if Path(candidate).is_dir():
            return resolve_corpus_dir(candidate)
    return resolve_corpus_dir(None)


@dataclass(frozen=True)
class CourseSetup:
    fast: bool
    sentences: int
    corpus: Path

    def __str__(self) -> str:
        mode = "fast (KOKORO_NB_FAST=1)" if self.fast else "full"
        return (f"kokoro_nb course: {mode} mode; corpus {self.corpus}; "
                f"{self.sentences} demo sentences bundled")


def setup_notebook() -> CourseSetup:
    """Settings for a notebook: fast mode, the bundled data, and kokoro_nb's INFO log lines
    shown in the notebook (as the command line shows them). Prints one line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s",
                        force=True)
    setup = CourseSetup(fast=fast_mode(), sentences=len(demo_sentences()), corpus=locate_corpus())
    print(setup)
    return setup


@dataclass
class TrainedRun:
    """What a training run left in its output directory (for notebook 06)."""

    output: Path
    checkpoints: list[Path] = field(default_factory=list)   # oldest first
    final_model: Path | None = None
    validation_item: object = None

    def metrics(self) -> list[dict]:
        from .training import read_metrics

        return read_metrics(self.output)

    def __str__(self) -> str:
        return (f"run in {self.output}: {len(self.checkpoints)} checkpoints, final model "
                f"{self.final_model.name if self.final_model else 'missing'}; validation "
                f"sentence: {getattr(self.validation_item, 'text', '?')}")


RUN_CANDIDATES = ("./kokoro_demo_model", "../kokoro_demo_model", "./kokoro_russian_model",
                  "../kokoro_russian_model")


def _epoch_of(path: Path) -> int:
    match = re.search(r"checkpoint_epoch_(\d+)\.pth$", path.name)
    return int(match.group(1)) if match else -1


def load_run(output: str | os.PathLike) -> TrainedRun:
    """Describe a finished run: its checkpoints, final model and first validation item."""
    from .config import AudioConfig, config_from_dict
    from .corpus import resolve_corpus_dir, split_items, validate_corpus
    from .files import load_checkpoint_file
    from .text import RussianPhonemeProcessor

    output = Path(output)
    checkpoints = sorted(output.glob("checkpoint_epoch_*.pth"), key=_epoch_of)
    final = output / "kokoro_russian_final.pth"
    if not checkpoints or not final.exists():
        raise FileNotFoundError(f"{output} has no finished training run")
    state = load_checkpoint_file(final)
    train = state["train_config"]
    audio = config_from_dict(AudioConfig, state["audio_config"])
    processor = RussianPhonemeProcessor.from_dict(state["processor"])
    report = validate_corpus(resolve_corpus_dir(train.get("corpus")), audio, processor)
    _, val = split_items(report.items, train["val_fraction"], train["min_val_items"], train["seed"])
    return TrainedRun(output, checkpoints, final, val[0] if val else report.items[0])


def find_or_train_run(output: str | os.PathLike | None = None, minutes: float = 8.0) -> TrainedRun:
    """A finished run from `output` (or kokoro_demo_model / kokoro_russian_model, here or
    one directory up); when there is none, train the demo model for `minutes` into a
    temporary directory."""
    candidates = [output] if output else list(RUN_CANDIDATES)
    for candidate in candidates:
        try:
            return load_run(candidate)
        except FileNotFoundError:
            continue
    import tempfile

    from .corpus import demo_corpus_dir
    from .training import Trainer, TrainConfig

    directory = tempfile.mkdtemp(prefix="kokoro_run_")
    print(f"No trained run found: training the demo model for {minutes:g} minutes in {directory}")
    config = TrainConfig(corpus=str(demo_corpus_dir()), output=directory, preset="demo",
                         batch_size=16, epochs=100_000, save_every=1, max_minutes=minutes)
    Trainer(config).train()
    return load_run(directory)
