"""How well a trained model aligns and speaks, on any RUSLAN-layout corpus.

Teacher-forced (the model sees the real previous frames): attention focus rate and
diagonality (`metrics.py`) and the mel L1 error. Free-running (the model hears only
itself, as in real use): the share of utterances that stop by themselves, and the ratio of
generated to reference duration.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Callable, Iterable

import torch

from .corpus import TTSDataset, batch_to_device, collate_batch, validate_corpus
from .losses import masked_l1
from .metrics import attention_metrics
from .synthesis import load_model


@torch.no_grad()
def evaluate_checkpoint(checkpoint: str | Path, corpus: str | Path, limit: int | None = None,
                        device: str = "cpu", batch_size: int = 8, duration_tolerance: float = 0.25,
                        cache_dir: str | None = None) -> dict:
    """Scores of a checkpoint on (the first `limit` usable items of) a corpus."""
    model, processor, audio_config, _ = load_model(checkpoint, device)
    report = validate_corpus(corpus, audio_config, processor, cache_dir=cache_dir)
    items = report.items[:limit] if limit else report.items
    if not items:
        raise ValueError(f"corpus {corpus} has no usable items:\n{report.summary()}")
    dataset = TTSDataset(items, processor, audio_config, cache_dir)
    r = model.config.reduction
    focus, diagonal, l1, ratios, stopped = [], [], [], [], []
    for start in range(0, len(dataset), batch_size):
        examples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate_batch(examples, processor.pad_id, frames_multiple=r,
                              log_floor=audio_config.log_floor)
        batch = batch_to_device(batch, device)
        out = model(batch["ids"], batch["stress"], batch["text_lengths"], batch["mels"],
                    batch["mel_lengths"])
        steps = -(-batch["mel_lengths"] // r)
        for b in range(len(examples)):
            m = attention_metrics(out["attention"][b:b + 1], batch["text_lengths"][b:b + 1], steps[b:b + 1])
            focus.append(m["focus_rate"])
            diagonal.append(m["diagonality"])
            mask = batch["mel_mask"][b:b + 1]
            l1.append(float(masked_l1(model.denormalize(out["mel_post"][b:b + 1]),
                                      batch["mels"][b:b + 1], mask)))
        # Free-running: generous step limit, 3x the reference length.
        max_steps = int(3 * int(steps.max())) + 10
        free = model.infer(batch["ids"], batch["stress"], batch["text_lengths"], max_steps=max_steps)
        for b in range(len(examples)):
            stopped.append(bool(free["stopped"][b]))
            ratios.append(float(free["lengths"][b]) / float(batch["mel_lengths"][b]))
    within = [s and abs(q - 1) <= duration_tolerance for s, q in zip(stopped, ratios, strict=True)]
    return {
        "checkpoint": str(checkpoint),
        "corpus": str(corpus),
        "items": len(items),
        "teacher_forced": {
            "focus_rate": round(statistics.fmean(focus), 4),
            "diagonality": round(statistics.fmean(diagonal), 4),
            "mel_l1": round(statistics.fmean(l1), 4),
        },
        "free_running": {
            "stop_rate": round(sum(stopped) / len(stopped), 4),
            "duration_ratio_median": round(statistics.median(ratios), 4),
            "duration_ratio_mean": round(statistics.fmean(ratios), 4),
            "within_tolerance": round(sum(within) / len(within), 4),
            "tolerance": duration_tolerance,
        },
    }


@torch.no_grad()
def teacher_forced_scores(batches: Iterable[dict], forward: Callable[[dict], tuple[dict, dict]],
                          reduction: int) -> tuple[dict[str, float], torch.Tensor | None]:
    """Losses (as ``val_<name>``) and attention metrics of teacher-forced `batches` (already on
    the model's device), averaged per item, and the first item's attention (steps,
    symbols). `forward(batch)` returns the model's outputs and losses (`Trainer.forward_losses`)."""
    totals: dict[str, float] = {}
    items = 0
    first_attention = None
    for batch in batches:
        outputs, losses = forward(batch)
        steps = -(-batch["mel_lengths"] // reduction)
        metrics = attention_metrics(outputs["attention"], batch["text_lengths"], steps)
        scores = {f"val_{name}": float(value) for name, value in losses.items()} | metrics
        n = len(batch["item_ids"])
        for key, value in scores.items():
            totals[key] = totals.get(key, 0.0) + value * n
        items += n
        if first_attention is None:
            first_attention = outputs["attention"][0, : int(steps[0]), : int(batch["text_lengths"][0])]
    return {key: value / max(items, 1) for key, value in totals.items()}, first_attention


@torch.no_grad()
def teacher_forced_alignment(model, processor, audio_config, item, cache_dir=None) -> dict:
    """Attention of `model` on one corpus item with the real mel fed back (as in training):
    ``{"attention": (steps, symbols), "focus_rate", "diagonality", "symbols"}``."""
    dataset = TTSDataset([item], processor, audio_config, cache_dir)
    r = model.config.reduction
    batch = collate_batch([dataset[0]], processor.pad_id, frames_multiple=r,
                          log_floor=audio_config.log_floor)
    device = next(model.parameters()).device
    batch = batch_to_device(batch, device)
    was_training = model.training
    model.eval()
    out = model(batch["ids"], batch["stress"], batch["text_lengths"], batch["mels"],
                batch["mel_lengths"])
    model.train(was_training)
    steps = -(-batch["mel_lengths"] // r)
    metrics = attention_metrics(out["attention"], batch["text_lengths"], steps)
    symbols = [processor.get_phoneme_list()[i] for i in batch["ids"][0].tolist()]
    return {"attention": out["attention"][0, : int(steps[0])].cpu(), "symbols": symbols, **metrics}


def checkpoint_alignments(checkpoints: list, item, limit: int = 4, cache_dir=None) -> list[dict]:
    """Teacher-forced alignments of one corpus item under several checkpoints (the first,
    the last and evenly spaced ones between, at most `limit`), oldest first."""
    rows = []
    for path in evenly_spaced(list(checkpoints), limit):
        model, processor, audio_config, state = load_model(path)
        result = teacher_forced_alignment(model, processor, audio_config, item, cache_dir)
        rows.append({"name": f"epoch {state['epoch']}, step {state['global_step']}",
                     "path": str(path), **result})
    return rows


def evenly_spaced(items: list, limit: int | None) -> list:
    """At most `limit` of `items`: the first, the last and evenly spaced ones between (only
    the last when `limit` is 1); all of them when `limit` is None.

    >>> evenly_spaced(list(range(1, 11)), 4)
    [1, 4, 7, 10]
    """
    if limit is None or len(items) <= limit:
        return list(items)
    if limit <= 1:
        return list(items[-1:]) if limit == 1 else []
    picks = sorted({round(i * (len(items) - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in picks]
