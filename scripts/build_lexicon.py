#!/usr/bin/env python3
"""Build the built-in Russian stress lexicon and its suffix fallback table.

OFFLINE generator; nothing here runs at TTS time.  Outputs (both committed):

* ``kokoro_nb/text/data/stress_lexicon.tsv.gz`` -- ``word<TAB>syllable`` (0-based
  index of the stressed vowel among the word's vowels), one line per word form,
  most frequent first, ``#`` header lines with provenance.
* ``kokoro_nb/text/data/stress_suffixes.tsv`` -- suffix -> stressed vowel counted
  from the END of the word, learned from the lexicon (pure Python stage).

Sources
-------
* word list: wordfreq 3.1.1 (code Apache-2.0; data CC-BY-SA 4.0),
  ``wordfreq.top_n_list('ru', N, wordlist='large')``;
* stress and ё: silero-stress 1.5 (MIT), whose Russian model and dictionaries
  ship inside the PyPI wheel (no network access at run time).

Environment (throw-away, outside the repository)::

    python3 -m venv /tmp/lexvenv
    /tmp/lexvenv/bin/pip install torch==2.13.0 silero-stress==1.5 wordfreq==3.1.1

Usage (from the repository root)::

    /tmp/lexvenv/bin/python scripts/build_lexicon.py            # both stages
    /tmp/lexvenv/bin/python scripts/build_lexicon.py --stage suffixes
        # (suffix stage only needs the lexicon file and the standard library;
        #  wordfreq, when importable, adds frequency-weighted numbers)

How silero is applied
---------------------
``silero_stress.load_accentor()`` returns a pipeline of (1) a BERT homograph
solver that only acts on the ~2.2k words of its homograph dictionary and needs
sentence context, and (2) ``AccentorNgram``, a context-free char-n-gram model
plus an exception dictionary, which also restores ё (only when the ё coincides
with the predicted stress).  For isolated words we call component (2) exactly
as the pipeline does (``accentor.accentor(sentence)``, words batched into one
space-separated "sentence"; batching does not change its output), which is
what ``load_accentor()(word)`` returns for every non-homograph word.

Homographs (words in the homograph dictionary):
* the spelling variants written like the word itself (``все`` for ``вс+е`` /
  ``вс+ё``) all carry the same stress -> that stress is recorded under the
  word's own spelling; the ё variants are added as their own entries
  (``всё``, ``берёг``) so ``все``/``всё`` stay distinct;
* the е-spelling variants disagree (``з+амок``/``зам+ок``, ``уж+е``/``+уже``):
  with ``--homographs dominant`` (default) the context-free accentor's choice
  (its exception dictionary or model, i.e. the reading silero gives the bare
  word without the context solver) is kept when it is one of the dictionary's
  variants; otherwise, and for every such word with ``--homographs skip``, the
  word is skipped and counted.  The BERT solver is not used: given a single
  word without context it is worse than the context-free model (``+уже``).

Skipped and counted: words silero leaves unstressed (model probability <= 0.5),
words with several stress marks (several ё; hyphenated parts), ambiguous
homographs as above.  Output is deterministic (fixed batches, one torch thread,
gzip mtime 0); only the ``# generated:`` date line changes (``--date``).
"""
from __future__ import annotations

import argparse
import collections
import datetime as _dt
import gzip
import io
import os
import re
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from kokoro_nb.text.lexicon import (  # noqa: E402
    StressLexicon,
    count_vowels,
    predict_stress_by_suffix,
)
from kokoro_nb.text.stress import penultimate_stress, seed_heuristic_stress  # noqa: E402

WORD_RE = re.compile(r"^[а-яё]+(?:-[а-яё]+)?$")
DATA_DIR = os.path.join(REPO, "kokoro_nb", "text", "data")
LEXICON_PATH = os.path.join(DATA_DIR, "stress_lexicon.tsv.gz")
SUFFIX_PATH = os.path.join(DATA_DIR, "stress_suffixes.tsv")

