"""RUSLAN-layout corpora: reading, validation report, Dataset, collate, sampler, feature cache.

Layout (RUSLAN's)::

    corpus/
    ├── metadata_RUSLAN_22200.csv   id|text  (a third, normalised-text column is allowed)
    ├── wavs/<id>.wav               .flac is accepted too
    └── texts/<id>.txt              optional; used when the metadata text is empty

`validate_corpus` reads everything and reports every problem with its id (or line) and
reason; bad data never raises. Items that cannot be trained on are skipped, items that need
care (stereo, another sample rate) are kept with a note. `TTSDataset` then yields exactly the
usable items, with features from the `FeatureCache`.

Both are cached per item (`ReportCache` beside the `FeatureCache`), so a restart decodes only
the clips that changed; `preprocess_corpus` (``python -m kokoro_nb preprocess``) fills both
ahead of training, in parallel.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import re
import time
import unicodedata
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from stat import S_ISREG
from typing import Iterator, Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .audio import (
    AudioLoadError,
    frames_for_samples,
    load_audio,
    mel_spectrogram,
    missing_wav_frames,
)
from .config import AudioConfig, config_fingerprint
from .checkpoints import atomic_write_bytes
from .text import G2P_VERSION, RussianPhonemeProcessor

log = logging.getLogger(__name__)

METADATA_NAME = "metadata_RUSLAN_22200.csv"
AUDIO_DIR = "wavs"
TEXT_DIR = "texts"
AUDIO_SUFFIXES = (".wav", ".flac")
DEFAULT_CORPUS = "./ruslan_corpus"
SILENCE_PEAK = 1e-3  # a clip whose peak stays below this is silent

# Issue kinds. Skipped ones remove the item from training; notes keep it.
SKIPPING = {
    "malformed_line", "bad_encoding", "duplicate_id", "unsafe_id", "missing_audio",
    "unreadable_audio", "empty_audio", "silent_audio", "empty_text", "no_cyrillic",
    "no_phonemes", "too_long", "truncated_audio",
}
NOTES = {"resampled", "stereo", "unknown_characters", "latin_letters", "text_from_file",
         "speaking_rate"}
# A clip whose letters per second are under a half or over twice the corpus median is
# flagged: its text and audio probably do not belong together.
RATE_OUTLIER_FACTOR = 2.0
FATAL = {"no_corpus", "no_metadata"}

_CYRILLIC = re.compile(r"[а-яёА-ЯЁ]")
_LATIN = re.compile(r"[a-zA-Z]")
_KNOWN_CHARS = set(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " \t,.!?…—–-:;\"'«»„“”()+%\u0301\u0300\u0341"
)


class CorpusError(ValueError):
    """The corpus cannot be used at all (no directory, no metadata)."""


def demo_corpus_dir() -> Path:
    """The bundled demo corpus (RUSLAN layout, synthetic Russian voice)."""
    return Path(str(resources.files("kokoro_nb").joinpath("data/demo_corpus")))


def resolve_corpus_dir(corpus: str | os.PathLike | None) -> Path:
    """`--corpus` semantics: an explicit path must exist; no path means ./ruslan_corpus if it
    exists, else the bundled demo corpus (logged in one INFO line)."""
    if corpus is not None:
        path = Path(corpus)
        if not path.is_dir():
            raise CorpusError(f"corpus directory not found: {path}")
        return path
    default = Path(DEFAULT_CORPUS)
    if default.is_dir():
        return default
    demo = demo_corpus_dir()
    log.info("No corpus given and %s does not exist: using the bundled demo corpus at %s",
             DEFAULT_CORPUS, demo)
    return demo


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class CorpusItem:
    id: str
    text: str
    audio_path: Path
    line: int
    duration_s: float = 0.0
    frames: int = 0


@dataclass(frozen=True)
class CorpusIssue:
    kind: str
    message: str
    id: str | None = None
    line: int | None = None

    @property
    def skipped(self) -> bool:
        return self.kind in SKIPPING or self.kind in FATAL

    def __str__(self) -> str:
        where = f"{self.id}" if self.id else ""
        if self.line is not None:
            where = f"line {self.line}" + (f" ({self.id})" if self.id else "")
        return f"[{self.kind}] {where}: {self.message}" if where else f"[{self.kind}] {self.message}"


@dataclass
class CorpusReport:
    corpus_dir: Path
    metadata_path: Path | None
    items: list[CorpusItem] = field(default_factory=list)   # usable items
    issues: list[CorpusIssue] = field(default_factory=list)
    lines: int = 0
    # Mel frames of every readable clip, the too-long ones included (for length statistics).
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return bool(self.items) and not any(i.kind in FATAL for i in self.issues)

    @property
    def skipped_ids(self) -> set[str]:
        return {i.id for i in self.issues if i.skipped and i.id}

    def issue_counts(self) -> Counter:
        return Counter(i.kind for i in self.issues)

    def statistics(self) -> dict:
        durations = [it.duration_s for it in self.items]
        chars = [len(it.text) for it in self.items]
        total = sum(durations)
        return {
            "metadata_lines": self.lines,
            "usable_items": len(self.items),
            "skipped_items": len(self.skipped_ids),
            "total_hours": round(total / 3600, 4),
            "duration_s": _summary(durations),
            "text_chars": _summary(chars),
            "chars_per_second": round(sum(chars) / total, 2) if total else 0.0,
        }

    def grouped_issues(self) -> list[list[CorpusIssue]]:
        """The issues, those of one kind with the same message together (e.g. every clip
        resampled from 16 000 Hz), in order of first appearance."""
        groups: dict[tuple[str, str], list[CorpusIssue]] = {}
        for issue in self.issues:
            groups.setdefault((issue.kind, issue.message), []).append(issue)
        return list(groups.values())

    def to_dict(self) -> dict:
        return {
            "corpus_dir": str(self.corpus_dir),
            "metadata": str(self.metadata_path) if self.metadata_path else None,
            "usable": self.usable,
            "statistics": self.statistics(),
            "issue_counts": dict(self.issue_counts()),
            "issues": [asdict(i) | {"skipped": i.skipped} for i in self.issues],
        }

    def summary(self, max_issues: int = 50) -> str:
        stats = self.statistics()
        lines = [
            f"Corpus {self.corpus_dir}",
            f"  metadata: {self.metadata_path}",
            f"  {stats['usable_items']} usable items of {stats['metadata_lines']} metadata lines, "
            f"{stats['total_hours'] * 60:.1f} min of audio; {stats['skipped_items']} skipped",
            f"  duration s: min {stats['duration_s']['min']}, median {stats['duration_s']['median']}, "
            f"max {stats['duration_s']['max']}; text chars: median {stats['text_chars']['median']}, "
            f"max {stats['text_chars']['max']}; {stats['chars_per_second']} chars/s",
        ]
        if self.issues:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.issue_counts().items()))
            lines.append(f"  issues: {counts}")
            groups = self.grouped_issues()
            for issues in groups[:max_issues]:
                lines.append(f"    {'SKIP' if issues[0].skipped else 'note'} "
                             f"{_group_text(issues)}")
            if len(groups) > max_issues:
                lines.append(f"    … and {len(groups) - max_issues} more")
        lines.append("  usable: yes" if self.usable else "  usable: NO")
        return "\n".join(lines)


def _group_text(issues: list[CorpusIssue], shown: int = 5) -> str:
    """One line for issues of one kind and message: the issue itself when alone, else the
    count, the message and the first ids."""
    if len(issues) == 1:
        return str(issues[0])
    ids = [issue.id or f"line {issue.line}" for issue in issues]
    more = f", … {len(ids) - shown} more" if len(ids) > shown else ""
    return (f"[{issues[0].kind}] {len(issues)} clips: {issues[0].message} "
            f"({', '.join(ids[:shown])}{more})")


def _summary(values: Sequence[float]) -> dict:
    if not values:
        return {"min": 0, "median": 0, "max": 0, "mean": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {"min": round(float(arr.min()), 3), "median": round(float(np.median(arr)), 3),
            "max": round(float(arr.max()), 3), "mean": round(float(arr.mean()), 3)}


# --------------------------------------------------------------------------- reading


def find_metadata(corpus_dir: Path) -> Path | None:
    """`metadata_RUSLAN_22200.csv`, else the single `metadata*.csv` in the corpus."""
    preferred = corpus_dir / METADATA_NAME
    if preferred.is_file():
        return preferred
    candidates = sorted(p for p in corpus_dir.glob("metadata*.csv") if p.is_file())
    return candidates[0] if len(candidates) == 1 else None


def _safe_id(raw: str) -> str | None:
    """The item id from the metadata's first field, or None when it could escape the corpus."""
    name = raw.strip()
    for suffix in AUDIO_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if (not name or name in (".", "..") or "/" in name or "\\" in name or ".." in name
            or os.path.isabs(name) or "\x00" in name):
        return None
    return name


