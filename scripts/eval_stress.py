#!/usr/bin/env python3
"""Frequency-weighted Russian stress accuracy against espeak-ng (an independent reference).

Two reproducible dev lists (``word<TAB>syllable<TAB>frequency``; syllable =
0-based stressed vowel according to espeak-ng, frequency = wordfreq):

* ``scripts/data/stress_dev_common.tsv`` -- ~5000 words sampled from wordfreq
  ranks 1..50k with probability weighted by frequency (words of >= 2 vowels;
  monosyllables are trivially right for every method);
* ``scripts/data/stress_dev_rare.tsv`` -- ~5000 words from ranks 200k..300k
  that are NOT in the built-in lexicon (what the fallback sees).

Evaluate (standard library only; run from the repository root)::

    python scripts/eval_stress.py                      # RussianPhonemeProcessor
    python scripts/eval_stress.py --predictor lexicon  # lexicon + suffixes + penultimate
    python scripts/eval_stress.py --heuristic-choices  # the figures behind seed_heuristic_stress

The default predictor is ``kokoro_nb.text.RussianPhonemeProcessor().process_word(word)[1]``
whose ``.position`` is taken as the 0-based stressed vowel index (its ``.source``,
the stress tier, is used for the per-tier breakdown).

Rebuild the lists (needs wordfreq and espeak-ng; not needed to evaluate)::

    apt-get update && apt-get install -y espeak-ng
    /tmp/lexvenv/bin/python scripts/eval_stress.py --build-lists

espeak-ng is run as ``espeak-ng -v ru -q -x -f FILE`` with one ``word.`` per
line (one output line per word); in its phoneme output ``'`` precedes the
stressed vowel (or the ``j`` of an iotated vowel: ``'ja``).  Vowel phonemes are counted (``@-`` epenthetic schwa and
``I^`` soft-sign glide excluded); a word is dropped (and counted) when espeak
gives no or several primary stresses or a different number of vowels than the
spelling has.  The lists carry wordfreq data: CC-BY-SA 4.0.
"""
from __future__ import annotations

import argparse
import collections
import datetime as _dt
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from kokoro_nb.text import RussianPhonemeProcessor  # noqa: E402
from kokoro_nb.text.lexicon import (  # noqa: E402
    VOWELS,
    count_vowels,
    load_stress_lexicon,
    predict_stress_by_suffix,
)
from kokoro_nb.text.stress import (  # noqa: E402
    ADJECTIVE_ENDINGS,
    penultimate_stress,
    seed_heuristic_stress,
)

WORD_RE = re.compile(r"^[а-яё]+$")
DATA = os.path.join(REPO, "scripts", "data")
COMMON = os.path.join(DATA, "stress_dev_common.tsv")
ADJUDICATED = os.path.join(DATA, "stress_dev_adjudicated.tsv")
RARE = os.path.join(DATA, "stress_dev_rare.tsv")

ESPEAK_VOWELS = frozenset("aAeEiIoOuUyV@8")


def mark(word: str, syl) -> str:
    """говорить, 2 -> говорИть"""
    if syl is None:
        return word + "(?)"
    out, k = [], 0
    for c in word:
        if c in VOWELS:
            if k == syl:
                c = c.upper()
            k += 1
        out.append(c)
    return "".join(out)


# --------------------------------------------------------------------------
# espeak-ng reference
# --------------------------------------------------------------------------

def espeak_stress(phonemes: str):
    """Stressed vowel index from ``espeak-ng -x`` output, or a reason string."""
    ph = phonemes.strip()
    if ph.count("'") != 1:
        return f"stress marks: {ph.count(chr(39))}"
    idx = None
    count = 0
    i = 0
    while i < len(ph):
        c = ph[i]
        if c == "'":
            nxt = ph[i + 1:i + 3]
            if nxt[:1] == "j":     # iotated я/ю/е/ё: 'ja
                nxt = nxt[1:]
            if nxt[:1] not in ESPEAK_VOWELS:
                return "stress mark not before a vowel"
            idx = count
        elif c in ESPEAK_VOWELS:
            nxt = ph[i + 1] if i + 1 < len(ph) else ""
            if not ((c == "@" and nxt == "-") or (c == "I" and nxt == "^")):
                count += 1
        i += 1
    return idx, count


def run_espeak(words):
    """{word: syllable | reason} using one espeak-ng call per chunk."""
    result = {}
    chunk = 2000
    for start in range(0, len(words), chunk):
        part = words[start:start + chunk]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8",
                                         delete=False) as f:
            f.write("".join(w + ".\n" for w in part))
            name = f.name
        try:
            out = subprocess.run(["espeak-ng", "-v", "ru", "-q", "-x", "-f", name],
                                 capture_output=True, text=True, check=True).stdout
        finally:
            os.unlink(name)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        if len(lines) != len(part):    # fall back to one call per word
            lines = [subprocess.run(["espeak-ng", "-v", "ru", "-q", "-x", w],
                                    capture_output=True, text=True, check=False).stdout.strip()
                     for w in part]
        for w, ln in zip(part, lines, strict=True):
            r = espeak_stress(ln)
            if isinstance(r, str):
                result[w] = r
            else:
                idx, cnt = r
                n = count_vowels(w)
                result[w] = idx if cnt == n else f"vowel count {cnt} != {n}"
    return result


