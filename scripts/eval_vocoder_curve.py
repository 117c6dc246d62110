#!/usr/bin/env python3
"""Copy-synthesis quality of a vocoder run's checkpoints, against Griffin-Lim.

For each ``vocoder_step_N.pth`` of a run (and its ``vocoder_final.pth``), the recordings
of a corpus (the first ``--limit`` clips) are vocoded from their own mels and scored with
`quality.py` (MCD with DTW, DNSMOS P.808 and OVRL, STOI); Griffin-Lim is scored at each
``--power``. Prints one JSON line per row, the training minutes of each checkpoint taken
from the run's metrics.jsonl. Needs the ``quality`` extra::

    python scripts/eval_vocoder_curve.py --run kokoro_demo_vocoder --corpus /tmp/heldout
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kokoro_nb.audio import load_audio, mel_spectrogram  # noqa: E402
from kokoro_nb.config import AudioConfig  # noqa: E402
from kokoro_nb.corpus import validate_corpus  # noqa: E402
from kokoro_nb.evaluation import griffin_lim_sweep, listen_to, mean_scores  # noqa: E402
from kokoro_nb.runlog import read_metrics  # noqa: E402
from kokoro_nb.vocoder import load_vocoder, vocode_mel  # noqa: E402
from kokoro_nb.vocoder_training import list_vocoder_checkpoints  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a train-vocoder output directory")
    parser.add_argument("--corpus", required=True, help="clips the vocoder never heard")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--power", type=float, action="append", default=None,
                        help="Griffin-Lim powers to score (repeatable; default 1.0 1.2 1.5)")
    args = parser.parse_args(argv)
    audio = AudioConfig()
    items = validate_corpus(args.corpus, audio, read_audio_data=False).items[:args.limit]
    clips = [load_audio(item.audio_path, audio)[0] for item in items]
    mels = [mel_spectrogram(clip, audio) for clip in clips]
    for row in griffin_lim_sweep(clips, audio, tuple(args.power or (1.0, 1.2, 1.5))):
        print(json.dumps({"rung": "griffin_lim"} | row), flush=True)
    elapsed = {r["step"]: r["elapsed_s"] for r in read_metrics(args.run) if "elapsed_s" in r}
    run = Path(args.run)
    for path in list_vocoder_checkpoints(run) + [run / "vocoder_final.pth"]:
        vocoder = load_vocoder(path)
        rows = [listen_to(clip, vocode_mel(mel, audio, vocoder), audio, True)
                for clip, mel in zip(clips, mels, strict=True)]
        step = int(path.stem.rpartition("_")[2]) if path.stem[-1].isdigit() else "final"
        minutes = round(elapsed[step] / 60, 1) if step in elapsed else None
        print(json.dumps({"rung": "vocoder", "checkpoint": path.name, "minutes": minutes}
                         | mean_scores(rows)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