ENV_CMD = ("python3 -m venv /tmp/lexvenv && /tmp/lexvenv/bin/pip install "
           "torch==2.13.0 silero-stress==1.5 wordfreq==3.1.1")


def stressed_index(marked: str) -> int:
    """0-based vowel index of the vowel following the single '+'."""
    i = marked.index("+")
    return count_vowels(marked[:i])


# --------------------------------------------------------------------------
# Stage 1: lexicon (needs torch + silero-stress + wordfreq)
# --------------------------------------------------------------------------

def build_lexicon(args) -> None:
    from importlib.metadata import version

    import torch  # noqa: F401  (imported for version reporting)
    import wordfreq
    from silero_stress import load_accentor

    t0 = time.perf_counter()
    pipeline = load_accentor("ru")
    accentor = pipeline.accentor            # AccentorNgram: exceptions + model
    homodict = pipeline.homosolver.homodict  # word -> ['з+амок', 'зам+ок']
    t_load = time.perf_counter() - t0

    words = wordfreq.top_n_list("ru", args.top_n, wordlist="large")
    counts = collections.Counter()
    cand = []
    for w in words:
        if not WORD_RE.match(w):
            counts["filtered_not_cyrillic_lowercase"] += 1
        elif count_vowels(w) == 0:
            counts["filtered_no_vowel"] += 1
        else:
            cand.append(w)
    counts["candidates"] = len(cand)

    # Context-free silero accentor, batched (verified batch-invariant).
    t1 = time.perf_counter()
    marked = []
    bs = args.batch_size
    for i in range(0, len(cand), bs):
        batch = cand[i:i + bs]
        out = accentor(" ".join(batch)).split(" ")
        if len(out) != len(batch):
            raise RuntimeError(f"silero token mismatch in batch {i}")
        marked.extend(out)
        if args.verbose and (i // bs) % 40 == 0:
            print(f"  {i + len(batch)}/{len(cand)} words "
                  f"{time.perf_counter() - t1:.1f}s", flush=True)
    t_model = time.perf_counter() - t1

    entries: dict[str, int] = {}   # spelling -> syllable, insertion = rank order
    skipped_examples = collections.defaultdict(list)

    def skip(reason: str, w: str) -> None:
        counts["skipped_" + reason] += 1
        if len(skipped_examples[reason]) < 15:
            skipped_examples[reason].append(w)

    def add(spelling: str, syl: int, source: str) -> None:
        old = entries.get(spelling)
        if old is None:
            entries[spelling] = syl
            counts["kept_" + source] += 1
        elif old == syl:
            counts["duplicate_same"] += 1          # e.g. "еще" then "ещё"
        else:
            counts["duplicate_conflict_first_kept"] += 1

    for w, m in zip(cand, marked, strict=True):
        spelling = m.replace("+", "")
        n_plus = m.count("+")
        if len(spelling) != len(w) or any(
                a != b and not (a == "е" and b == "ё") for a, b in zip(w, spelling, strict=True)):
            raise RuntimeError(f"unexpected silero output {w!r} -> {m!r}")
        if w in homodict:
            variants = [v.lower() for v in homodict[w]]
            e_vars = {stressed_index(v) for v in variants
                      if v.replace("+", "") == w and v.count("+") == 1}
            yo_vars = [v for v in variants
                       if v.replace("+", "") != w and v.count("+") == 1]
            if len(e_vars) == 1:
                add(w, next(iter(e_vars)), "homograph_same_stress")
            elif len(e_vars) > 1:
                if (args.homographs == "dominant" and n_plus == 1
                        and spelling == w and stressed_index(m) in e_vars):
                    add(w, stressed_index(m), "homograph_context_free")
                else:
                    skip("homograph_ambiguous", w)
            else:
                skip("homograph_no_plain_variant", w)
            for v in yo_vars:      # ё-spellings are distinct words: всё, берёг
                add(v.replace("+", ""), stressed_index(v), "homograph_yo_variant")
            continue
        if n_plus == 0:
            skip("unstressed", w)
        elif n_plus > 1:
            skip("several_stresses", w)
        else:
            add(spelling, stressed_index(m), "yo_restored" if spelling != w else "model")

    counts["lexicon_entries"] = len(entries)
    t_total = time.perf_counter() - t0

    date = args.date or _dt.date.today().isoformat()
    versions = {p: version(p) for p in ("silero-stress", "wordfreq", "torch")}
    words_src = (f"# words: wordfreq {versions['wordfreq']} top_n_list('ru', {args.top_n},"
                 " wordlist='large'), lowercase Cyrillic with a vowel")
    licence = ("#   wordfreq code: Apache-2.0; wordfreq data: CC-BY-SA 4.0 (Robyn Speer, wordfreq;"
               " sources incl. Wikipedia, OpenSubtitles 2018, Google Books Ngrams, NewsCrawl,"
               " Twitter)")
    stress_src = (f"# stress: silero-stress {versions['silero-stress']} (MIT, Silero Team),"
                  f" context-free accentor, homographs={args.homographs};"
                  f" torch {versions['torch']}")
    command = ("# command: /tmp/lexvenv/bin/python scripts/build_lexicon.py"
               + ("" if args.top_n == 200000 else f" --top-n {args.top_n}")
               + ("" if args.homographs == "dominant" else f" --homographs {args.homographs}"))
    word_line = ("# word = lowercase correct spelling (ё restored where silero restores it);"
                 " most frequent first")
    header = [
        "# Russian stress lexicon for kokoro_nb: word<TAB>syllable",
        "# syllable = 0-based index of the stressed vowel among the word's vowels (аеёиоуыэюя)",
        word_line,
        words_src,
        licence,
        stress_src,
        "# this file: CC-BY-SA 4.0 (derived from wordfreq data); see LEXICON.md",
        f"# environment: {ENV_CMD}",
        command,
        f"# generated: {date}; entries: {len(entries)}",
    ]
    buf = io.StringIO()
    buf.write("\n".join(header) + "\n")
    for w, s in entries.items():
        buf.write(f"{w}\t{s}\n")
    os.makedirs(DATA_DIR, exist_ok=True)
    with open(LEXICON_PATH, "wb") as raw, gzip.GzipFile(
            filename="stress_lexicon.tsv", mode="wb", fileobj=raw, compresslevel=9,
            mtime=0) as gz:
        gz.write(buf.getvalue().encode("utf-8"))

    print(f"silero load {t_load:.1f}s, accentor {t_model:.1f}s "
          f"({len(cand) / max(t_model, 1e-9):.0f} words/s), total {t_total:.1f}s")
    for k in sorted(counts):
        print(f"  {k:40s} {counts[k]}")
    for k, ex in skipped_examples.items():
        print(f"  e.g. {k}: {' '.join(ex)}")
    print(f"wrote {LEXICON_PATH} ({os.path.getsize(LEXICON_PATH)} bytes)")


# --------------------------------------------------------------------------
# Stage 2: suffix table (standard library only)
# --------------------------------------------------------------------------

def read_lexicon(path: str = LEXICON_PATH) -> list[tuple[str, int]]:
    """(word, syllable) pairs of the lexicon file, most frequent first."""
    return list(StressLexicon.from_file(path).items())


def fold(word: str) -> str:
    return word.replace("ё", "е")


def from_end(word: str, syl: int) -> int:
    return count_vowels(word) - 1 - syl


def suffix_stats(train, min_len=2, max_len=7):
    """{ё-folded suffix: Counter(pos_from_end -> number of training words)}."""
    stats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for w, syl in train:
        fe = from_end(w, syl)
        w = fold(w)
        for k in range(min_len, min(max_len, len(w) - 1) + 1):
            stats[w[-k:]][fe] += 1
    return stats


def learn_suffixes(train, min_len=2, max_len=6, min_support=20, min_purity=0.6,
                   min_gain=0, stats=None):
    """train: (word, syllable) pairs.  Returns {suffix: (pos_from_end, support, purity)}.

    Learned on ё-folded spellings (running text rarely writes ё), so that
    e.g. "-енок" learns the stress of "-ёнок".  Kept suffixes need
    ``support`` >= min_support and ``purity`` >= min_purity, and must change
    the answer of the longest kept shorter suffix (otherwise they are
    redundant: the shorter suffix already predicts the same thing) and fix at
    least ``min_gain`` more training words than that shorter suffix does.
    """
    if stats is None:
        stats = suffix_stats(train, min_len, max_len)
    table: dict[str, tuple[int, int, float]] = {}
    for suf in sorted(stats, key=lambda s: (len(s), s[::-1])):
        if not min_len <= len(suf) <= max_len:
            continue
        c = stats[suf]
        support = sum(c.values())
        if support < min_support:
            continue
        pos, n = max(c.items(), key=lambda kv: (kv[1], -kv[0]))
        purity = n / support
        if purity < min_purity:
            continue
        parent = None
        for k in range(len(suf) - 1, min_len - 1, -1):
            if suf[-k:] in table:
                parent = table[suf[-k:]]
                break
        if parent is not None:
            if parent[0] == pos:
                continue
            if n - c.get(parent[0], 0) < min_gain:
                continue
        table[suf] = (pos, support, round(purity, 3))
    return table


def lookup_table(table, max_len):
    """A learned ``{suffix: (pos_from_end, support, purity)}`` table in the form
    ``predict_stress_by_suffix(word, suffix_table)`` takes."""
    return {suffix: entry[0] for suffix, entry in table.items()}, max_len


def accuracy(pred_fn, items, weights=None):
    ok = tot = 0.0
    for i, (w, syl) in enumerate(items):
        wt = 1.0 if weights is None else weights[i]
        p = pred_fn(w)
        if p is None:
            p = penultimate_stress(w)
        tot += wt
        ok += wt * (p == syl)
    return ok / tot if tot else float("nan")


def build_suffixes(args) -> None:
    t0 = time.perf_counter()
    lex = read_lexicon()
    print(f"lexicon: {len(lex)} entries ({time.perf_counter() - t0:.2f}s)")
    try:
        import wordfreq

        def freq(w):
            return wordfreq.word_frequency(w, "ru")
    except ImportError:
        freq = None
    split = args.split_rank
    train, test = lex[:split], lex[split:]
    # polysyllabic only: 1-vowel words are trivial for every method
    test = [(w, s) for w, s in test if count_vowels(w) > 1]
    weights = ([freq(w) + (freq(fold(w)) if "ё" in w else 0.0) for w, _ in test]
               if freq else None)
    print(f"held-out: learn on ranks < {split} ({len(train)}), test on "
          f"{len(test)} rarer polysyllabic lexicon words")

    def report(name, fn):
        a = accuracy(fn, test)
        aw = accuracy(fn, test, weights) if weights else float("nan")
        print(f"  {name:44s} type {a:.4f}  freq-weighted {aw:.4f}")
        return a

    report("baseline penultimate", penultimate_stress)
    report("baseline seed heuristics", seed_heuristic_stress)
    grid = [(ml, ms, mp, mg)
            for ml in (5, 6, 7, 8)
            for ms in (2, 5, 20)
            for mp in (0.0, 0.5, 0.8)
            for mg in (0, 2, 5)]
    results = []
    stats = suffix_stats(train, max_len=8)
    for ml, ms, mp, mg in grid:
        tab = learn_suffixes(train, max_len=ml, min_support=ms, min_purity=mp,
                             min_gain=mg, stats=stats)
        suffixes = lookup_table(tab, ml)
        a = accuracy(lambda w, suffixes=suffixes: predict_stress_by_suffix(w, suffixes), test)
        results.append((a, -len(tab), ml, ms, mp, mg, len(tab)))
    results.sort(reverse=True)
    for a, _, ml, ms, mp, mg, n in results:
        if (ml, ms, mp, mg) == (6, 20, 0.8, 0):
            print(f"  e.g. len<=6 sup>=20 pur>=0.8 (no gain rule): type {a:.4f}, {n} suffixes")
    print("  top settings (type accuracy, table size, max_len, min_support, min_purity, min_gain):")
    for a, _, ml, ms, mp, mg, n in results[:8]:
        print(f"    {a:.4f}  {n:6d}  len<={ml} sup>={ms} pur>={mp} gain>={mg}")
    # choose: within 0.002 of the best, the smallest table
    top = results[0][0]
    chosen = min((r for r in results if r[0] >= top - 0.002), key=lambda r: r[6])
    _, _, ml, ms, mp, mg, _ = chosen
    tab = learn_suffixes(train, max_len=ml, min_support=ms, min_purity=mp, min_gain=mg,
                         stats=stats)
    suffixes = lookup_table(tab, ml)
    report(f"suffix table len<={ml} sup>={ms} pur>={mp} gain>={mg} ({len(tab)})",
           lambda w: predict_stress_by_suffix(w, suffixes))
    cov = sum(predict_stress_by_suffix(w, suffixes) is not None for w, _ in test) / len(test)
    print(f"  coverage of the table on held-out words: {cov:.4f}")
    if args.fixed:
        ml, ms, mp, mg = args.fixed
        ml, ms, mg = int(ml), int(ms), int(mg)
    # final table on the whole lexicon
    final = learn_suffixes(lex, max_len=ml, min_support=ms, min_purity=mp, min_gain=mg)
    lines = [
        "# Suffix stress fallback for words NOT in stress_lexicon.tsv.gz (kokoro_nb.text.lexicon)",
        "# suffix<TAB>pos_from_end<TAB>support<TAB>purity",
        "# pos_from_end: stressed vowel counted from the END (0 = last vowel); longest matching suffix wins",
        "# suffixes are ё-folded (е); words containing ё are stressed on the (last) ё instead",
        f"# learned from all {len(lex)} lexicon entries by scripts/build_lexicon.py --stage suffixes",
        (f"# params: max_len={ml} min_support={ms} min_purity={mp} min_gain={mg}"
         " (tuned on held-out rare lexicon words, see LEXICON.md)"),
        "# derived from stress_lexicon.tsv.gz: CC-BY-SA 4.0 (wordfreq data) / silero-stress (MIT)",
    ]
    for suf in sorted(final, key=lambda s: (s[::-1])):
        pos, sup, pur = final[suf]
        lines.append(f"{suf}\t{pos}\t{sup}\t{pur}")
    with open(SUFFIX_PATH, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {SUFFIX_PATH}: {len(final)} suffixes "
          f"({os.path.getsize(SUFFIX_PATH)} bytes), {time.perf_counter() - t0:.1f}s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", choices=("all", "lexicon", "suffixes"), default="all")
    ap.add_argument("--top-n", type=int, default=200000,
                    help="wordfreq ranks to take (default 200000)")
    ap.add_argument("--homographs", choices=("dominant", "skip"), default="dominant")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--split-rank", type=int, default=100000,
                    help="suffix tuning: learn on lexicon lines before this, test after")
    ap.add_argument("--fixed", nargs=4, metavar=("MAX_LEN", "MIN_SUP", "MIN_PUR", "MIN_GAIN"),
                    type=float, help="use these suffix parameters instead of the tuned ones")
    ap.add_argument("--date", help="date for the header (default: today)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.stage in ("all", "lexicon"):
        build_lexicon(args)
    if args.stage in ("all", "suffixes"):
        build_suffixes(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
