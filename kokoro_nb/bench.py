"""Benchmarks behind ``python -m kokoro_nb bench``: one JSON document, comparable across machines.

Each section warms up before timing and reports medians over repeats. Sections:

- ``g2p``: lexicon load time, `process_word` words/s uncached and cached.
- ``features``: mel extraction speed (seconds of audio per second) and one epoch of data
  loading over the demo corpus, cold (empty feature cache) and cached.
- ``training``: median optimiser-step time, mel frames per second and peak memory for each
  preset and batch size, with and without mixed precision where the device has it. Each
  configuration runs in a fresh process (so the peak RSS is its own) through
  `Trainer.train_step`, the exact step training uses, on a fixed batch of demo-corpus clips
  of median length.
- ``synthesis``: real-time factor (compute seconds per second of audio; below 1 is faster
  than real time) of the acoustic model and of the Griffin-Lim vocoder, separately. The
  model runs a fixed number of decoder steps, the length of a median demo clip; its speed
  does not depend on its weights, so no trained model is needed.
- ``profile`` (only on request): the operators that dominate one training step.
- ``startup`` (only on request, about 5-10 minutes on 2 cores): on a RUSLAN-sized corpus
  built from the demo clips (`make_scale_corpus`), cold ``preprocess`` with one worker and
  with one per CPU, and the time a new run and a ``--resume auto`` restart take to their
  first optimiser step with a warm cache.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import sys
import time
from typing import Callable

SECTIONS = ("g2p", "features", "training", "synthesis", "vocoder", "profile", "startup")
DEFAULT_SECTIONS = ("g2p", "features", "training", "synthesis", "vocoder")


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


def _timings(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(_timings(fn, repeats))


def bench_g2p(n_words: int = 20_000, repeats: int = 5) -> dict:
    """Words per second for `RussianPhonemeProcessor.process_word`, uncached and cached.

    The words are the `n_words` most frequent forms of the built-in lexicon written the way
    running text writes them (ё as е), so lookups, ё restoration and all rules are exercised.
    """
    from .text import RussianPhonemeProcessor
    from .text.context import homographs
    from .text.lexicon import load_stress_lexicon

    load_stress_lexicon.cache_clear()
    start = time.perf_counter()
    lexicon = load_stress_lexicon()
    lexicon_load_s = time.perf_counter() - start
    morphology_load_s = _morphology_load_seconds()

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
        "morphology_load_s": round(morphology_load_s, 4),
        "homographs": len(homographs()),
        "words": len(words),
        "uncached_words_per_s": round(len(words) / t_uncached),
        "cached_words_per_s": round(len(words) / t_cached),
        "repeats": repeats,
    } | _bench_sentences(uncached, repeats)


def _morphology_load_seconds() -> float:
    """Seconds to load the morphological analyser (pymorphy3 and its dictionary) afresh."""
    from .text import morph

    morph.analyzer.cache_clear()
    morph.parses.cache_clear()
    start = time.perf_counter()
    morph.analyzer()
    return time.perf_counter() - start


def _bench_sentences(uncached, repeats: int) -> dict:
    """Whole sentences to model ids (normalisation, every word, the context and phrase
    passes) with no cache at all, not even the analyser's: the 300 demo sentences (the demo
    corpus's and the held-out ones)."""
    from importlib import resources

    from .text.morph import parses

    data = resources.files("kokoro_nb").joinpath("data/demo_sentences.txt").read_text("utf-8")
    texts = [line.strip() for line in data.splitlines() if line.strip()]
    words = sum(len(text.split()) for text in texts)

    def run():
        parses.cache_clear()
        for text in texts:
            uncached.text_to_indices(text)

    run()
    seconds = _median_seconds(run, repeats)
    return {"sentences": len(texts), "sentence_words": words,
            "uncached_sentence_words_per_s": round(words / seconds)}


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


