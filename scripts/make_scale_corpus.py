#!/usr/bin/env python3
"""Build a RUSLAN-sized corpus from the bundled demo corpus, to check startup at scale.

The 228 demo clips are hard-linked (copied where links cannot go) under 22,200 distinct ids,
each with its clip's text, so the corpus costs almost no disk; four items are broken on
purpose (a missing clip, an empty wav, a malformed metadata line, a clip too long to train
on), as a real corpus has. ``python -m kokoro_nb bench --only startup`` builds one itself;
this script leaves one where you can point ``preprocess``, ``inspect`` or ``train`` at it::

    .venv/bin/python scripts/make_scale_corpus.py /tmp/scale_corpus
    .venv/bin/python -m kokoro_nb preprocess --corpus /tmp/scale_corpus --cache-dir /tmp/scale_cache

Usage: ``make_scale_corpus.py OUT [--items 22200]`` (OUT must not exist yet).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kokoro_nb.bench import make_scale_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="directory to create (must not exist)")
    parser.add_argument("--items", type=int, default=22_200,
                        help="metadata lines, broken ones included (default 22200, RUSLAN's)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        print(f"error: {out} already exists; choose a new directory", file=sys.stderr)
        return 2
    start = time.perf_counter()
    made = make_scale_corpus(out, args.items)
    print(f"{out}: {made['lines']} metadata lines ({', '.join(made['broken'])} broken on purpose); "
          f"{made['linked']} clips hard-linked, {made['copied']} copied, "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
