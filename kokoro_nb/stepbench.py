"""One training step on a synthetic batch, timed, with its peak memory: the figure that
compares across machines, versions and other systems.

The batch is `phonemes` x `frames` for every item (no padding), random ids and mels; the
step is what training does: forward, losses, backward, clipping at 1.0 and Adam. Run it as
``python -m kokoro_nb.stepbench --preset default --shape 100x400 --batch-size 8`` (one JSON
line out), or through ``python -m kokoro_nb bench --only training --shape 100x400``, which
runs each configuration in a fresh process so that each peak RSS is its own.

The file also runs as a plain script against another checkout of kokoro_nb on the Python
path (``bench --compare-ref REF`` does that), so an older version is measured by exactly
this code; `_api` bridges the one API change since (November 2026: configs moved to
config.py and the losses took the TrainConfig).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time


def _api():
    """KokoroTTS, a model-config builder and a loss function of the kokoro_nb on the path."""
    from kokoro_nb.model import KokoroTTS

    try:
        from kokoro_nb.config import TrainConfig, model_config
        from kokoro_nb.losses import tts_losses

        def losses(outputs, batch, reduction):
            return tts_losses(outputs, batch, reduction, TrainConfig())
    except ImportError:  # an older checkout
        from kokoro_nb.losses import tts_losses
        from kokoro_nb.model import model_config

        def losses(outputs, batch, reduction):
            return tts_losses(outputs, batch, reduction)

    return KokoroTTS, model_config, losses


def synthetic_batch(batch_size: int, phonemes: int, frames: int, vocab_size: int, n_mels: int,
                    device):
    """Random phoneme ids and log-mels, all items full length, on `device`."""
    import torch

    g = torch.Generator().manual_seed(0)
    lengths_text = torch.full((batch_size,), phonemes)
    lengths_mel = torch.full((batch_size,), frames)
    batch = {
        "ids": torch.randint(3, vocab_size, (batch_size, phonemes), generator=g),
        "stress": torch.randint(0, 2, (batch_size, phonemes), generator=g),
        "text_lengths": lengths_text,
        "mels": torch.randn(batch_size, frames, n_mels, generator=g) - 4.0,
        "mel_lengths": lengths_mel,
        "mel_mask": torch.ones(batch_size, frames, dtype=torch.bool),
        "stop_targets": (torch.arange(frames)[None] >= frames - 1).float().expand(batch_size, -1),
    }
    return {k: v.to(device) for k, v in batch.items()}


def measure(preset: str, phonemes: int, frames: int, batch_size: int, device: str = "cpu",
            precision: str = "fp32", repeats: int = 3, warmup: int = 1,
            threads: int | None = None, changes: dict | None = None,
            checkpoint_attention: bool = False, compile_step: bool = False,
            deferred_gradients: bool = True) -> dict:
    """Median step time, mel frames per second and peak memory of one configuration."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    KokoroTTS, model_config, losses = _api()
    from kokoro_nb.text import RussianPhonemeProcessor
    vocab = RussianPhonemeProcessor().get_vocab_size()
    torch.manual_seed(0)
    model = KokoroTTS(model_config(preset, vocab_size=vocab, **(changes or {}))).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-6,
                                 weight_decay=1e-6)
    # Options an older version may not have: setting them there changes nothing.
    model.decoder.recompute_attention = checkpoint_attention
    model.decoder.defer_weight_gradients = deferred_gradients  # off: step by step, as PyTorch
    if compile_step:
        from kokoro_nb.model import compile_decoder_step

        compile_step = compile_decoder_step(model)  # False where it could not
    r = model.config.reduction
    frames = -(-frames // r) * r
    batch = synthetic_batch(batch_size, phonemes, frames, vocab, model.config.n_mels, device)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def step():
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            outputs = model(batch["ids"], batch["stress"], batch["text_lengths"], batch["mels"],
                            batch["mel_lengths"])
        loss = losses(outputs, batch, r)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()

    if torch.device(device).type == "cuda":  # the peak of the steps alone
        torch.cuda.reset_peak_memory_stats()
    warmup_s, times = _timed(step, warmup, repeats)
    median, peak = statistics.median(times), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "preset": preset, "shape": f"{phonemes}x{frames}", "batch_size": batch_size,
        "device": device, "precision": precision, "threads": torch.get_num_threads(),
        "checkpoint_attention": checkpoint_attention, "compiled": compile_step,
        "deferred_gradients": deferred_gradients, "changes": changes or {},
        "warmup_s": round(warmup_s, 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "median_step_s": round(median, 4), "min_step_s": round(min(times), 4),
        "mel_frames_per_s": round(batch_size * frames / median, 1),
        "peak_rss_mb": round(peak / 2**20 if sys.platform == "darwin" else peak / 1024, 1),
        "repeats": repeats,
    }
    if torch.device(device).type == "cuda":
        result["peak_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def _timed(step, warmup: int, repeats: int) -> tuple[float, list[float]]:
    """Seconds of the `warmup` steps together, and of each of `repeats` steps after them."""
    start = time.perf_counter()
    for _ in range(warmup):
        step()
    warmup_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return warmup_s, times


def parse_shape(text: str) -> tuple[int, int]:
    """``"100x400"`` -> (100 phonemes, 400 frames)."""
    try:
        phonemes, frames = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--shape wants PHONEMESxFRAMES, e.g. 100x400; got {text!r}") from None
    if phonemes < 2 or frames < 1:
        raise ValueError(f"--shape {text}: at least 2 phonemes and 1 frame")
    return phonemes, frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--shape", default="100x400", help="PHONEMESxFRAMES")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--changes", default="{}", help="ModelConfig changes as JSON")
    parser.add_argument("--checkpoint-attention", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder step")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-deferred-gradients", dest="deferred", action="store_false",
                        help="the LSTM weight gradients step by step (no model.StepWeights)")
    args = parser.parse_args(argv)
    phonemes, frames = parse_shape(args.shape)
    print(json.dumps(measure(args.preset, phonemes, frames, args.batch_size, args.device,
                             args.precision, args.repeats, args.warmup, threads=args.threads,
                             changes=json.loads(args.changes),
                             checkpoint_attention=args.checkpoint_attention,
                             compile_step=args.compile, deferred_gradients=args.deferred)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