def _audio_path(corpus_dir: Path, item_id: str) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        path = corpus_dir / AUDIO_DIR / f"{item_id}{suffix}"
        if path.exists():
            return path
    return None


def _text_issues(text: str) -> list[tuple[str, str]]:
    """Problems with a transcription: (kind, message) pairs."""
    if not text.strip():
        return [("empty_text", "the transcription is empty")]
    if not _CYRILLIC.search(text):
        return [("no_cyrillic", f"no Cyrillic letters in {text[:60]!r}")]
    found = []
    unknown = sorted({ch for ch in unicodedata.normalize("NFC", text) if ch not in _KNOWN_CHARS})
    if unknown:
        shown = " ".join(f"{ch!r}(U+{ord(ch):04X})" for ch in unknown[:10])
        found.append(("unknown_characters", f"characters the front end drops: {shown}"))
    if _LATIN.search(text):
        found.append(("latin_letters", "Latin letters are transliterated"))
    return found


def _metadata_entries(corpus_dir: Path, metadata: Path, report: CorpusReport
                      ) -> list[tuple[str, str, int]]:
    """(id, text, line) of every well-formed metadata line; the others go into the report
    as issues. Sets ``report.lines``."""
    seen: dict[str, int] = {}
    candidates: list[tuple[str, str, int]] = []
    raw_lines = metadata.read_bytes().splitlines()
    report.lines = len(raw_lines)
    for lineno, raw in enumerate(raw_lines, start=1):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.issues.append(CorpusIssue(
                "bad_encoding", f"not UTF-8 at byte {exc.start} (cp1251? re-save as UTF-8)",
                line=lineno))
            continue
        if not line.strip():
            continue
        if "|" not in line:
            report.issues.append(CorpusIssue(
                "malformed_line", f"expected 'id|text', got {line[:60]!r}", line=lineno))
            continue
        fields = line.split("|")
        item_id = _safe_id(fields[0])
        if item_id is None:
            report.issues.append(CorpusIssue(
                "unsafe_id", f"id {fields[0]!r} is not a plain file name; not opened",
                line=lineno))
            continue
        if item_id in seen:
            report.issues.append(CorpusIssue(
                "duplicate_id", f"already on line {seen[item_id]}", id=item_id, line=lineno))
            continue
        seen[item_id] = lineno
        text = fields[1].strip()
        if not text:
            text_file = corpus_dir / TEXT_DIR / f"{item_id}.txt"
            if text_file.is_file():
                try:
                    text = text_file.read_text(encoding="utf-8").strip()
                    report.issues.append(CorpusIssue(
                        "text_from_file", f"text read from {text_file.name}", id=item_id,
                        line=lineno))
                except UnicodeDecodeError:
                    report.issues.append(CorpusIssue(
                        "bad_encoding", f"{text_file} is not UTF-8", id=item_id, line=lineno))
                    continue
        candidates.append((item_id, text, lineno))

    return candidates