def build_lists(args) -> None:
    from importlib.metadata import version

    import wordfreq

    lex = load_stress_lexicon()
    ranked = wordfreq.top_n_list("ru", 300000, wordlist="large")
    espeak_version = subprocess.run(["espeak-ng", "--version"], capture_output=True,
                                    text=True, check=True).stdout.split("Data")[0].strip()
    date = args.date or _dt.date.today().isoformat()
    rng = random.Random(args.seed)

    def eligible(w):
        return WORD_RE.match(w) and count_vowels(w) >= 2

    # common: Efraimidis-Spirakis weighted sampling without replacement
    common_pool = [(w, wordfreq.word_frequency(w, "ru")) for w in ranked[:50000] if eligible(w)]
    keyed = sorted(((math.log(rng.random()) / f, w, f) for w, f in common_pool if f > 0),
                   reverse=True)
    common_order = [(w, f) for _, w, f in keyed]
    # rare: ranks 200k..300k, not in the lexicon (also not via ё-restoration)
    rare_pool = [w for w in ranked[200000:300000] if eligible(w) and lex.lookup(w) is None]
    rng.shuffle(rare_pool)
    rare_order = [(w, wordfreq.word_frequency(w, "ru")) for w in rare_pool]

    for path, order, desc in (
            (COMMON, common_order, "wordfreq ranks 1..50000, sampled weighted by frequency"),
            (RARE, rare_order, "wordfreq ranks 200000..300000, not in stress_lexicon, uniform sample")):
        t0 = time.perf_counter()
        kept, dropped = [], collections.Counter()
        pos = 0
        while len(kept) < args.size and pos < len(order):
            need = args.size - len(kept)
            batch = order[pos:pos + need + need // 10 + 10]
            pos += len(batch)
            ref = run_espeak([w for w, _ in batch])
            for w, f in batch:
                r = ref[w]
                if isinstance(r, str):
                    dropped[r.split(":")[0].split(" !=")[0]] += 1
                elif len(kept) < args.size:
                    kept.append((w, r, f))
        kept.sort(key=lambda x: (-x[2], x[0]))
        os.makedirs(DATA, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(f"# Russian stress dev list: {desc} (>= 2 vowels, lowercase Cyrillic)\n")
            fh.write("# word<TAB>syllable<TAB>frequency ; syllable = 0-based stressed vowel per "
                     f"espeak-ng ({espeak_version}, `espeak-ng -v ru -q -x`)\n")
            fh.write(f"# frequency: wordfreq {version('wordfreq')} word_frequency(word, 'ru');"
                     " wordfreq data CC-BY-SA 4.0\n")
            fh.write(f"# built by scripts/eval_stress.py --build-lists --seed {args.seed} on {date}; "
                     f"espeak output not mappable to one vowel: dropped {sum(dropped.values())} "
                     f"({', '.join(f'{k}: {v}' for k, v in sorted(dropped.items()))})\n")
            for w, s, f in kept:
                fh.write(f"{w}\t{s}\t{f:.4g}\n")
        print(f"{os.path.relpath(path, REPO)}: {len(kept)} words, dropped "
              f"{sum(dropped.values())} {dict(dropped)} ({time.perf_counter() - t0:.1f}s)")


# --------------------------------------------------------------------------
# predictors
# --------------------------------------------------------------------------

def make_lexicon_predictor():
    lex = load_stress_lexicon()

    def predict(word):
        e = lex.lookup(word)
        if e is not None:
            return e.syllable, ("lexicon" if e.spelling == word else "lexicon-yo")
        s = predict_stress_by_suffix(word)
        if s is not None:
            return s, "suffix"
        return penultimate_stress(word), "default-penultimate"
    return predict


def make_suffix_only_predictor():
    def predict(word):
        s = predict_stress_by_suffix(word)
        return (s, "suffix") if s is not None else (penultimate_stress(word), "default-penultimate")
    return predict


def make_processor_predictor():
    proc = RussianPhonemeProcessor()

    def predict(word):
        info = proc.process_word(word)[1]
        return info.position, info.source
    return predict


PREDICTORS = {
    "processor": make_processor_predictor,
    "lexicon": make_lexicon_predictor,
    "suffix": make_suffix_only_predictor,
}


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------

# Simple choices for the stressed syllable of a word of n syllables.
HEURISTIC_CHOICES = {
    "penultimate (n-2)": lambda n: n - 2,
    "third from the end (n-3)": lambda n: max(n - 3, 0),
    "fourth from the end (n-4)": lambda n: max(n - 4, 0),
}
HEURISTIC_ENDINGS = (("ный",), ADJECTIVE_ENDINGS, ("ный",) + ADJECTIVE_ENDINGS, ("ость", "есть"))


def heuristic_choices() -> None:
    """Share of the built-in lexicon's words (of >= 2 syllables) with an ending that each
    simple choice stresses right: the figures behind `seed_heuristic_stress`."""
    lexicon = load_stress_lexicon()
    for endings in HEURISTIC_ENDINGS:
        words = [(w, s, count_vowels(w)) for w, s in lexicon.items()
                 if w.endswith(endings) and count_vowels(w) >= 2]
        print(f"-{'/-'.join(endings)}: {len(words)} lexicon words of >= 2 syllables")
        for name, rule in HEURISTIC_CHOICES.items():
            print(f"  {name:28s} {sum(rule(n) == s for _, s, n in words) / len(words):.4f}")
        ok = sum(seed_heuristic_stress(w) == s for w, s, _ in words)
        print(f"  {'seed_heuristic_stress':28s} {ok / len(words):.4f}")


def read_list(path):
    items = []
    with open(path, encoding="utf-8") as f:
        for ln in f:
            if ln.startswith("#") or not ln.strip():
                continue
            w, s, fr = ln.rstrip("\n").split("\t")
            items.append((w, int(s), float(fr)))
    return items


def read_adjudication(path=ADJUDICATED):
    """word -> set of accepted syllables, from the hand adjudication of espeak's disagreements."""
    accepted = {}
    with open(path, encoding="utf-8") as f:
        for ln in f:
            if ln.startswith("#") or not ln.strip():
                continue
            w, syllables = ln.rstrip("\n").split("\t")[:2]
            accepted[w] = {int(x) for x in syllables.split(",")}
    return accepted


def evaluate(name, items, predict, show=0, accepted=None):
    """Accuracy of `predict` on (word, reference, frequency) items. With `accepted`
    (word -> syllables), those words count as right when the prediction is any of them."""
    accepted = accepted or {}
    ok_w = tot_w = 0.0
    ok = 0
    tiers = collections.defaultdict(lambda: [0, 0, 0.0, 0.0])  # n, ok, w, ok_w
    wrong = []
    for w, ref, fr in items:
        pred, tier = predict(w)
        good = pred in accepted[w] if w in accepted else pred == ref
        ok += good
        ok_w += fr * good
        tot_w += fr
        t = tiers[tier]
        t[0] += 1
        t[1] += good
        t[2] += fr
        t[3] += fr * good
        if not good:
            wrong.append((fr, w, ref, pred, tier))
    n = len(items)
    print(f"  {name:28s} weighted {ok_w / tot_w:.4f}  unweighted {ok / n:.4f}  (n={n})")
    if show:
        for tier, (tn, tok, tw, tokw) in sorted(tiers.items(), key=lambda kv: -kv[1][0]):
            print(f"      tier {tier:22s} n={tn:5d} ({tn / n:6.1%})  weighted "
                  f"{tokw / tw if tw else float('nan'):.4f}  unweighted {tok / tn:.4f}")
        wrong.sort(reverse=True)
        print(f"    {min(show, len(wrong))} most frequent disagreements (espeak vs predictor):")
        for fr, w, ref, pred, tier in wrong[:show]:
            print(f"      {fr:9.2e}  espeak {mark(w, ref):18s} predictor {mark(w, pred):18s} [{tier}]")
    return ok_w / tot_w, ok / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Russian stress accuracy vs espeak-ng")
    ap.add_argument("--predictor", choices=sorted(PREDICTORS), default="processor")
    ap.add_argument("--build-lists", action="store_true",
                    help="(re)build scripts/data/stress_dev_*.tsv with wordfreq + espeak-ng")
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--date")
    ap.add_argument("--top", type=int, default=20, help="disagreements to show")
    ap.add_argument("--raw", action="store_true",
                    help="score against espeak alone, without scripts/data/stress_dev_adjudicated.tsv")
    ap.add_argument("--heuristic-choices", action="store_true",
                    help="print how well simple rules stress the lexicon's -ный and -ость words")
    ap.add_argument("lists", nargs="*", help="dev lists (default: both built-in ones)")
    args = ap.parse_args(argv)
    if args.heuristic_choices:
        heuristic_choices()
        return 0
    if args.build_lists:
        build_lists(args)
    paths = args.lists or [COMMON, RARE]
    predict = PREDICTORS[args.predictor]()
    for path in paths:
        items = read_list(path)
        print(f"{os.path.relpath(path, REPO)} ({len(items)} words)")
        evaluate("baseline penultimate", items, lambda w: (penultimate_stress(w), "-"))
        evaluate("baseline seed heuristics", items, lambda w: (seed_heuristic_stress(w), "-"))
        evaluate(f"predictor {args.predictor} (espeak)", items, predict, show=0 if not args.raw else args.top)
        if not args.raw:
            adjudication = read_adjudication()
            evaluate(f"predictor {args.predictor} (adjudicated)", items, predict, show=args.top,
                     accepted=adjudication)
    return 0


if __name__ == "__main__":
    sys.exit(main())
