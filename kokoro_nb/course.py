"""What every notebook's first cell calls: settings and bundled data for the course.

`setup_notebook()` reads ``KOKORO_NB_FAST`` (set by the test run to shrink work, never to
skip it) and reports what it found, so a notebook states its settings in one line. The rest
serves notebooks 06 to 09: the demo training recipe (`demo_train_config`, also what
`make demo` trains), finding or training a run to look at (`find_or_train_run`,
`load_run`), its spoken samples across checkpoints side by side (`TrainedRun.samples`,
`samples_table`), the location-aware vs content-only comparison
(`compare_attention_kinds`), and a vocoder to listen through (`find_or_train_vocoder`,
`ladder_table`).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


LOG_FORMAT = "%(levelname)s:%(name)s:%(message)s"  # as the command line prints


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


# The pretrained demo model the notebooks load before the learner has trained anything
# (made by scripts/package_pretrained.py; demo_model.json says how and how it scores).
PRETRAINED_DIR = Path(__file__).resolve().parent / "data" / "pretrained"


def pretrained_model() -> Path:
    """The bundled demo-preset model (``kokoro_nb/data/pretrained/demo_model.pth``)."""
    path = PRETRAINED_DIR / "demo_model.pth"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the package was installed without its "
                                "data, or scripts/package_pretrained.py was not run")
    return path


def pretrained_card() -> dict:
    """Where the bundled model came from and how it scores on held-out sentences."""
    import json

    return json.loads((PRETRAINED_DIR / "demo_model.json").read_text("utf-8"))


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
    held_out: int
    corpus: Path
    device: str
    precision: str

    def __str__(self) -> str:
        mode = "fast (KOKORO_NB_FAST=1)" if self.fast else "full"
        return (f"kokoro_nb course: {mode} mode; corpus {self.corpus}; "
                f"{self.sentences} demo sentences bundled ({self.sentences - self.held_out} "
                f"in the demo corpus, {self.held_out} held out); device {self.device}, "
                f"precision {self.precision}")


def setup_notebook() -> CourseSetup:
    """Settings for a notebook: fast mode, the bundled data, the device training would use
    and its precision, and kokoro_nb's INFO log lines shown in the notebook (as the command
    line shows them). Prints one line."""
    from .device import choose_device, choose_precision, describe_device

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
    device = choose_device("auto")
    setup = CourseSetup(fast=fast_mode(), sentences=len(demo_sentences()),
                        held_out=len(held_out_sentences()), corpus=locate_corpus(),
                        device=describe_device(device),
                        precision=choose_precision(device).name)
    print(setup)
    return setup


def example_batch(processor, reduction: int, count: int = 4, items=None) -> dict:
    """A batch (`corpus.collate_batch`) of `items`, by default the first `count` usable
    clips of the demo corpus (only those lines are checked), with the frames padded to a
    multiple of `reduction`."""
    from .config import AudioConfig
    from .corpus import TTSDataset, collate_batch, demo_corpus_dir, validate_corpus

    audio = AudioConfig()
    if items is None:
        items = validate_corpus(demo_corpus_dir(), audio, processor, limit=2 * count).items[:count]
    dataset = TTSDataset(items, processor, audio)
    return collate_batch([dataset[i] for i in range(len(dataset))], processor.pad_id,
                         frames_multiple=reduction, log_floor=audio.log_floor)


def held_out_item():
    """A clip of the demo corpus in its validation split (`corpus.training_split`): a demo
    run, and the bundled pretrained model, never trained on it."""
    from .corpus import demo_corpus_dir, training_split, validate_corpus

    report = validate_corpus(demo_corpus_dir(), read_audio_data=False)
    return training_split(report.items)[1][0]


def intonation_by_ending(items, config, limit: int | None = None) -> dict[str, list[float]]:
    """The final pitch movement (`audio.PitchContour.final_movement`, semitones) of the
    clips whose text ends in "?" (``questions``) and in "." (``statements``), the first
    `limit` of each; clips with too few voiced frames are left out. pYIN takes 0.15-0.3 s
    per demo clip on a 2-core CPU."""
    from .audio import load_audio, pitch_contour

    result = {}
    for name, ending in (("questions", "?"), ("statements", ".")):
        chosen = [item for item in items if item.text.rstrip().endswith(ending)][:limit]
        moves = (pitch_contour(load_audio(item.audio_path, config)[0], config).final_movement()
                 for item in chosen)
        result[name] = [move for move in moves if move is not None]
    return result


@dataclass(frozen=True)
class EpochSample:
    """What training left at one epoch's checkpoint for a listener: the first validation
    sentence spoken free-running (`sample_epoch_N.wav`), that validation's alignment
    (`alignment_epoch_N.png`, None if missing) and its record in metrics.jsonl (``{}`` if
    missing): ``sample_stopped``, ``sample_duration_s``, ``focus_rate``, ..."""

    epoch: int
    wav: Path
    alignment: Path | None
    validation: dict


@dataclass
class TrainedRun:
    """What a training run left in its output directory (for notebook 08)."""

    output: Path
    checkpoints: list[Path] = field(default_factory=list)   # oldest first
    final_model: Path | None = None
    validation_item: object = None

    def metrics(self) -> list[dict]:
        from .runlog import read_metrics

        return read_metrics(self.output)

    def samples(self, limit: int | None = None) -> list[EpochSample]:
        """The spoken validation sentence of each epoch that has one, oldest first, with its
        alignment and validation record; with `limit`, at most that many (`evenly_spaced`).
        Retention deletes old checkpoints but keeps these files, so every checkpoint the run
        wrote is here."""
        from .checkpoints import alignment_png_name, sample_wav_name
        from .evaluation import evenly_spaced

        epochs = []
        for path in self.output.glob(sample_wav_name("*")):
            number = path.stem.rpartition("_")[2]  # sample_epoch_12 -> "12"
            if number.isdigit() and path.name == sample_wav_name(int(number)):
                epochs.append(int(number))
        epochs = evenly_spaced(sorted(epochs), limit)
        validations = {r["epoch"]: r for r in self.metrics() if r["type"] == "val"} if epochs else {}
        samples = []
        for epoch in epochs:
            png = self.output / alignment_png_name(epoch)
            samples.append(EpochSample(epoch, self.output / sample_wav_name(epoch),
                                       png if png.is_file() else None,
                                       validations.get(epoch, {})))
        return samples

    def __str__(self) -> str:
        return (f"run in {self.output}: {len(self.checkpoints)} checkpoints, final model "
                f"{self.final_model.name if self.final_model else 'missing'}; validation "
                f"sentence: {getattr(self.validation_item, 'text', '?')}")


RUN_CANDIDATES = ("./kokoro_demo_model", "../kokoro_demo_model", "./kokoro_russian_model",
                  "../kokoro_russian_model")


def load_run(output: str | os.PathLike) -> TrainedRun:
    """Describe a finished run: its checkpoints (oldest first, mid-epoch ones included), its
    final model and its first validation item."""
    from .checkpoints import FINAL_NAME, list_checkpoints, load_checkpoint_file
    from .config import AudioConfig, config_from_dict, stored_train_config
    from .corpus import default_cache_dir, resolve_corpus_dir, training_split, validate_corpus
    from .text import RussianPhonemeProcessor

    output = Path(output)
    checkpoints = list_checkpoints(output)
    final = output / FINAL_NAME
    if not checkpoints or not final.exists():
        raise FileNotFoundError(f"{output} has no finished training run")
    state = load_checkpoint_file(final)
    train = state["train_config"]
    audio = config_from_dict(AudioConfig, state["audio_config"])
    processor = RussianPhonemeProcessor.from_dict(state["processor"])
    report = validate_corpus(resolve_corpus_dir(train.get("corpus")), audio, processor,
                             cache_dir=train.get("cache_dir") or default_cache_dir())
    _, val = training_split(report.items, stored_train_config(train))
    return TrainedRun(output, checkpoints, final, val[0] if val else report.items[0])


def samples_table(samples: list[EpochSample], recording_s: float | None = None):
    """Samples side by side, one column per epoch: its alignment picture, a player and what
    the validation record says (whether the model stopped by itself, how long it spoke,
    next to the recording's `recording_s`). An `IPython.display.HTML` to display."""
    from IPython.display import HTML

    if not samples:
        return HTML("<p>No spoken samples in this run: it was trained before training wrote "
                    "sample_epoch_N.wav beside its checkpoints. Train it on, or a new run.</p>")
    caption = (f"<caption>the recording is {recording_s:.2f} s long</caption>"
               if recording_s is not None else "")
    columns = "".join(_sample_column(sample) for sample in samples)
    return HTML(f'<table style="table-layout:fixed;width:100%">{caption}<tr>{columns}</tr></table>')


def _sample_column(sample: EpochSample) -> str:
    """One epoch of `samples_table`: picture and sound inline (data URIs), notes below."""
    def data_uri(path: Path, kind: str) -> str:
        return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    record = sample.validation
    notes = [f"<b>epoch {sample.epoch}</b>" + (f", step {record['step']}" if record else "")]
    if "sample_duration_s" in record:
        stop = "stopped by itself" if record["sample_stopped"] else "hit the step limit"
        notes.append(f"{record['sample_duration_s']:.2f} s, {stop}")
    if "focus_rate" in record:
        notes.append(f"focus {record['focus_rate']:.2f}, diag {record['diagonality']:.2f}")
    picture = (f'<img src="{data_uri(sample.alignment, "image/png")}" style="width:100%">'
               if sample.alignment else "")
    sound = f'<audio controls style="width:100%" src="{data_uri(sample.wav, "audio/wav")}"></audio>'
    return (f'<td style="vertical-align:top;text-align:center">{picture}{sound}'
            f'<br>{"<br>".join(notes)}</td>')


class HeldBackLines(list):
    """The log lines `quiet_logs` kept out of a notebook, as a headless run prints them."""

    def show(self, first: int = 10, last: int = 3) -> None:
        """Print the first and last lines (all of them when there are few)."""
        if len(self) <= first + last:
            print(*self, sep="\n")
        else:
            print(*self[:first], f"... ({len(self) - first - last} more lines)", *self[-last:],
                  sep="\n")


class _KeepLines(logging.Handler):
    """A handler that appends each formatted record to a list."""

    def __init__(self, lines: list) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def quiet_logs():
    """kokoro_nb's INFO lines held back while a notebook cell trains: warnings and errors
    still show, progress bars are unaffected, and the held-back lines are yielded
    (`HeldBackLines`) for a cell that wants to show them. A headless run prints them all."""
    logger = logging.getLogger("kokoro_nb")
    lines = HeldBackLines()
    keep = _KeepLines(lines)
    loud = logging.StreamHandler()
    loud.setLevel(logging.WARNING)
    for handler in (keep, loud):
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    propagate, level = logger.propagate, logger.level
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(keep)
        logger.removeHandler(loud)
        logger.propagate, logger.level = propagate, level


def demo_train_config(output: str | os.PathLike, **changes):
    """The demo training: the demo preset on the bundled demo corpus at batch 16, epochs
    unbounded (a time or step limit ends it), with `changes` to any TrainConfig field."""
    from .config import TrainConfig
    from .corpus import demo_corpus_dir

    settings = {"corpus": str(demo_corpus_dir()), "output": str(output), "preset": "demo",
                "batch_size": 16, "epochs": 100_000}
    return TrainConfig(**(settings | changes))


def find_or_train_run(output: str | os.PathLike | None = None, minutes: float = 8.0) -> TrainedRun:
    """A finished run from `output` (or kokoro_demo_model / kokoro_russian_model, here or
    one directory up); when there is none, train the demo model for `minutes` into a
    temporary directory."""
    from .training import Trainer

    candidates = [output] if output else list(RUN_CANDIDATES)
    for candidate in candidates:
        try:
            return load_run(candidate)
        except FileNotFoundError:
            continue
    directory = tempfile.mkdtemp(prefix="kokoro_run_")
    print(f"No trained run found: training the demo model for {minutes:g} minutes in {directory}")
    with quiet_logs():
        trainer = Trainer(demo_train_config(directory, save_every=1, max_minutes=minutes))
        trainer.train()
    print(f"Trained {trainer.global_step} steps ({trainer.epoch} epochs)")
    return load_run(directory)


def compare_attention_kinds(steps: int = 300, corpus: str | os.PathLike | None = None,
                            seed: int = 1234, batch_size: int = 16) -> list[dict]:
    """Train the demo model twice for `steps` steps from the same start, once with
    location-aware and once with content-only attention, and score each one's alignment on
    the same validation sentence (what notebook 08 shows). `corpus` defaults to the bundled
    demo corpus."""
    from .corpus import demo_corpus_dir
    from .evaluation import teacher_forced_alignment
    from .training import Trainer

    rows = []
    for kind in ("location", "content"):
        with tempfile.TemporaryDirectory() as output:
            config = demo_train_config(output, max_steps=steps, seed=seed,
                                       batch_size=batch_size, progress=False,
                                       model_changes={"attention": kind},
                                       corpus=str(corpus or demo_corpus_dir()))
            with quiet_logs():
                trainer = Trainer(config)
                trainer.train()
            item = trainer.val_set.items[0]
            result = teacher_forced_alignment(trainer.model, trainer.processor,
                                              trainer.audio_config, item, config.cache_dir)
        rows.append({"attention": kind, "steps": trainer.global_step,
                     "focus_rate": result["focus_rate"], "diagonality": result["diagonality"],
                     "attention_matrix": result["attention"], "text": item.text})
    return rows


VOCODER_CANDIDATES = ("./kokoro_demo_vocoder", "../kokoro_demo_vocoder", "./kokoro_vocoder",
                      "../kokoro_vocoder")


def find_or_train_vocoder(output: str | os.PathLike | None = None, minutes: float = 5.0,
                          max_steps: int | None = None) -> Path:
    """``vocoder_final.pth`` from `output` (or kokoro_demo_vocoder / kokoro_vocoder, here
    or one directory up); when there is none, train the demo vocoder on the demo corpus for
    `minutes` (or `max_steps`) into a temporary directory."""
    from .corpus import demo_corpus_dir
    from .config import VocoderTrainConfig
    from .vocoder_training import VOCODER_FINAL_NAME, train_vocoder

    candidates = [output] if output else list(VOCODER_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate) / VOCODER_FINAL_NAME
        if path.is_file():
            return path
    directory = tempfile.mkdtemp(prefix="kokoro_vocoder_")
    print(f"No trained vocoder found: training the demo vocoder for "
          f"{f'{max_steps} steps' if max_steps else f'{minutes:g} minutes'} in {directory}")
    config = VocoderTrainConfig(corpus=str(demo_corpus_dir()), output=directory,
                                preset="demo", max_minutes=minutes,
                                max_steps=max_steps or 1_000_000, validate_every=250,
                                save_every=250)
    with quiet_logs():
        return train_vocoder(config)


def ladder_table(rungs, sample_rate: int):
    """The listening ladder (`evaluation.listening_ladder`) side by side: one column per
    rung with a player and its scores. An `IPython.display.HTML` to display."""

    from IPython.display import HTML

    from .audio import write_audio

    columns = []
    for rung in rungs:
        with tempfile.TemporaryDirectory() as folder:
            path = write_audio(Path(folder) / "rung.wav", rung.wave, sample_rate)
            sound = base64.b64encode(path.read_bytes()).decode("ascii")
        scores = "<br>".join(f"{name} {value:.2f}" for name, value in rung.scores.items())
        columns.append(f'<td style="vertical-align:top;text-align:center"><b>'
                       f'{rung.name.replace("_", " ")}</b><br><audio controls style="width:100%"'
                       f' src="data:audio/wav;base64,{sound}"></audio><br>{scores}</td>')
    return HTML(f'<table style="table-layout:fixed;width:100%"><tr>{"".join(columns)}</tr>'
                "</table>")