def validate_corpus(
    corpus_dir: str | os.PathLike,
    config: AudioConfig | None = None,
    processor: RussianPhonemeProcessor | None = None,
    read_audio_data: bool = True,
    progress: bool = False,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = 1,
    limit: int | None = None,
) -> CorpusReport:
    """Read and check a RUSLAN-layout corpus; return the usable items and every problem.

    With a `limit` only the first `limit` well-formed lines of the metadata are checked: a
    quick sample of a large corpus (the report then describes only those).

    With ``read_audio_data`` every clip is decoded (to find silent and truncated files and
    to measure the trimmed duration); without it only headers are read (fast, fewer checks).
    With a `cache_dir` (the feature cache's) each item's result is kept in
    ``<cache_dir>/reports/`` (`ReportCache`), so the next validation checks only the items
    whose audio file, text or front end changed; the report is the same either way.
    With `workers` > 1 (None: one per CPU) the items to check are checked in as many
    spawned processes; like all multiprocessing, a script that asks for that needs an
    ``if __name__ == "__main__":`` guard.
    """
    report, _ = _validate(corpus_dir, config, processor, read_audio_data, progress, cache_dir,
                          workers, features=False, limit=limit)
    return report


def preprocess_corpus(
    corpus_dir: str | os.PathLike,
    config: AudioConfig | None = None,
    processor: RussianPhonemeProcessor | None = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict:
    """Validate a corpus (through the report cache) and compute every usable item's features
    into the feature cache, in `workers` processes (None: all CPUs; 1: this process), so
    that training starts without decoding a clip. Each clip is decoded once for both.
    Returns a summary: items, skipped, issue counts, features computed, already cached and
    recomputed (an unreadable cache entry), items checked and seconds.
    """
    start = time.perf_counter()
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    report, counts = _validate(corpus_dir, config, processor, True, progress, cache_dir,
                               workers, features=True)
    return {"corpus": str(report.corpus_dir), "cache_dir": str(cache_dir),
            "metadata_lines": report.lines, "usable_items": len(report.items),
            "skipped_items": len(report.skipped_ids), "usable": report.usable,
            "issue_counts": dict(report.issue_counts()), **counts,
            "seconds": round(time.perf_counter() - start, 2)}


def _validate(corpus_dir, config, processor, read_audio_data, progress, cache_dir, workers,
              features: bool, limit: int | None = None) -> tuple[CorpusReport, dict]:
    """`validate_corpus`, and with `features` `preprocess_corpus`'s feature pass in the same
    tasks. Returns the report and counts: ``items_checked`` (those not in the report cache),
    ``workers``, and with `features` the feature cache's ``features_computed``,
    ``features_cached`` and ``features_recomputed``."""
    config = config or AudioConfig()
    processor = processor or RussianPhonemeProcessor()
    corpus_dir = Path(corpus_dir)
    report = CorpusReport(corpus_dir=corpus_dir, metadata_path=None)
    if not corpus_dir.is_dir():
        report.issues.append(CorpusIssue("no_corpus", f"corpus directory not found: {corpus_dir}"))
        return report, {}
    metadata = find_metadata(corpus_dir)
    if metadata is None:
        report.issues.append(CorpusIssue(
            "no_metadata",
            f"no {METADATA_NAME} (nor a single metadata*.csv) in {corpus_dir}"))
        return report, {}
    report.metadata_path = metadata

    candidates = _metadata_entries(corpus_dir, metadata, report)[:limit]
    checker = ItemChecker(corpus_dir, config, processor, read_audio_data,
                          cache_dir if features else None)
    cache = ReportCache(cache_dir, metadata, checker.fingerprint)
    tasks, keys = [], []
    for (item_id, text, _), (path, key) in zip(candidates, AudioFiles(corpus_dir).locate(
            candidates, checker.fingerprint), strict=True):
        keys.append(key)
        tasks.append((item_id, text, path, cache.get(item_id, key), features))
    results, used = _run_tasks(checker, tasks, workers,
                               progress and ("preprocessing" if features else "checking corpus"))
    for (item_id, text, lineno), task, key, (outcome, _) in zip(candidates, tasks, keys, results,
                                                                strict=True):
        if key is not None:
            cache.put(item_id, key, outcome)
        _record(report, item_id, text, lineno, task[2], outcome, config)
    cache.save()
    _flag_speaking_rates(report)
    statuses = Counter(status for _, status in results if status)
    counts = {"items_checked": sum(task[3] is None for task in tasks), "workers": used}
    if features:
        counts |= {f"features_{kind}": statuses[kind] for kind in ("computed", "cached",
                                                                   "recomputed")}
    return report, counts


def _record(report: CorpusReport, item_id: str, text: str, lineno: int, path: Path | None,
            outcome: tuple, config: AudioConfig) -> None:
    """One item's check result into the report: its issues, its frames and, when it is
    usable, the item."""
    problems, samples = outcome
    report.issues.extend(CorpusIssue(kind, message, id=item_id, line=lineno)
                         for kind, message in problems)
    if samples is None:
        return
    frames = frames_for_samples(samples, config)
    report.frames[item_id] = frames
    if not any(kind in SKIPPING for kind, _ in problems):
        report.items.append(CorpusItem(item_id, text, path, lineno,
                                       samples / config.sample_rate, frames))


def _flag_speaking_rates(report: CorpusReport) -> None:
    """A note for each usable clip (of 1 s or more) whose letters per second are under
    1 / `RATE_OUTLIER_FACTOR` or over `RATE_OUTLIER_FACTOR` times the corpus median."""
    rates = {item.id: sum(ch.isalpha() for ch in item.text) / item.duration_s
             for item in report.items if item.duration_s >= 1.0}
    if len(rates) < 10:
        return
    median = float(np.median(list(rates.values())))
    for item in report.items:
        rate = rates.get(item.id)
        if rate is not None and not median / RATE_OUTLIER_FACTOR <= rate <= median * RATE_OUTLIER_FACTOR:
            report.issues.append(CorpusIssue(
                "speaking_rate", f"{rate:.1f} letters/s against the corpus median {median:.1f}: "
                                 f"do the text and the audio belong together?",
                id=item.id, line=item.line))


def _run_tasks(checker: ItemChecker, tasks: list[tuple], workers: int | None,
               progress: str | bool) -> tuple[list[tuple], int]:
    """`checker.run` over `tasks` in order, in this process or a pool of `workers` spawned
    processes, with a progress bar titled `progress` (none when False); returns the results
    and the number of processes used."""
    pending = sum(task[3] is None or task[4] for task in tasks)  # the others are cached
    workers = max(1, min(workers or os.cpu_count() or 1, pending))
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(tasks), desc=progress, unit="item")
    try:
        if workers == 1:
            return [checker.run(task) for task in _advancing(tasks, bar)], 1
        return _pool_results(checker, tasks, workers, bar), workers
    finally:
        if bar is not None:
            bar.close()


