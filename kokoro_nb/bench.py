"""Benchmarks behind ``python -m kokoro_nb bench``: one JSON document, comparable across machines.

Each section warms up before timing and reports medians over repeats. Sections:

- ``g2p``: lexicon load time, `process_word` words/s uncached and cached.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import sys
import time
from typing import Callable

SECTIONS = ("g2p",)


def machine_info() -> dict:
    """Where the numbers were measured."""
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
    }
    if "torch" in sys.modules:  # only report torch when a section used it
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_g2p(n_words: int = 20_000, repeats: int = 5) -> dict:
    """Words per second for `RussianPhonemeProcessor.process_word`, uncached and cached.

    The words are the `n_words` most frequent forms of the built-in lexicon written the way
    running text writes them (ё as е), so lookups, ё restoration and all rules are exercised.
    """
    from .text import RussianPhonemeProcessor
    from .text.lexicon import load_stress_lexicon

    load_stress_lexicon.cache_clear()
    start = time.perf_counter()
    lexicon = load_stress_lexicon()
    lexicon_load_s = time.perf_counter() - start

    words = [w.replace("ё", "е") for w in itertools.islice(lexicon, n_words)]
    uncached = RussianPhonemeProcessor(cache_size=0)
    cached = RussianPhonemeProcessor()

    def run(processor):
        for word in words:
            processor.process_word(word)

    run(uncached)  # warm-up
    run(cached)    # fills the cache
    t_uncached = _median_seconds(lambda: run(uncached), repeats)
    t_cached = _median_seconds(lambda: run(cached), repeats)
    return {
        "lexicon_entries": len(lexicon),
        "lexicon_load_s": round(lexicon_load_s, 4),
        "words": len(words),
        "uncached_words_per_s": round(len(words) / t_uncached),
        "cached_words_per_s": round(len(words) / t_cached),
        "repeats": repeats,
    }


def run_bench(only: list[str] | None = None, device: str = "auto") -> dict:
    """Run the selected sections (all by default) and return one JSON-ready dict."""
    selected = list(only) if only else list(SECTIONS)
    unknown = set(selected) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown bench sections {sorted(unknown)}; known: {list(SECTIONS)}")
    result: dict = {"device_requested": device, "sections": selected}
    if "g2p" in selected:
        result["g2p"] = bench_g2p()
    result["machine"] = machine_info()
    return result
