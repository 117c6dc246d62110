#!/usr/bin/env python3
"""Sentence-level accuracy of the Russian front end on three kinds of dev set.

* ``--homographs FILE``: ``sentence<TAB>target<TAB>stressed<TAB>occurrence[<TAB>yo|e]``,
  the target word in the sentence, the reading it needs with ``+`` before the stressed
  vowel (or ё), which occurrence of it is meant; for все the fifth field says всё (yo) or
  все (e). Scored: the stressed syllable the processor gives that token (for все: whether
  it reads [o]).
* ``--clitics FILE``: ``sentence<TAB>stressed clitics`` (space-separated, in order, or
  ``-``). Scored: every token in the clitic list (`phrase.PROCLITICS`, `phrase.ENCLITICS`)
  is unstressed unless listed, and each listed one is stressed.
* ``--normalization FILE``: ``input<TAB>expected``. Scored: ``normalize_text(input)`` equals
  the expected text (both lowercased, spaces collapsed).

Each set prints its accuracy, the same figure with the context pass off
(``context_stress=False``) where it applies, and its errors (``--errors``). Example::

    python scripts/eval_sentences.py --homographs tests/data/dev/homographs_dev.tsv --errors
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kokoro_nb.text import RussianPhonemeProcessor, normalize_text  # noqa: E402
from kokoro_nb.text.phonemes import with_rule  # noqa: E402
from kokoro_nb.text.phrase import ENCLITICS, PROCLITICS  # noqa: E402
from kokoro_nb.text.stress import split_stress_marks, yo_stress  # noqa: E402


def read_rows(path: str, fields: int) -> list[list[str]]:
    rows = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        row = line.split("\t")
        if len(row) < fields:
            raise SystemExit(f"{path}:{lineno}: expected {fields} tab-separated fields")
        rows.append(row)
    return rows


def homograph_correct(processor: RussianPhonemeProcessor, row: list[str]) -> tuple[bool, str]:
    sentence, target, stressed, occurrence = row[:4]
    words = [(w, p, s) for w, p, s in processor.process_text(sentence)
             if w.replace("ё", "е") == target.replace("ё", "е")]
    index = int(occurrence or 1) - 1
    if index >= len(words):
        return False, "target not found"
    _, phonemes, info = words[index]
    if target == "все" and len(row) > 4:
        said = "всё" if "o" in phonemes else "все"
        return said == ("всё" if row[4].strip() == "yo" else "все"), said
    letters, syllable = split_stress_marks(stressed)
    expected = syllable if syllable is not None else yo_stress(letters)
    marked = "".join(phonemes) + f" (syllable {info.position}, {info.source})"
    return info.position == expected, marked


def clitics_correct(processor: RussianPhonemeProcessor, row: list[str]) -> tuple[int, int, list[str]]:
    expected = [] if row[1].strip() in ("-", "") else row[1].split()
    right = total = 0
    errors = []
    for word, _, info in processor.process_text(row[0]):
        if word not in PROCLITICS and word not in ENCLITICS:
            continue
        should = bool(expected) and expected[0] == word
        if should:
            expected.pop(0)
        stressed = info.position >= 0
        total += 1
        right += stressed == should
        if stressed != should:
            errors.append(f"{word} {'stressed' if stressed else 'unstressed'}")
    return right, total, errors


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--homographs", action="append", default=[])
    parser.add_argument("--clitics", action="append", default=[])
    parser.add_argument("--normalization", action="append", default=[])
    parser.add_argument("--errors", action="store_true", help="print every error")
    args = parser.parse_args(argv)
    processor = RussianPhonemeProcessor()
    word_level = RussianPhonemeProcessor(rules=with_rule(processor.rules, context_stress=False))
    for path in args.homographs:
        rows = read_rows(path, 4)
        results = [homograph_correct(processor, row) for row in rows]
        baseline = sum(homograph_correct(word_level, row)[0] for row in rows)
        right = sum(ok for ok, _ in results)
        print(f"{path}: homographs {right}/{len(rows)} = {right / len(rows):.1%} "
              f"(context off: {baseline}/{len(rows)} = {baseline / len(rows):.1%})")
        if args.errors:
            for row, (ok, said) in zip(rows, results, strict=True):
                if not ok:
                    print(f"  {row[2]:<12} got {said:<30} {row[0]}")
    for path in args.clitics:
        rows = read_rows(path, 2)
        right = total = 0
        for row in rows:
            r, t, errors = clitics_correct(processor, row)
            right, total = right + r, total + t
            if args.errors and errors:
                print(f"  {', '.join(errors):<30} {row[0]}")
        print(f"{path}: clitic tokens {right}/{total} = {right / max(total, 1):.1%}")
    for path in args.normalization:
        rows = read_rows(path, 2)
        right = 0
        for source, expected in rows:
            got = normalize_text(source)
            right += _flat(got) == _flat(expected)
            if args.errors and _flat(got) != _flat(expected):
                print(f"  {source!r}\n    got      {got!r}\n    expected {expected!r}")
        print(f"{path}: normalization {right}/{len(rows)} = {right / len(rows):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