def _pool_results(checker: ItemChecker, tasks: list[tuple], workers: int, bar) -> list[tuple]:
    """`checker.run` over `tasks` in `workers` spawned processes (fork is unsafe once torch
    has started threads). Where workers cannot start (a script read from stdin cannot be
    imported by them), the tasks left run in this process, with a warning."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    results: list[tuple] = []
    try:
        with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(checker,)) as pool:
            # Chunks: few enough to keep the messages cheap, many enough to share the work.
            chunk = max(16, len(tasks) // (32 * workers))
            results.extend(_advancing(pool.map(_worker_run, tasks, chunksize=chunk), bar))
    except BrokenProcessPool as exc:
        log.warning("worker processes failed (%s); checking the rest in this process", exc)
        results.extend(checker.run(task) for task in _advancing(tasks[len(results):], bar))
    return results


def _advancing(iterable, bar):
    """`iterable`, advancing the progress `bar` (when there is one) for each element."""
    for element in iterable:
        yield element
        if bar is not None:
            bar.update()


_WORKER_CHECKER: ItemChecker | None = None  # the checker of a worker process (`_start_worker`)


def _start_worker(checker: ItemChecker) -> None:
    global _WORKER_CHECKER
    torch.set_num_threads(1)  # one process per core: more threads would only contend
    _WORKER_CHECKER = checker


def _worker_run(task: tuple) -> tuple:
    assert _WORKER_CHECKER is not None
    return _WORKER_CHECKER.run(task)


class ItemChecker:
    """Checks one metadata entry at a time: its text, its audio file, and (for
    `preprocess_corpus`) its features. The same object runs in this process or, pickled, in
    each worker process; results are plain data, ``(((kind, message), ...), samples)``, where
    `samples` is the trimmed length at the configured rate, None when the clip could not be
    measured."""

    def __init__(self, corpus_dir: Path, config: AudioConfig, processor: RussianPhonemeProcessor,
                 read_audio_data: bool, feature_cache_dir: str | os.PathLike | None) -> None:
        self.corpus_dir = corpus_dir
        self.config = config
        self.processor = processor
        self.read_audio_data = read_audio_data
        self.features = FeatureCache(feature_cache_dir, config, processor)
        # What decides a result besides the audio file and the text.
        self.fingerprint = front_end_fingerprint(config, processor, "report", REPORT_FORMAT,
                                                 read_audio_data)

    def run(self, task: tuple) -> tuple[tuple, str | None]:
        """One task ``(id, text, audio path, cached result or None, features?)``: its result
        and, with features, whether they were "computed", "cached" or "recomputed"."""
        item_id, text, path, outcome, features = task
        wave = None
        if outcome is None:
            outcome, wave = self.check(item_id, text, path)
        problems, samples = outcome
        if not features or samples is None or any(kind in SKIPPING for kind, _ in problems):
            return outcome, None
        return outcome, self.features.ensure(CorpusItem(item_id, text, path, 0), wave)

    def check(self, item_id: str, text: str, path: Path | None
              ) -> tuple[tuple, torch.Tensor | None]:
        """The item's result, and its decoded clip when there is one (to reuse)."""
        problems = _text_issues(text)
        if any(kind in SKIPPING for kind, _ in problems):
            return (tuple(problems), None), None
        if not self.processor.text_to_indices(text):
            return (tuple(problems) + (("no_phonemes", "the text yields no phonemes"),), None), None
        audio_problems, samples, wave = self._check_audio(item_id, path)
        problems += audio_problems
        if samples is not None:
            frames = frames_for_samples(samples, self.config)
            if frames > self.config.max_frames:
                problems.append(("too_long", f"{frames} mel frames > max_frames "
                                             f"{self.config.max_frames} "
                                             f"({samples / self.config.sample_rate:.1f} s)"))
        return (tuple(problems), samples), wave

    def _check_audio(self, item_id: str, path: Path | None
                     ) -> tuple[list[tuple[str, str]], int | None, torch.Tensor | None]:
        """Problems of the audio file, its trimmed length in samples (None: not usable) and
        the decoded clip (None without `read_audio_data`)."""
        config = self.config
        if path is None:
            return [("missing_audio", f"no {AUDIO_DIR}/{item_id}.wav or .flac")], None, None
        if path.is_dir():
            return [("unreadable_audio", f"{path} is a directory")], None, None
        if path.stat().st_size == 0:
            return [("empty_audio", f"{path.name} is an empty file (0 bytes)")], None, None
        try:
            info = sf.info(str(path))
        except Exception as exc:  # soundfile raises several types for broken files
            return [("unreadable_audio", f"{path.name}: {exc}")], None, None
        if info.frames <= 0:
            return [("empty_audio", f"{path.name} has no samples")], None, None
        problems = []
        if info.samplerate != config.sample_rate:
            problems.append(("resampled", f"{info.samplerate} Hz, resampled to "
                                          f"{config.sample_rate} Hz"))
        if info.channels > 1:
            problems.append(("stereo", f"{info.channels} channels, mixed down to mono"))
        missing = missing_wav_frames(path)
        if missing:
            return problems + [("truncated_audio", f"{path.name} holds {info.frames} frames but "
                                                   f"its header declares {info.frames + missing}: "
                                                   f"a cut-off file (download it again)")], None, None
        if not self.read_audio_data:
            return problems, round(info.frames * config.sample_rate / info.samplerate), None
        try:
            wave, audio_info = load_audio(path, config)
        except AudioLoadError as exc:
            return problems + [("unreadable_audio", str(exc))], None, None
        if audio_info.peak < SILENCE_PEAK:
            return problems + [("silent_audio", f"peak {audio_info.peak:.2g}: the clip is "
                                                f"silent")], None, None
        return problems, int(wave.shape[-1]), wave


