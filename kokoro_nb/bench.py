"""Benchmarks behind ``python -m kokoro_nb bench``: one JSON document, comparable across machines.

Each section warms up before timing and reports medians over repeats. Sections:

- ``g2p``: lexicon load time, `process_word` words/s uncached and cached.
- ``features``: mel extraction speed (seconds of audio per second) and one epoch of data
  loading over the demo corpus, cold (empty feature cache) and cached.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import sys
import time
from typing import Callable

SECTIONS = ("g2p", "features")


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


def bench_features(repeats: int = 3) -> dict:
    """Mel extraction speed and a cold vs cached data epoch over the demo corpus (CPU)."""
    import tempfile

    import torch

    from .audio import load_audio, mel_spectrogram
    from .config import AudioConfig
    from .corpus import TTSDataset, demo_corpus_dir, validate_corpus
    from .text import RussianPhonemeProcessor

    config = AudioConfig()
    processor = RussianPhonemeProcessor()
    report = validate_corpus(demo_corpus_dir(), config, processor)
    waves = [load_audio(item.audio_path, config)[0] for item in report.items]
    audio_seconds = sum(w.shape[-1] for w in waves) / config.sample_rate

    def extract():
        for wave in waves:
            mel_spectrogram(wave, config)

    extract()  # warm-up (builds the filterbank)
    t_mel = _median_seconds(extract, repeats)

    def epoch(dataset):
        for i in range(len(dataset)):
            dataset[i]

    with tempfile.TemporaryDirectory() as cache_dir:
        cold = TTSDataset(report.items, processor, config, cache_dir=cache_dir)
        start = time.perf_counter()
        epoch(cold)
        t_cold = time.perf_counter() - start
        cached = TTSDataset(report.items, processor, config, cache_dir=cache_dir)
        t_cached = _median_seconds(lambda: epoch(cached), repeats)
    return {
        "clips": len(report.items),
        "audio_seconds": round(audio_seconds, 1),
        "mel_audio_seconds_per_s": round(audio_seconds / t_mel, 1),
        "epoch_cold_s": round(t_cold, 3),
        "epoch_cached_s": round(t_cached, 3),
        "cached_over_cold": round(t_cached / t_cold, 4),
        "torch_threads": torch.get_num_threads(),
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
    if "features" in selected:
        result["features"] = bench_features()
    result["machine"] = machine_info()
    return result
