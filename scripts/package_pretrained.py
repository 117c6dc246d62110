"""Package the course's pretrained demo model (``kokoro_nb/data/pretrained/``).

The notebooks play speech and show a trained alignment before the learner has trained
anything: they load ``demo_model.pth``, a demo-preset model trained on the bundled demo
corpus by ``python -m kokoro_nb demo`` (15 CPU minutes). This script makes that file from
the demo run's final model and records where it came from and how it scores::

    python -m kokoro_nb demo --output kokoro_demo_model          # or --train below
    python scripts/make_demo_corpus.py --held-out /tmp/heldout    # 72 held-out sentences
    python scripts/package_pretrained.py --run kokoro_demo_model --held-out /tmp/heldout

Weights are stored in float16 (half the size; they are widened back to float32 on load),
except the mel statistics, and the figures in ``demo_model.json`` are those of the packaged
file itself: `evaluation.evaluate_checkpoint` on the held-out corpus.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kokoro_nb.checkpoints import FINAL_NAME, atomic_torch_save  # noqa: E402
from kokoro_nb.course import PRETRAINED_DIR  # noqa: E402
from kokoro_nb.evaluation import evaluate_checkpoint  # noqa: E402
from kokoro_nb.runlog import read_metrics  # noqa: E402
from kokoro_nb.text.phonemes import G2P_VERSION  # noqa: E402

KEEP_FLOAT32 = ("mel_mean", "mel_std")


def half_precision(state: dict) -> dict:
    """The checkpoint with its float32 weights (not the mel statistics) in float16."""
    weights = {name: value.half() if value.dtype == torch.float32 and name not in KEEP_FLOAT32
               else value for name, value in state["model"].items()}
    return state | {"model": weights}


def trained_minutes(run: Path) -> float | None:
    records = [r for r in read_metrics(run) if r.get("type") == "train" and "seconds" in r]
    return round(sum(r["seconds"] for r in records) / 60, 1) if records else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="kokoro_demo_model", help="the demo run's directory")
    parser.add_argument("--train", action="store_true",
                        help="first train it: python -m kokoro_nb demo --output RUN")
    parser.add_argument("--held-out", required=True, help="held-out corpus to score it on")
    args = parser.parse_args()
    run = Path(args.run)
    if args.train:
        subprocess.run([sys.executable, "-m", "kokoro_nb", "demo", "--output", str(run),
                        "--no-progress"], check=True, cwd=ROOT)
    state = torch.load(run / FINAL_NAME, map_location="cpu", weights_only=True)
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    target = atomic_torch_save(half_precision(state), PRETRAINED_DIR / "demo_model.pth")
    scores = evaluate_checkpoint(target, args.held_out)
    card = {
        "file": target.name,
        "made_by": "python -m kokoro_nb demo (15 minutes on a 2-core CPU), then "
                   "scripts/package_pretrained.py",
        "preset": state["train_config"]["preset"],
        "corpus": "the bundled demo corpus (228 sentences; 72 more are held out)",
        "epoch": state["epoch"], "global_step": state["global_step"],
        "minutes_in_training_steps": trained_minutes(run),
        "g2p_version_when_packaged": G2P_VERSION,
        "weights": "float16 (mel statistics float32)",
        "bytes": target.stat().st_size,
        "held_out": {key: scores[key] for key in ("items", "teacher_forced", "free_running")},
        "held_out_corpus": "scripts/make_demo_corpus.py --held-out DIR",
    }
    (PRETRAINED_DIR / "demo_model.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(card, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