class AudioFiles:
    """A corpus's clips, from one listing of its audio directory: finding 22,200 clips and
    their cache keys then takes one `stat` each instead of a dozen system calls (a lookup per
    suffix, and one per path component to resolve it)."""

    def __init__(self, corpus_dir: Path) -> None:
        self.corpus_dir = corpus_dir
        self.audio_dir = audio_dir = corpus_dir / AUDIO_DIR
        try:
            self.entries = {entry.name: entry for entry in os.scandir(audio_dir)}
        except OSError:  # no audio directory: every clip is missing, as `_audio_path` finds
            self.entries = {}
        self.real_dir = os.path.realpath(audio_dir)

    def locate(self, candidates: Sequence[tuple[str, str, int]], fingerprint: str
               ) -> Iterator[tuple[Path | None, str | None]]:
        """For each metadata entry ``(id, text, line)``: its audio file (as `_audio_path`
        finds it) and its report cache key (None unless the file is a regular file)."""
        for item_id, text, _ in candidates:
            for suffix in AUDIO_SUFFIXES:
                entry = self.entries.get(f"{item_id}{suffix}")
                try:
                    info = entry.stat() if entry is not None else None  # follows links
                except OSError:  # a dangling link: not there, as Path.exists() says
                    info = None
                if info is not None:
                    break
            else:  # not listed under this exact name (a case-insensitive file system?)
                yield _audio_path(self.corpus_dir, item_id), None
                continue
            path = self.audio_dir / entry.name
            resolved = (str(path.resolve()) if entry.is_symlink()
                        else os.path.join(self.real_dir, entry.name))
            yield path, item_key(resolved, info, text, fingerprint) if S_ISREG(info.st_mode) \
                else None


REPORT_FORMAT = 2  # 2: truncated WAV files


class ReportCache:
    """Each item's validation result, kept between runs: one JSON file per corpus metadata
    file and front end in ``<cache_dir>/reports/``, ``{"format", "metadata", "items": {id:
    [key, problems, samples]}}``, written atomically. An entry counts only when its key (the
    audio file's resolved path, size and mtime, the text, the audio config and the front end:
    `item_key`) is the item's now and its contents are well formed; a corrupt or foreign file
    is ignored. Without a `cache_dir` nothing is kept."""

    FORMAT = "kokoro_nb.corpus_report"

    def __init__(self, cache_dir: str | os.PathLike | None, metadata: Path,
                 fingerprint: str) -> None:
        self.path = None
        if cache_dir is not None:
            name = hashlib.sha1(json.dumps([str(metadata.resolve()), fingerprint],
                                           ensure_ascii=False).encode("utf-8")).hexdigest()
            self.path = Path(cache_dir) / "reports" / f"{name[:24]}.json"
        self.metadata = metadata
        self.stored = self._read()
        self.current: dict[str, list] = {}
        self.hits = 0

    def _read(self) -> dict:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_bytes())
            if data.get("format") == self.FORMAT and isinstance(data.get("items"), dict):
                return data["items"]
        except (ValueError, AttributeError) as exc:  # not JSON, or JSON of another shape
            log.warning("corpus report cache %s unreadable (%s); checking again", self.path, exc)
            return {}
        log.warning("corpus report cache %s is not one; checking again", self.path)
        return {}

    def get(self, item_id: str, key: str | None) -> tuple | None:
        """The stored result of `item_id` when it was stored under `key`, else None."""
        entry = self.stored.get(item_id) if key is not None else None
        outcome = _stored_outcome(entry, key)
        self.hits += outcome is not None
        return outcome

    def put(self, item_id: str, key: str, outcome: tuple) -> None:
        self.current[item_id] = [key, [list(p) for p in outcome[0]], outcome[1]]

    def save(self) -> None:
        """Write the results of this validation's items, unless nothing changed."""
        if self.path is None or (self.hits == len(self.current) == len(self.stored)):
            return
        data = {"format": self.FORMAT, "metadata": str(self.metadata), "items": self.current}
        atomic_write_bytes(self.path, json.dumps(data, ensure_ascii=False,
                                                 separators=(",", ":")).encode("utf-8"))


