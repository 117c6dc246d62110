#!/usr/bin/env python3
"""Regenerate the bundled demo corpus (``kokoro_nb/data/demo_corpus/``).

OFFLINE generator; nothing here runs when the package is used.  It synthesizes
each sentence of ``kokoro_nb/data/demo_sentences.txt`` once with espeak-ng's
Russian voice and writes a tiny corpus in the RUSLAN layout::

    kokoro_nb/data/demo_corpus/
        metadata_RUSLAN_22200.csv      # <id>|<text>, UTF-8, no header
        wavs/<id>.flac                 # 22 050 Hz, mono, 16-bit PCM FLAC
        README.md                      # provenance, licence, espeak-ng version

Ids are ``f"{i:06d}_DEMO"`` for sentence ``i`` (1-based).  The folder must stay
under 12 MB (``du -sb``); espeak-ng audio compresses to only ~24 kB/s of FLAC, so
the script keeps the longest prefix of the sentence list that fits and says in
the README how many sentences were left out.

Requirements (besides numpy and soundfile from the project venv)::

    apt-get update && apt-get install -y espeak-ng

Usage (from the repository root)::

    .venv/bin/python scripts/make_demo_corpus.py

The output is deterministic: the same espeak-ng version gives the same files.
espeak-ng (GPL-3.0) is only used to make these files; nothing at run time needs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "kokoro_nb" / "data" / "demo_sentences.txt"
OUT_DIR = ROOT / "kokoro_nb" / "data" / "demo_corpus"
METADATA_NAME = "metadata_RUSLAN_22200.csv"

SAMPLE_RATE = 22050
SPEED_WPM = 175  # espeak-ng's default rate: clear, and the most audio that fits in 12 MB
# Same flags for every sentence.  ``-b 1``: the text argument is UTF-8 whatever
# the locale says.
ESPEAK_FLAGS = ["-v", "ru", "-s", str(SPEED_WPM), "-b", "1"]

# Trimming: 10 ms frames; a frame is "speech" when its RMS is within
# TRIM_DB of the loudest frame; keep MARGIN_S of audio beyond the first and
# last speech frame.
FRAME_S = 0.010
TRIM_DB = 40.0
MARGIN_S = 0.10

# Highest FLAC compression soundfile allows (``compression_level`` is in
# [0, 1] since soundfile 0.12; older versions encode at libsndfile's default).
FLAC_COMPRESSION = 1.0

# Hard limit for the whole folder (``du -sb``), and what is kept back from it
# for README.md and the directory entries themselves.
MAX_BYTES = 12_000_000
RESERVE_BYTES = 64_000


def espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("espeak-ng not found: apt-get update && apt-get install -y espeak-ng")
    out = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True).stdout
    # "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/..."
    return out.split("Data at:")[0].strip()


def command_line(wav: str = "<tmp.wav>", text: str = "<text>") -> list[str]:
    return ["espeak-ng", *ESPEAK_FLAGS, "-w", wav, text]


def trim(x: np.ndarray, sr: int) -> np.ndarray:
    """Cut leading/trailing silence, keeping MARGIN_S on each side."""
    frame = int(round(FRAME_S * sr))
    n_frames = len(x) // frame + (1 if len(x) % frame else 0)
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[: len(x)] = x
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    if rms.max() <= 0.0:
        raise RuntimeError("espeak-ng produced pure silence")
    voiced = np.flatnonzero(rms >= rms.max() * 10.0 ** (-TRIM_DB / 20.0))
    margin = int(round(MARGIN_S * sr))
    start = max(0, voiced[0] * frame - margin)
    end = min(len(x), (voiced[-1] + 1) * frame + margin)
    return x[start:end]


def flac_write(path: Path, x: np.ndarray, sr: int) -> None:
    try:
        sf.write(path, x, sr, subtype="PCM_16", format="FLAC", compression_level=FLAC_COMPRESSION)
    except TypeError:  # soundfile < 0.12 has no compression_level
        sf.write(path, x, sr, subtype="PCM_16", format="FLAC")


def synth_one(job: tuple[str, str, str]) -> tuple[str, int, int]:
    """Synthesize one sentence; returns (id, n_samples, flac bytes)."""
    utt_id, text, wav_dir = job
    with tempfile.TemporaryDirectory(prefix="demo_corpus_") as tmp:
        wav = os.path.join(tmp, "tmp.wav")
        subprocess.run(
            command_line(wav, text),
            check=True,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        # int16 in, int16 out: no float round trip, so the kept samples are exact.
        x, sr = sf.read(wav, dtype="int16", always_2d=False)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"{utt_id}: espeak-ng wrote {sr} Hz, expected {SAMPLE_RATE} Hz")
    if x.ndim != 1:
        raise RuntimeError(f"{utt_id}: expected mono, got shape {x.shape}")
    y = trim(x, sr)
    out = Path(wav_dir) / f"{utt_id}.flac"
    flac_write(out, y, sr)
    return utt_id, len(y), out.stat().st_size


def write_readme(
    version: str, n: int, seconds: float, n_bytes: int, dropped: int, n_sentences: int
) -> None:
    cmd = " ".join(command_line())
    dropped_note = (
        f"\n**Note:** only the first {n} of the {n_sentences} sentences in\n"
        f"`kokoro_nb/data/demo_sentences.txt` are included; the last {dropped}\n"
        f"(lines {n + 1}-{n_sentences}) were left out to keep this folder under 12 MB\n"
        "(the espeak-ng audio compresses to only about 24 kB per second of FLAC).\n"
        if dropped
        else ""
    )
    text = f"""# Demo corpus (bundled, synthetic)

