#!/usr/bin/env python3
"""How close each phoneme preset's unstressed vowels are to an independent transcription.

The reference is espeak-ng's Russian IPA (``espeak-ng -v ru -q --ipa``) of the first N
words of ``scripts/data/stress_dev_common.tsv`` (frequency-sampled common words). Vowels
are compared by quality class (open а ɐ ʌ, schwa ə, high и ɪ ɨ е, u, o), only in words
whose vowel count matches and only away from the stress. Needs espeak-ng
(``apt-get install espeak-ng``)::

    python scripts/eval_reduction.py            # 3,000 words, every preset
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kokoro_nb.text import PRESETS, RussianPhonemeProcessor  # noqa: E402

ESPEAK_VOWELS = "aʌɐəɪiɨyeɛoɔuʊæ"
OUR_VOWELS = frozenset({"a", "o", "u", "ɨ", "e", "i", "ə", "ɪ", "ɐ", "ʊ"})


def quality(vowel: str) -> str:
    if vowel in "aʌɐæ":
        return "open"
    if vowel == "ə":
        return "schwa"
    if vowel in "ɪiɨye":
        return "high"
    return "u" if vowel in "uʊ" else "o"


def espeak(words: list[str]) -> list[str]:
    done = subprocess.run(["espeak-ng", "-v", "ru", "-q", "--ipa"], check=True, text=True,
                          input="\n".join(word + "." for word in words), capture_output=True)
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if len(lines) != len(words):
        raise SystemExit(f"espeak-ng gave {len(lines)} lines for {len(words)} words")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=3000)
    args = parser.parse_args(argv)
    rows = [line.split("\t") for line in
            (ROOT / "scripts/data/stress_dev_common.tsv").read_text("utf-8").splitlines()
            if line and not line.startswith("#")]
    words = [row[0] for row in rows[:args.words]]
    reference = [[ch for ch in ipa if ch in ESPEAK_VOWELS] for ipa in espeak(words)]
    for name in PRESETS:
        processor = RussianPhonemeProcessor(rules=name)
        agree = total = 0
        for word, theirs in zip(words, reference, strict=True):
            phonemes, info = processor.process_word(word)
            ours = [p for p in phonemes if p in OUR_VOWELS]
            if len(ours) != len(theirs):
                continue
            for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                if k != info.position:
                    total += 1
                    agree += quality(a) == quality(b)
        print(f"{name:<10} unstressed vowels of the same quality as espeak-ng's: "
              f"{agree}/{total} = {agree / max(total, 1):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