def _stored_outcome(entry, key: str | None) -> tuple | None:
    """A cache entry ``[key, problems, samples]`` as a result, if it is one for `key`."""
    if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == key):
        return None
    problems, samples = entry[1], entry[2]
    if not (isinstance(problems, list) and all(
            isinstance(p, list) and len(p) == 2 and p[0] in SKIPPING | NOTES
            and isinstance(p[1], str) for p in problems)):
        return None
    if samples is None:  # an item not measured was skipped for a reason
        return (tuple(map(tuple, problems)), None) if any(p[0] in SKIPPING for p in problems) \
            else None
    if type(samples) is not int or samples < 0:
        return None
    return tuple(map(tuple, problems)), samples


# --------------------------------------------------------------------------- statistics


def item_table(items: Sequence[CorpusItem], processor: RussianPhonemeProcessor) -> list[dict]:
    """One row per item: duration, characters, phonemes, frames and the rates between them
    (what notebook 01 plots: speaking rate and frames per phoneme tell whether the text and
    the audio belong together)."""
    rows = []
    for item in items:
        phonemes = [p for p in processor.text_to_phonemes(item.text) if p not in (" ",)]
        n_phonemes = max(1, len(phonemes))
        rows.append({
            "id": item.id,
            "text": item.text,
            "duration_s": round(item.duration_s, 3),
            "chars": len(item.text),
            "phonemes": len(phonemes),
            "frames": item.frames,
            "chars_per_s": round(len(item.text) / item.duration_s, 2) if item.duration_s else 0.0,
            "phonemes_per_s": round(len(phonemes) / item.duration_s, 2) if item.duration_s else 0.0,
            "frames_per_phoneme": round(item.frames / n_phonemes, 2),
        })
    return rows


def character_coverage(items: Sequence[CorpusItem]) -> Counter:
    """How often each (lowercased) character occurs in the transcriptions."""
    counts: Counter = Counter()
    for item in items:
        counts.update(unicodedata.normalize("NFC", item.text.lower()))
    return counts


def frame_limit_effect(report: CorpusReport, limits: Sequence[int], config: AudioConfig) -> list[dict]:
    """For each max-frames limit: how many readable clips it keeps and how much audio it drops."""
    frames = list(report.frames.values())
    rows = []
    for limit in limits:
        dropped = [f for f in frames if f > limit]
        rows.append({
            "max_frames": limit,
            "max_seconds": round(limit * config.frame_seconds, 2),
            "kept": len(frames) - len(dropped),
            "dropped": len(dropped),
            "dropped_minutes": round(sum(dropped) * config.frame_seconds / 60, 2),
        })
    return rows


# --------------------------------------------------------------------------- features


def encode_text(processor: RussianPhonemeProcessor, text: str) -> tuple[list[int], list[int]]:
    """Model input for a text: phoneme ids ending in `<eos>`, and the matching stress flags.

    Training and synthesis both call this, so they always agree on the input format.
    """
    ids = processor.text_to_indices(text) + [processor.eos_id]
    stress = processor.get_stress_pattern(text) + [0]
    return ids, stress


CACHE_FORMAT = 2


def front_end_fingerprint(config: AudioConfig, processor: RussianPhonemeProcessor,
                          *extra) -> str:
    """What decides an item's features (and its check) besides its audio file and text: the
    `AudioConfig`, the processor's rules, vocabulary, lexicon use and user stress, the
    front end's `G2P_VERSION` (bumped whenever its output changes), and `extra`."""
    state = processor.to_dict()
    features = {k: v for k, v in dataclasses.asdict(config).items()
                if k not in LISTENING_ONLY}  # Griffin-Lim's settings make no feature
    return config_fingerprint(features, state["rules"], state["phonemes"], state["use_lexicon"],
                              state["stress_dict"], G2P_VERSION, *extra)


LISTENING_ONLY = frozenset({"griffin_lim_iters", "griffin_lim_power"})