A tiny corpus in the RUSLAN layout that ships inside `kokoro_nb`, so that a
newcomer can run the whole pipeline (data loading, alignment, training,
synthesis) in minutes without downloading RUSLAN.

* {n} Russian sentences, one clip each, {seconds / 60:.1f} minutes of audio in total
  ({n_bytes / 1e6:.1f} MB on disk).
* `wavs/<id>.flac` -- 22 050 Hz, mono, 16-bit PCM FLAC; ids are `000001_DEMO`,
  `000002_DEMO`, ...
* `metadata_RUSLAN_22200.csv` -- one line per clip, `id|text`, UTF-8, no header
  (same layout as RUSLAN's metadata file).
{dropped_note}
## Provenance

The sentences (`kokoro_nb/data/demo_sentences.txt`) were written for this
project; numbers are spelled out as words.

The audio was synthesized with **{version}** (Russian voice `ru`),
once per sentence, with

    {cmd}

then leading/trailing silence was trimmed (energy threshold {TRIM_DB:.0f} dB
below the loudest 10 ms frame, keeping {MARGIN_S:.1f} s margin at each end)
and the result saved as FLAC.

espeak-ng is GPL-3.0. It was only used to make these files; nothing in
`kokoro_nb` needs it at run time.

## Licence

MIT, like the rest of kokoro_nb.

## Regenerate

    apt-get update && apt-get install -y espeak-ng
    .venv/bin/python scripts/make_demo_corpus.py

The script is deterministic: the same espeak-ng version gives the same files.

## Caveat

This is a synthetic (formant) voice. It is good for seeing the pipeline align
and speak in minutes, not a substitute for RUSLAN: a model trained on it will
sound like espeak-ng at best.
"""
    (OUT_DIR / "README.md").write_text(text, encoding="utf-8")


def write_held_out(directory: Path, workers: int) -> None:
    """Synthesize the sentences the bundled corpus leaves out into a separate RUSLAN-layout
    corpus at `directory` (not shipped): sentences no demo model was trained on, with
    reference audio, for `python -m kokoro_nb evaluate --corpus DIRECTORY`."""
    sentences = [ln.strip() for ln in SENTENCES.read_text(encoding="utf-8").splitlines() if ln.strip()]
    bundled = {ln.split("|", 1)[1] for ln in
               (OUT_DIR / METADATA_NAME).read_text(encoding="utf-8").splitlines() if "|" in ln}
    jobs, lines = [], []
    wav_dir = directory / "wavs"
    wav_dir.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(sentences, start=1):
        if text not in bundled:
            utt_id = f"{i:06d}_DEMO"
            jobs.append((utt_id, text, str(wav_dir)))
            lines.append(f"{utt_id}|{text}\n")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(synth_one, jobs, chunksize=4))
    (directory / METADATA_NAME).write_text("".join(lines), encoding="utf-8")
    seconds = sum(n for _, n, _ in results) / SAMPLE_RATE
    print(f"held-out corpus: {len(results)} clips, {seconds / 60:.1f} min, in {directory}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--held-out", type=Path, default=None, metavar="DIR",
                    help="instead: write the sentences the bundled corpus leaves out, as a "
                         "separate corpus in DIR (for evaluation; not shipped)")
    args = ap.parse_args()
    if args.held_out is not None:
        write_held_out(args.held_out, args.workers)
        return

    t0 = time.perf_counter()
    version = espeak_version()
    sentences = [ln.strip() for ln in SENTENCES.read_text(encoding="utf-8").splitlines()]
    sentences = [s for s in sentences if s]
    for s in sentences:
        if "|" in s:
            raise ValueError(f"'|' not allowed in a sentence: {s!r}")

    wav_dir = OUT_DIR / "wavs"
    if wav_dir.exists():
        shutil.rmtree(wav_dir)
    wav_dir.mkdir(parents=True)

    ids = [f"{i:06d}_DEMO" for i in range(1, len(sentences) + 1)]
    jobs = [(utt_id, text, str(wav_dir)) for utt_id, text in zip(ids, sentences, strict=True)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(synth_one, jobs, chunksize=4))

    # Keep the longest prefix of the sentence list that fits in the size limit
    # (last resort; the synthesized audio itself is not squeezed further).
    lines = [
        f"{utt_id}|{text}\n".encode("utf-8") for utt_id, text in zip(ids, sentences, strict=True)
    ]
    used, keep = 0, 0
    for (_, _, n_bytes), line in zip(results, lines, strict=True):
        if used + n_bytes + len(line) > MAX_BYTES - RESERVE_BYTES:
            break
        used += n_bytes + len(line)
        keep += 1
    for utt_id, _, _ in results[keep:]:
        (wav_dir / f"{utt_id}.flac").unlink()
    dropped = len(results) - keep
    results = results[:keep]

    (OUT_DIR / METADATA_NAME).write_bytes(b"".join(lines[:keep]))

    durations = [n / SAMPLE_RATE for _, n, _ in results]
    seconds = sum(durations)
    flac_bytes = sum(b for _, _, b in results)
    write_readme(version, keep, seconds, 0, dropped, len(sentences))
    # second pass so the README states the real size of the files (README included)
    files_bytes = sum(p.stat().st_size for p in OUT_DIR.rglob("*") if p.is_file())
    write_readme(version, keep, seconds, files_bytes, dropped, len(sentences))
    files_bytes = sum(p.stat().st_size for p in OUT_DIR.rglob("*") if p.is_file())
    du_bytes = files_bytes + sum(
        p.stat().st_size for p in [OUT_DIR, *OUT_DIR.rglob("*")] if p.is_dir()
    )

    print(f"espeak-ng:  {version}")
    print(f"command:    {' '.join(command_line())}")
    print(
        f"clips:      {keep} of {len(sentences)} sentences"
        + (f" ({dropped} dropped from the end for the size limit)" if dropped else "")
    )
    print(
        f"duration:   {seconds:.1f} s ({seconds / 60:.2f} min); "
        f"min/median/max {min(durations):.2f}/{statistics.median(durations):.2f}/"
        f"{max(durations):.2f} s"
    )
    print(
        f"bytes:      {flac_bytes} in FLAC, {files_bytes} in files, "
        f"{du_bytes} with directory entries (du -sb)"
    )
    print(f"time:       {time.perf_counter() - t0:.1f} s")
    if du_bytes >= MAX_BYTES:
        sys.exit(f"folder is {du_bytes} bytes, over the {MAX_BYTES} byte limit")


if __name__ == "__main__":
    main()