def _bench_batch(trainer, batch_size: int) -> dict:
    """`batch_size` training clips around the median length, collated the way training does."""
    dataset = trainer.train_set
    lengths = dataset.frame_lengths()
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    start = max(0, min(len(order) - batch_size, len(order) // 2 - batch_size // 2))
    chosen = order[start:start + batch_size]
    if len(chosen) < batch_size:
        raise ValueError(f"the demo corpus has only {len(order)} training clips")
    return trainer.collate([dataset[i] for i in chosen])


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _bench_trainer(spec: dict, output: str, amp: bool):
    """A Trainer for `spec` (preset, batch size, device, threads) and its fixed batch."""
    import torch

    from .config import TrainConfig
    from .corpus import demo_corpus_dir
    from .training import Trainer

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    config = TrainConfig(corpus=str(demo_corpus_dir()), output=output, preset=spec["preset"],
                         batch_size=spec["batch_size"],
                         device=spec["device"], amp=amp, cache_dir=spec["cache_dir"],
                         progress=False)
    trainer = Trainer(config)
    return trainer, _bench_batch(trainer, spec["batch_size"])


def _train_config_run(spec: dict) -> dict:
    """One training configuration (runs in its own process): median step time and memory."""
    import tempfile

    import torch

    from .model import count_parameters

    with tempfile.TemporaryDirectory() as output:
        trainer, batch = _bench_trainer(spec, output, spec["amp"])
        device = trainer.device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(spec["warmup"]):
            trainer.train_step(batch)
        _sync(device)

        def step_and_sync():
            trainer.train_step(batch)
            _sync(device)

        times = _timings(step_and_sync, spec["repeats"])
        step = statistics.median(times)
        frames = int(batch["mel_lengths"].sum())
        world = trainer.ranks.world_size
        result = {
            "preset": spec["preset"], "batch_size": spec["batch_size"],
            "precision": trainer.precision.name, "device": device.type,
            "parameters": count_parameters(trainer.model),
            "mel_frames_per_batch": frames,
            "decoder_steps": int(batch["mels"].shape[1]) // trainer.model_config.reduction,
            "median_step_s": round(step, 4),
            "min_step_s": round(min(times), 4),
            "mel_frames_per_s": round(frames / step, 1),
            "audio_seconds_per_s": round(frames * trainer.audio_config.frame_seconds / step, 2),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "repeats": spec["repeats"],
        }
        if world > 1:  # under torchrun: every rank steps on a batch like this one
            result |= {"ranks": world, "global_mel_frames_per_s": round(world * frames / step, 1)}
        if device.type == "cuda":
            result["peak_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        elif device.type == "mps":
            result["mps_driver_allocated_mb"] = round(torch.mps.driver_allocated_memory() / 2**20, 1)
        return result


def _in_fresh_process(fn, spec: dict) -> dict:
    """`fn(spec)` in a new process, so that peak memory is its own; under torchrun in this
    one (each rank is a process already, and the ranks must join the group once)."""
    import multiprocessing

    from .distributed import launched_by_torchrun

    if launched_by_torchrun():
        return fn(spec)

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, (spec,))


def _shared_feature_cache() -> str:
    """A feature cache for the bench, filled once (the same place training uses)."""
    from .corpus import default_cache_dir

    return str(default_cache_dir())


def bench_training(device: str = "auto", presets=("demo", "default"), batch_sizes=(8, 16),
                   warmup: int = 2, repeats: int = 5, threads: int | None = None) -> dict:
    """Step time, frames/s and peak memory per preset, batch size and precision."""
    from .device import choose_device, choose_precision

    resolved = choose_device(device)
    precisions = [False]
    if choose_precision(resolved, True).dtype is not None:
        precisions.append(True)
    runs = []
    for preset in presets:
        for batch_size in batch_sizes:
            for amp in precisions:
                spec = {"preset": preset, "batch_size": batch_size, "device": str(resolved),
                        "amp": amp, "warmup": warmup, "repeats": repeats, "threads": threads,
                        "cache_dir": _shared_feature_cache()}
                runs.append(_in_fresh_process(_train_config_run, spec))
    note = None if len(precisions) > 1 else f"mixed precision is not used on {resolved.type}"
    return {"device": str(resolved), "runs": runs} | ({"amp_note": note} if note else {})


def _checkout(ref: str, directory: str) -> str:
    """The files of git revision `ref` of this checkout, extracted into `directory`."""
    import io
    import subprocess
    import tarfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        raise ValueError("--compare-ref needs kokoro_nb run from a git checkout")
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", ref],
                             capture_output=True)
    if archive.returncode:
        raise ValueError(f"--compare-ref {ref}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def _stepbench(args: list[str], reference: str | None = None) -> dict:
    """`stepbench` in a fresh process, on this kokoro_nb or (`reference`: a directory that
    holds another version) on that one, measured by this version's stepbench code."""
    import json
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    if reference is None:
        command, env = [sys.executable, "-m", "kokoro_nb.stepbench", *args], None
    else:
        script = Path(tempfile.mkdtemp()) / "stepbench.py"  # away from this package's files
        shutil.copy(Path(__file__).with_name("stepbench.py"), script)
        command = [sys.executable, str(script), *args]
        env = dict(os.environ, PYTHONPATH=reference)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=reference)
    if done.returncode:
        raise RuntimeError(f"stepbench failed ({' '.join(args)}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_training_shape(shape: str, device: str = "cpu", presets=("default",),
                         batch_sizes=(8,), repeats: int = 3, threads: int | None = 1,
                         compare_ref: str | None = None, rounds: int = 2,
                         checkpoint_attention: bool = False) -> dict:
    """One training step on a synthetic `shape` batch (``PHONEMESxFRAMES``, all items full
    length) per preset and batch size, in fresh processes (`stepbench`). With `compare_ref`
    (a git revision) the same code measures that version too, alternating with this one
    `rounds` times so both see the same machine, and the ratios are reported."""
    import tempfile

    from .device import choose_device
    from .stepbench import parse_shape

    parse_shape(shape)  # a clear error before anything runs
    resolved = str(choose_device(device))
    runs = []
    with tempfile.TemporaryDirectory() as directory:
        reference = _checkout(compare_ref, directory) if compare_ref else None
        for preset in presets:
            for batch_size in batch_sizes:
                args = ["--preset", preset, "--shape", shape, "--batch-size", str(batch_size),
                        "--device", resolved, "--repeats", str(repeats)]
                args += ["--threads", str(threads)] if threads else []
                current_args = args + (["--checkpoint-attention"] if checkpoint_attention else [])
                pairs = [(_stepbench(current_args),
                          _stepbench(args, reference) if reference else None)
                         for _ in range(rounds if reference else 1)]
                runs.append(_compared(pairs, compare_ref))
    return {"device": resolved, "shape": shape, "runs": runs}


def _compared(pairs: list[tuple[dict, dict | None]], ref: str | None) -> dict:
    """This version's runs, and with a reference the reference's runs and the ratios."""
    current = [c for c, _ in pairs]
    result = dict(current[-1]) | {"rounds": current}
    if ref is None:
        return result
    reference = [r for _, r in pairs]
    speed = [c["mel_frames_per_s"] / r["mel_frames_per_s"] for c, r in pairs]
    memory = [c["peak_rss_mb"] / r["peak_rss_mb"] for c, r in pairs]
    return result | {"reference": ref, "reference_rounds": reference,
                     "speedup_range": [round(min(speed), 3), round(max(speed), 3)],
                     "peak_rss_ratio_range": [round(min(memory), 3), round(max(memory), 3)]}


def _synthesis_run(spec: dict) -> dict:
    import torch

    from .audio import mel_to_audio
    from .config import AudioConfig, model_config
    from .corpus import TTSDataset, demo_corpus_dir, encode_text, validate_corpus
    from .device import choose_device
    from .model import KokoroTTS
    from .text import RussianPhonemeProcessor

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    device = choose_device(spec["device"])
    config = AudioConfig()
    processor = RussianPhonemeProcessor()
    report = validate_corpus(demo_corpus_dir(), config, processor)
    items = sorted(report.items, key=lambda item: item.frames)
    item = items[len(items) // 2]
    mel = TTSDataset([item], processor, config, spec["cache_dir"])[0]["mel"].T.contiguous()
    frames = mel.shape[1]                                                   # mel: (n_mels, T)
    audio_s = frames * config.frame_seconds
    torch.manual_seed(0)
    model = KokoroTTS(model_config(spec["preset"], processor.get_vocab_size()))
    model.to(device).eval()
    ids, stress = encode_text(processor, item.text)
    ids_t = torch.tensor([ids], device=device)
    stress_t = torch.tensor([stress], device=device)
    steps = -(-frames // model.config.reduction)

    def infer():
        model.infer(ids_t, stress_t, max_steps=steps, min_steps=steps)
        _sync(device)

    def vocode():
        mel_to_audio(mel, config)

    infer()
    vocode()
    t_model = _median_seconds(infer, spec["repeats"])
    t_vocoder = _median_seconds(vocode, spec["repeats"])
    return {"preset": spec["preset"], "device": device.type, "audio_seconds": round(audio_s, 2),
            "decoder_steps": steps, "model_rtf": round(t_model / audio_s, 4),
            "griffin_lim_rtf": round(t_vocoder / audio_s, 4),
            "griffin_lim_iters": config.griffin_lim_iters, "repeats": spec["repeats"]}


def bench_vocoder(device: str = "auto", repeats: int = 5, threads: int | None = None,
                  seconds: float = 10.0) -> dict:
    """Real-time factor (seconds of compute per second of audio) of each vocoder preset on a
    `seconds`-long mel (untrained weights: the speed is the same), and of Griffin-Lim."""
    import torch

    from .audio import mel_to_audio
    from .config import VOCODER_PRESETS, AudioConfig, vocoder_config
    from .device import choose_device
    from .vocoder import Vocoder, count_parameters

    if threads:
        torch.set_num_threads(threads)
    audio = AudioConfig()
    target = choose_device(device)
    frames = int(seconds * audio.sample_rate / audio.hop_length) + 1
    mel = torch.randn(audio.n_mels, frames) - 5.0
    rows = []
    for preset in VOCODER_PRESETS:
        model = Vocoder(vocoder_config(preset), audio).to(target).eval()
        on_device = mel.to(target)
        model.vocode(on_device)  # warm-up
        elapsed = _median_seconds(
            lambda model=model, on_device=on_device: _synchronized(model.vocode(on_device), target),
            repeats)
        rows.append({"vocoder": preset, "device": str(target),
                     "parameters": count_parameters(model), "rtf": round(elapsed / seconds, 4)})
    elapsed = _median_seconds(lambda: mel_to_audio(mel, audio), repeats)
    rows.append({"vocoder": "griffin-lim", "device": "cpu",
                 "iterations": audio.griffin_lim_iters, "rtf": round(elapsed / seconds, 4)})
    return {"audio_seconds": seconds, "runs": rows, "threads": torch.get_num_threads()}


def _synchronized(result, device):
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize()
    return result


def bench_synthesis(device: str = "auto", presets=("demo", "default"), repeats: int = 5,
                    threads: int | None = None) -> dict:
    """Real-time factors of the acoustic model (per preset) and of Griffin-Lim (CPU)."""
    runs = [_in_fresh_process(_synthesis_run, {"preset": preset, "device": device,
                                               "repeats": repeats, "threads": threads,
                                               "cache_dir": _shared_feature_cache()})
            for preset in presets]
    return {"runs": runs}


def _profile_run(spec: dict) -> dict:
    import tempfile

    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as output:
        trainer, batch = _bench_trainer(spec, output, amp=False)
        trainer.train_step(batch)
        activities = [ProfilerActivity.CPU]
        if trainer.device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            trainer.train_step(batch)
            _sync(trainer.device)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[: spec["top"]]
    return {
        "preset": spec["preset"], "batch_size": spec["batch_size"], "device": trainer.device.type,
        "self_cpu_total_ms": round(total / 1000, 1),
        "top_ops": [{"op": e.key, "calls": e.count,
                     "self_cpu_ms": round(e.self_cpu_time_total / 1000, 1),
                     "share": round(e.self_cpu_time_total / total, 3)} for e in top],
    }


def bench_profile(device: str = "auto", presets=("demo",), batch_sizes=(16,), top: int = 12,
                  threads: int | None = None) -> dict:
    """The operators with the most self CPU time in one training step (torch.profiler)."""
    runs = [_in_fresh_process(_profile_run, {"preset": preset, "batch_size": batch_size,
                                             "device": device, "top": top, "threads": threads,
                                             "cache_dir": _shared_feature_cache()})
            for preset in presets for batch_size in batch_sizes]
    return {"runs": runs}


# --------------------------------------------------------------------------- startup


def _link_or_copy(source, target) -> bool:
    """Hard-link `source` at `target` (True), or copy it where links cannot go (False)."""
    import shutil

    try:
        os.link(source, target)
        return True
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(source, target)
        return False


def make_scale_corpus(out, items: int = 22_200, source=None) -> dict:
    """A RUSLAN-layout corpus of `items` metadata lines in `out`, made of the clips of
    `source` (default: the bundled demo corpus), each hard-linked (copied across file
    systems) under many ids ``000001_RUSLAN``, ... with its own text. Four items among them
    are broken, spread out: a missing clip, an empty (0-byte) wav, a malformed metadata line
    and a clip too long to train on. Returns ``{"lines", "broken", "linked", "copied"}``.
    """
    from pathlib import Path

    import numpy as np

    from .audio import read_audio, write_audio
    from .config import AudioConfig
    from .corpus import AUDIO_DIR, METADATA_NAME, demo_corpus_dir, validate_corpus

    out = Path(out)
    (out / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    clips = validate_corpus(source or demo_corpus_dir(), read_audio_data=False).items
    broken = {items * k // 5: kind for k, kind in
              enumerate(("missing", "empty", "malformed", "too_long"), start=1)} if items >= 5 else {}
    lines, linked = [], 0
    for index in range(items):
        clip = clips[index % len(clips)]
        item_id = f"{index + 1:06d}_RUSLAN"
        kind = broken.get(index)
        lines.append(f"{item_id} {clip.text}" if kind == "malformed" else f"{item_id}|{clip.text}")
        if kind == "empty":
            (out / AUDIO_DIR / f"{item_id}.wav").write_bytes(b"")
        elif kind == "too_long":  # clips end to end, longer than max_frames allows
            config = AudioConfig()
            waves, seconds = [], 0.0
            for other in clips:
                waves.append(read_audio(other.audio_path)[0][0])
                seconds += waves[-1].shape[0] / config.sample_rate
                if seconds > config.max_frames * config.frame_seconds + 1:
                    break
            write_audio(out / AUDIO_DIR / f"{item_id}.wav", np.concatenate(waves), config.sample_rate)
        elif kind is None:
            linked += _link_or_copy(clip.audio_path,
                                    out / AUDIO_DIR / f"{item_id}{clip.audio_path.suffix}")
    (out / METADATA_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"lines": len(lines), "broken": sorted(broken.values()), "linked": linked,
            "copied": items - len(broken) - linked}


def _kokoro_cli(*args) -> list[str]:
    return [sys.executable, "-m", "kokoro_nb", *map(str, args)]


def _time_to_step(args: list, output, step: int, log_path) -> dict:
    """Run ``python -m kokoro_nb train`` with `args`: seconds from starting the process to
    the record of optimiser step `step` appearing in its metrics.jsonl (polled every 50 ms),
    and to its exit."""
    import subprocess
    from pathlib import Path

    metrics = Path(output) / "metrics.jsonl"
    start = time.perf_counter()
    first_step = None
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(_kokoro_cli("train", *args), stdout=log_file,
                                   stderr=subprocess.STDOUT)
        while process.poll() is None or first_step is None:
            if first_step is None and _has_step(metrics, step):
                first_step = time.perf_counter() - start
            elif process.poll() is not None:  # exited without that step
                break
            time.sleep(0.05)
    total = time.perf_counter() - start
    if process.returncode != 0 or first_step is None:
        tail = Path(log_path).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"train {' '.join(map(str, args))} did not reach step {step}:\n{tail}")
    return {"first_step_s": round(first_step, 2), "exit_s": round(total, 2)}


def _has_step(metrics, step: int) -> bool:
    """Whether the metrics.jsonl `metrics` holds the train record of step `step` (a line
    still being written is not one)."""
    from .runlog import read_metrics

    return any(record.get("type") == "train" and record.get("step") == step
               for record in read_metrics(metrics))


def _timed_preprocess(corpus, cache, workers: int) -> dict:
    """A cold ``python -m kokoro_nb preprocess`` into the empty `cache`: its wall time (the
    process, imports included) and its summary."""
    import json
    import subprocess

    start = time.perf_counter()
    out = subprocess.run(_kokoro_cli("preprocess", "--corpus", corpus, "--workers", workers,
                                     "--cache-dir", cache, "--json"),
                         check=True, capture_output=True, text=True).stdout
    summary = json.loads(out)
    return {"wall_s": round(time.perf_counter() - start, 2)} | {
        key: summary[key] for key in ("workers", "usable_items", "skipped_items", "items_checked",
                                      "features_computed", "features_cached", "seconds")}


def bench_startup(items: int = 22_200) -> dict:
    """Starts and restarts at RUSLAN scale, on a corpus `make_scale_corpus` builds in a temp
    dir: a cold ``preprocess`` with one worker and with one per CPU (each into an empty
    cache), a new training run and then ``train --resume auto`` with that warm cache, each
    to its first optimiser step, and what a warm restart spends on imports and on the
    corpus check. Every command runs as a user runs it, in its own process."""
    import subprocess
    import tempfile
    from pathlib import Path

    from .corpus import validate_corpus

    with tempfile.TemporaryDirectory(prefix="kokoro_nb_startup_") as tmp:
        tmp = Path(tmp)
        corpus, output = tmp / "corpus", tmp / "run"
        made = make_scale_corpus(corpus, items)
        cpus = os.cpu_count() or 1
        preprocess = {f"workers_{n}": _timed_preprocess(corpus, tmp / f"cache_{n}", n)
                      for n in sorted({1, cpus})}
        warm_cache = tmp / f"cache_{cpus}"
        train = ["--corpus", corpus, "--output", output, "--preset", "demo", "--cache-dir",
                 warm_cache, "--no-progress"]
        new_run = _time_to_step([*train, "--max-steps", 1], output, 1, tmp / "new.log")
        resumed = _time_to_step([*train, "--resume", "auto", "--max-steps", 2], output, 2,
                                tmp / "resume.log")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import kokoro_nb.training"], check=True)
        imports = time.perf_counter() - start
        validate_corpus(corpus, cache_dir=warm_cache)  # imports and the lexicon, untimed
        start = time.perf_counter()
        report = validate_corpus(corpus, cache_dir=warm_cache)
        warm_check = time.perf_counter() - start
    return {
        "metadata_lines": made["lines"], "usable_items": len(report.items),
        "broken_on_purpose": made["broken"], "cpu_count": cpus,
        "cold_preprocess": preprocess,
        "new_run_to_first_step_s": new_run["first_step_s"],
        "resume_to_first_step_s": resumed["first_step_s"],
        "resume_exit_s": resumed["exit_s"],
        "warm_restart_parts_s": {"import_kokoro_nb_training": round(imports, 2),
                                 "validate_corpus_cached": round(warm_check, 2)},
        "measured": "wall seconds from starting each process; a first step is its train record "
                    "appearing in metrics.jsonl (polled every 50 ms); train runs the demo preset "
                    "(batch 8) with the cache of the one-per-CPU preprocess",
    }


def run_bench(only: list[str] | None = None, device: str = "auto", presets=None,
              batch_sizes=None, repeats: int | None = None, threads: int | None = None,
              startup_items: int = 22_200, shape: str | None = None,
              compare_ref: str | None = None, checkpoint_attention: bool = False) -> dict:
    """Run the selected sections (all but ``profile`` and ``startup`` by default) and return
    one JSON-ready dict. `presets`, `batch_sizes` and `repeats` narrow the training,
    synthesis and profile sections, `startup_items` the startup corpus (for a quick look, or
    a test). With a `shape` the training section times synthetic batches of that shape
    (`bench_training_shape`, optionally against `compare_ref`)."""
    selected = list(only) if only else list(DEFAULT_SECTIONS)
    unknown = set(selected) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown bench sections {sorted(unknown)}; known: {list(SECTIONS)}")
    result: dict = {"device_requested": device, "sections": selected}
    if "g2p" in selected:
        result["g2p"] = bench_g2p()
    if "features" in selected:
        result["features"] = bench_features()
    requested_presets = tuple(presets or ())
    presets = requested_presets or ("demo", "default")
    knobs = {"repeats": repeats} if repeats else {}
    if "training" in selected and shape:
        result["training"] = bench_training_shape(
            shape, device, requested_presets or ("default",), tuple(batch_sizes or (8,)),
            threads=threads or 1, compare_ref=compare_ref,
            checkpoint_attention=checkpoint_attention, **knobs)
    elif "training" in selected:
        result["training"] = bench_training(device, presets, tuple(batch_sizes or (8, 16)),
                                            threads=threads, **knobs)
    if "synthesis" in selected:
        result["synthesis"] = bench_synthesis(device, presets, threads=threads, **knobs)
    if "vocoder" in selected:
        result["vocoder"] = bench_vocoder(device, threads=threads, **knobs)
    if "profile" in selected:
        result["profile"] = bench_profile(device, requested_presets or ("demo",),
                                          tuple(batch_sizes or (16,)), threads=threads)
    if "startup" in selected:
        result["startup"] = bench_startup(startup_items)
    result["machine"] = machine_info()
    return result