def item_key(resolved_path: str, info: os.stat_result, text: str, fingerprint: str) -> str:
    """A cache key (hex) of an item: its audio file's resolved path, size and modification
    time (`info`, its `stat`), its text and a `fingerprint`."""
    raw = json.dumps([resolved_path, info.st_size, info.st_mtime_ns, text, fingerprint],
                     ensure_ascii=False)
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """``$KOKORO_NB_CACHE`` or ``$XDG_CACHE_HOME/kokoro_nb`` (``~/.cache/kokoro_nb``)."""
    if os.environ.get("KOKORO_NB_CACHE"):
        return Path(os.environ["KOKORO_NB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kokoro_nb" / "features"


class FeatureCache:
    """Mel spectrograms and phoneme ids, computed once per (audio file, text, audio config,
    phoneme rules) and reused.

    The key (`item_key`) hashes the file's resolved path, size and modification time, the
    text, the `AudioConfig` and the front end (`front_end_fingerprint`: rules, vocabulary,
    lexicon use, user stress and `G2P_VERSION`, bumped whenever the front end's output
    changes), so any change computes fresh features. Each entry is one small binary
    file (a JSON header, raw arrays and a CRC32 of everything), written atomically; no pickle
    is involved, and an entry that is truncated, corrupt or written for another key is
    recomputed, never trusted. Mels are stored as float16 (half
    the disk; the error, below 0.01 in log units, is far under what the model resolves).
    """

    MAGIC = b"KNBFEAT1"

    def __init__(self, cache_dir: str | os.PathLike | None, config: AudioConfig,
                 processor: RussianPhonemeProcessor) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.config = config
        self.processor = processor
        self._fingerprint = front_end_fingerprint(config, processor, CACHE_FORMAT)
        self.hits = self.misses = self.recomputed = 0

    def key(self, item: CorpusItem) -> str:
        path = item.audio_path
        return item_key(str(path.resolve()), path.stat(), item.text, self._fingerprint)

    def _path(self, key: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / key[:2] / f"{key}.feat"

    def compute(self, item: CorpusItem, wave: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """The item's features, from its clip as `load_audio` returns it (`wave`, when the
        caller has decoded it already)."""
        if wave is None:
            wave, _ = load_audio(item.audio_path, self.config)
        mel = mel_spectrogram(wave, self.config).transpose(0, 1).contiguous()  # (frames, n_mels)
        ids, stress = encode_text(self.processor, item.text)
        return {"mel": mel, "ids": torch.tensor(ids, dtype=torch.long),
                "stress": torch.tensor(stress, dtype=torch.long)}

    def get(self, item: CorpusItem) -> dict[str, torch.Tensor]:
        if self.cache_dir is None:
            self.misses += 1
            return self.compute(item)
        key = self.key(item)
        features = self._load(key)
        return features if features is not None else self._store(item, key)

    def ensure(self, item: CorpusItem, wave: torch.Tensor | None = None) -> str:
        """Make sure the item's features are cached: "cached" (a readable entry was there),
        "computed", or "recomputed" (an unreadable entry was replaced)."""
        if self.cache_dir is None:
            raise ValueError("FeatureCache.ensure needs a cache directory")
        key = self.key(item)
        if self._load(key) is not None:
            return "cached"
        recomputed = self.recomputed
        self._store(item, key, wave)
        return "recomputed" if self.recomputed > recomputed else "computed"

    def _load(self, key: str) -> dict[str, torch.Tensor] | None:
        """The entry for `key`, None when there is none or it is unreadable."""
        path = self._path(key)
        if not path.exists():
            return None
        try:
            features = self._decode(path.read_bytes(), key)
        except Exception as exc:  # corrupt, truncated or foreign file: recompute
            log.warning("feature cache entry %s unreadable (%s); recomputing", path, exc)
            self.recomputed += 1
            return None
        self.hits += 1
        return features

    def _store(self, item: CorpusItem, key: str, wave: torch.Tensor | None = None
               ) -> dict[str, torch.Tensor]:
        self.misses += 1
        features = self.compute(item, wave)
        atomic_write_bytes(self._path(key), self._encode(features, key))
        # Return what the cache will return next time (float16-rounded mels), so a fresh
        # epoch and a cached one feed the model exactly the same numbers.
        features["mel"] = features["mel"].half().float()
        return features

    def _encode(self, features: dict[str, torch.Tensor], key: str) -> bytes:
        mel = features["mel"].numpy().astype(np.float16)
        ids = features["ids"].numpy().astype(np.int32)
        stress = features["stress"].numpy().astype(np.int8)
        header = json.dumps({"key": key, "frames": mel.shape[0], "n_mels": mel.shape[1],
                             "tokens": len(ids)}).encode()
        body = (self.MAGIC + len(header).to_bytes(4, "little") + header
                + mel.tobytes() + ids.tobytes() + stress.tobytes())
        return body + zlib.crc32(body).to_bytes(4, "little")

    def _decode(self, data: bytes, key: str) -> dict[str, torch.Tensor]:
        if len(data) < 16 or not data.startswith(self.MAGIC):
            raise ValueError("not a feature file")
        body, crc = data[:-4], int.from_bytes(data[-4:], "little")
        if zlib.crc32(body) != crc:
            raise ValueError("checksum mismatch")
        size = int.from_bytes(body[8:12], "little")
        header = json.loads(body[12:12 + size])
        if header.get("key") != key:
            raise ValueError("written for another key")
        frames, n_mels, tokens = header["frames"], header["n_mels"], header["tokens"]
        offset = 12 + size
        mel_bytes = frames * n_mels * 2
        mel = np.frombuffer(body, np.float16, frames * n_mels, offset).reshape(frames, n_mels)
        ids = np.frombuffer(body, np.int32, tokens, offset + mel_bytes)
        stress = np.frombuffer(body, np.int8, tokens, offset + mel_bytes + 4 * tokens)
        if offset + mel_bytes + 5 * tokens != len(body):
            raise ValueError("length mismatch")
        return {"mel": torch.from_numpy(mel.astype(np.float32)),
                "ids": torch.from_numpy(ids.astype(np.int64)),
                "stress": torch.from_numpy(stress.astype(np.int64))}


class TTSDataset(Dataset):
    """Usable corpus items as model examples: ``{"id", "ids", "stress", "mel"}``.

    ``ids``/``stress`` are LongTensors of the same length (phonemes + `<eos>`); ``mel`` is a
    float32 (frames, n_mels) log-mel spectrogram.
    """

    def __init__(self, items: Sequence[CorpusItem], processor: RussianPhonemeProcessor,
                 config: AudioConfig, cache_dir: str | os.PathLike | None = None) -> None:
        self.items = list(items)
        self.processor = processor
        self.config = config
        self.cache = FeatureCache(cache_dir, config, processor)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        features = self.cache.get(item)
        return {"id": item.id, **features}

    def frame_lengths(self) -> list[int]:
        """Mel frames per item (from the report; used by the length-bucketed sampler)."""
        return [item.frames for item in self.items]


def collate_batch(examples: list[dict], pad_id: int = 0, mel_pad_value: float | None = None,
                  frames_multiple: int = 1, log_floor: float = 1e-5) -> dict:
    """Pad a list of examples into a batch with lengths and masks.

    Returns ``ids``/``stress`` (B, L) padded with `pad_id`/0, ``text_lengths`` (B),
    ``text_mask`` (B, L) True on real phonemes, ``mels`` (B, T, n_mels) padded with silence
    (log of the floor), ``mel_lengths`` (B), ``mel_mask`` (B, T) True on real frames,
    ``stop_targets`` (B, T) 1.0 from each item's last real frame on, and ``item_ids``.
    T is rounded up to a multiple of `frames_multiple` (the model's reduction factor).
    """
    if not examples:
        raise ValueError("cannot collate an empty batch")
    mel_pad_value = math.log(log_floor) if mel_pad_value is None else mel_pad_value
    batch_size = len(examples)
    text_lengths = torch.tensor([len(e["ids"]) for e in examples], dtype=torch.long)
    mel_lengths = torch.tensor([e["mel"].shape[0] for e in examples], dtype=torch.long)
    max_text = int(text_lengths.max())
    max_frames = int(mel_lengths.max())
    max_frames = -(-max_frames // frames_multiple) * frames_multiple
    n_mels = examples[0]["mel"].shape[1]
    ids = torch.full((batch_size, max_text), pad_id, dtype=torch.long)
    stress = torch.zeros((batch_size, max_text), dtype=torch.long)
    mels = torch.full((batch_size, max_frames, n_mels), mel_pad_value, dtype=torch.float32)
    for b, example in enumerate(examples):
        n, t = len(example["ids"]), example["mel"].shape[0]
        ids[b, :n] = example["ids"]
        stress[b, :n] = example["stress"]
        mels[b, :t] = example["mel"]
    text_mask = torch.arange(max_text)[None, :] < text_lengths[:, None]
    mel_mask = torch.arange(max_frames)[None, :] < mel_lengths[:, None]
    stop_targets = (torch.arange(max_frames)[None, :] >= (mel_lengths[:, None] - 1)).float()
    return {
        "ids": ids, "stress": stress, "text_lengths": text_lengths, "text_mask": text_mask,
        "mels": mels, "mel_lengths": mel_lengths, "mel_mask": mel_mask,
        "stop_targets": stop_targets, "item_ids": [e["id"] for e in examples],
    }


def batch_loader(dataset: Dataset, batches: list[list[int]], collate, num_workers: int = 0,
                 seed: int = 0, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over exactly these `batches` (lists of dataset indices), in this order.

    It draws on a private generator: creating a DataLoader iterator otherwise takes a seed
    from the global RNG, and a resumed run (which creates one more iterator) would then see
    other dropout masks than an uninterrupted one.
    """
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                      num_workers=num_workers, generator=generator, pin_memory=pin_memory)


def batch_to_device(batch: dict, device: torch.device | str, non_blocking: bool = False) -> dict:
    """A collated batch with its tensors moved to `device` (other entries unchanged)."""
    return {k: v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) else v
            for k, v in batch.items()}


def shard_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """Rank `rank`'s share of an epoch's batches when `world_size` processes train together:
    round k gives batch k * world_size + r to rank r. Every rank gets the same number of
    batches (the last round is filled up with the epoch's first batches again), and the
    ranks' shares together hold each batch once, in rounds of the epoch's order, so a run
    stopped after some rounds can resume with another number of ranks."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of {world_size}")
    if world_size == 1 or not batches:
        return list(batches)
    rounds = -(-len(batches) // world_size)
    return [batches[i % len(batches)] for i in range(rank, rounds * world_size, world_size)]


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of similar length (less padding, faster epochs), in a seeded random order.

    Each epoch: shuffle the indices, cut them into pools of ``batch_size * bucket_batches``,
    sort each pool by length, cut pools into batches, shuffle the batches. `set_epoch` makes
    the order a function of (seed, epoch), so a resumed run sees the same batches. With
    `world_size` > 1 (torchrun) each rank gets its share (`shard_batches`): the order depends
    on (seed, epoch) only, so all ranks agree on it.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0,
                 shuffle: bool = True, bucket_batches: int = 16, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.bucket_batches = bucket_batches
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This rank's batches of the epoch."""
        return shard_batches(self.epoch_batches(), self.rank, self.world_size)

    def epoch_batches(self) -> list[list[int]]:
        """All the epoch's batches, of all ranks."""
        indices = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        if self.shuffle:
            rng.shuffle(indices)
        pool = self.batch_size * self.bucket_batches
        batches: list[list[int]] = []
        for start in range(0, len(indices), pool):
            chunk = sorted(indices[start:start + pool], key=lambda i: self.lengths[i])
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b:b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        pool = self.batch_size * self.bucket_batches
        count = 0
        for start in range(0, len(self.lengths), pool):
            size = min(pool, len(self.lengths) - start)
            count += size // self.batch_size if self.drop_last else -(-size // self.batch_size)
        return -(-count // self.world_size) if count else 0


def training_split(items: Sequence[CorpusItem], config=None
                   ) -> tuple[list[CorpusItem], list[CorpusItem]]:
    """The (train, validation) split a training run with `config` (a `TrainConfig`; None
    for the defaults) makes of `items`: what the vocoder, `evaluate --validation-split`
    and the notebooks use to stay off the items a model trained on."""
    from .config import TrainConfig

    config = config or TrainConfig()
    return split_items(items, config.val_fraction, config.min_val_items, seed=config.seed)


def split_items(items: Sequence[CorpusItem], val_fraction: float = 0.05, min_val: int = 4,
                seed: int = 0) -> tuple[list[CorpusItem], list[CorpusItem]]:
    """Deterministic train/validation split by a hash of each id.

    An item is in validation when its hash, read as a number in [0, 1), is below
    `val_fraction`, so the split does not depend on item order and adding items to a corpus
    never moves existing ones between the splits. Small corpora get at least `min_val`
    validation items (the lowest hashes), but never more than a fifth of the corpus.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")

    def rank(item: CorpusItem) -> float:
        return int(hashlib.sha1(f"{seed}:{item.id}".encode()).hexdigest()[:12], 16) / 16**12

    chosen = {item.id for item in items if rank(item) < val_fraction}
    floor = min(min_val, max(1, len(items) // 5), len(items) - 1)  # at most a fifth of a tiny corpus
    if val_fraction > 0 and len(chosen) < floor:
        chosen = {item.id for item in sorted(items, key=rank)[:floor]}
    train = [it for it in items if it.id not in chosen]
    val = [it for it in items if it.id in chosen]
    return train, val
