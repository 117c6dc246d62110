"""How well a trained model aligns and speaks, on any RUSLAN-layout corpus.

Teacher-forced (the model sees the real previous frames): attention focus rate and
diagonality (`metrics.py`) and the mel L1 error. Free-running (the model hears only
itself, as in real use): the share of utterances that stop by themselves, and the ratio of
generated to reference duration.

`audio_quality` listens along the ladder natural recording -> Griffin-Lim of its mel ->
the neural vocoder of its mel -> the acoustic model's own mel through Griffin-Lim and
through the vocoder, with `quality.py`'s measures (MCD with DTW against the recording,
DNSMOS and STOI where the ``quality`` extra is installed).
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch

from .audio import load_audio, mel_spectrogram
from .config import stored_train_config
from .corpus import TTSDataset, batch_to_device, collate_batch, training_split, validate_corpus
from .losses import masked_l1
from .metrics import attention_metrics
from .quality import dnsmos, mcd_dtw, stoi
from .synthesis import Synthesizer, load_model
from .vocoder import load_vocoder, vocode_mel


@torch.no_grad()
def evaluate_checkpoint(checkpoint: str | Path, corpus: str | Path, limit: int | None = None,
                        device: str = "cpu", batch_size: int = 8, duration_tolerance: float = 0.25,
                        cache_dir: str | None = None, validation_split: bool = False) -> dict:
    """Scores of a checkpoint on (the first `limit` usable items of) a corpus; with
    `validation_split`, only on its validation split (`corpus.training_split`): on the corpus a
    model was trained on, the items training never saw."""
    model, processor, audio_config, state = load_model(checkpoint, device)
    report = validate_corpus(corpus, audio_config, processor, cache_dir=cache_dir)
    items = report.items
    if validation_split:
        items = training_split(items, stored_train_config(state.get("train_config", {})))[1]
    items = items[:limit] if limit else items
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
def teacher_forced_pass(model, processor, audio_config, item, cache_dir=None,
                        seed: int | None = None) -> tuple[dict, dict]:
    """`model` in eval mode on one corpus item with the real mel fed back (as in training):
    its batch and its outputs. With a `seed`, the prenet's dropout (on at inference in
    Tacotron 2) draws from a generator seeded with it, so the pass repeats exactly."""
    dataset = TTSDataset([item], processor, audio_config, cache_dir)
    batch = collate_batch([dataset[0]], processor.pad_id, frames_multiple=model.config.reduction,
                          log_floor=audio_config.log_floor)
    device = next(model.parameters()).device
    batch = batch_to_device(batch, device)
    was_training = model.training
    model.eval()
    accelerator = {} if device.type == "cpu" else {"device_type": device.type}
    with torch.random.fork_rng(devices=[device.index or 0] * (device.type != "cpu"),
                               enabled=seed is not None, **accelerator):
        if seed is not None:
            torch.manual_seed(seed)
        out = model(batch["ids"], batch["stress"], batch["text_lengths"], batch["mels"],
                    batch["mel_lengths"])
    model.train(was_training)
    return batch, out


def teacher_forced_alignment(model, processor, audio_config, item, cache_dir=None) -> dict:
    """Attention of `model` on one corpus item with the real mel fed back (as in training):
    ``{"attention": (steps, symbols), "focus_rate", "diagonality", "symbols"}``."""
    batch, out = teacher_forced_pass(model, processor, audio_config, item, cache_dir)
    steps = -(-batch["mel_lengths"] // model.config.reduction)
    metrics = attention_metrics(out["attention"], batch["text_lengths"], steps)
    symbols = [processor.get_phoneme_list()[i] for i in batch["ids"][0].tolist()]
    return {"attention": out["attention"][0, : int(steps[0])].cpu(), "symbols": symbols, **metrics}


def teacher_forced_mel(model, processor, audio_config, item, seed: int = 0,
                       cache_dir=None) -> torch.Tensor:
    """The acoustic model's own log-mel (n_mels, frames) of one corpus item with the real
    mel fed back (teacher forcing), frame for frame aligned with the recording: what a
    vocoder fine-tuned on the model's errors learns from. The same `seed` gives the same
    mel (`teacher_forced_pass`)."""
    batch, out = teacher_forced_pass(model, processor, audio_config, item, cache_dir, seed)
    frames = int(batch["mel_lengths"][0])
    return model.denormalize(out["mel_post"])[0, :frames].T.float().cpu()


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


# --------------------------------------------------------------------------- audio quality


def listen_to(reference: torch.Tensor, wave: torch.Tensor, audio, aligned: bool) -> dict:
    """The `quality.py` measures of `wave` against its `reference` recording: ``mcd``, the
    ``dnsmos_*`` scores with the quality extra, and ``stoi`` when the two are time-aligned
    (copy synthesis)."""
    scores = {"mcd": mcd_dtw(reference, wave, audio)}
    mos = dnsmos(wave, audio.sample_rate)
    if mos is not None:
        scores |= {f"dnsmos_{name}": value for name, value in mos.items()}
    if aligned:
        value = stoi(reference, wave, audio.sample_rate)
        if value is not None:
            scores["stoi"] = value
    return scores


@dataclass
class Rung:
    """One version of a recording on the listening ladder: its waveform and its scores
    against the recording (`listen_to`)."""

    name: str
    wave: torch.Tensor
    scores: dict


@torch.no_grad()
def listening_ladder(reference: torch.Tensor, audio, text: str | None = None,
                     synth: Synthesizer | None = None, vocoder=None,
                     griffin_lim_power: float | None = None) -> list[Rung]:
    """The ladder for one recording (samples,): ``natural``, ``griffin_lim`` and
    ``vocoder`` of its mel, and with a `synth` (and the recording's `text`) the acoustic
    model's own mel through both (``tts_griffin_lim``, ``tts_vocoder``, with the duration
    ratio). Rungs without their model are left out."""
    gl_audio = audio if griffin_lim_power is None else dataclasses.replace(
        audio, griffin_lim_power=griffin_lim_power)
    mel = mel_spectrogram(reference, audio)
    rungs = [("natural", reference, True, {}),
             ("griffin_lim", vocode_mel(mel, gl_audio), True, {})]
    if vocoder is not None:
        rungs.append(("vocoder", vocode_mel(mel, audio, vocoder), True, {}))
    if synth is not None and text:
        spoken = synth.synthesize(text, vocode=False,
                                  max_steps=3 * mel.shape[-1] // synth.model.config.reduction + 10)
        tts_mel = spoken.mel.T.contiguous()
        ratio = {"duration_ratio": tts_mel.shape[-1] / mel.shape[-1]}
        rungs.append(("tts_griffin_lim", vocode_mel(tts_mel, gl_audio), False, ratio))
        if vocoder is not None:
            rungs.append(("tts_vocoder", vocode_mel(tts_mel, audio, vocoder), False, ratio))
    return [Rung(name, wave, listen_to(reference, wave, audio, aligned) | extra)
            for name, wave, aligned, extra in rungs]


@torch.no_grad()
def audio_quality(corpus: str | Path, checkpoint: str | Path | None = None,
                  vocoder: str | Path | None = None, limit: int | None = None,
                  griffin_lim_power: float | None = None, device: str = "cpu") -> dict:
    """Mean scores of each rung of `listening_ladder` over (the first `limit` items of) a
    corpus: ``natural`` (DNSMOS of the recordings), ``griffin_lim`` and ``vocoder`` (copy
    synthesis of each recording's mel), ``tts_griffin_lim`` and ``tts_vocoder`` (the
    acoustic model's free-running mel; also its duration ratio)."""
    from .config import AudioConfig

    model = load_model(checkpoint, device) if checkpoint else None
    neural = load_vocoder(vocoder, device) if vocoder else None
    audio = model[2] if model else neural.audio if neural else AudioConfig()
    report = validate_corpus(corpus, audio, model[1] if model else None, read_audio_data=False)
    items = report.items[:limit] if limit else report.items
    if not items:
        raise ValueError(f"corpus {corpus} has no usable items:\n{report.summary()}")
    synth = Synthesizer.from_parts(model[0], model[1], audio) if model else None
    rows: dict[str, list[dict]] = {}
    for item in items:
        reference = load_audio(item.audio_path, audio)[0]
        for rung in listening_ladder(reference, audio, item.text, synth, neural,
                                     griffin_lim_power):
            rows.setdefault(rung.name, []).append(rung.scores)
    power = audio.griffin_lim_power if griffin_lim_power is None else griffin_lim_power
    return {"corpus": str(corpus), "items": len(items), "griffin_lim_power": power,
            "rungs": {name: mean_scores(scores) for name, scores in rows.items()}}


def mean_scores(rows: list[dict]) -> dict:
    """The mean of each score over `rows` (dicts with the same keys), rounded to 4 places."""
    return {key: round(statistics.fmean(row[key] for row in rows), 4) for key in rows[0]}


@torch.no_grad()
def griffin_lim_sweep(recordings: list[torch.Tensor], audio, powers=(1.0, 1.2, 1.5)
                      ) -> list[dict]:
    """Griffin-Lim of each recording's own mel at each magnitude power: one row per power,
    ``{"power": p, **mean scores}`` (`listen_to`, over the recordings)."""
    mels = [mel_spectrogram(clip, audio) for clip in recordings]
    rows = []
    for power in powers:
        sharpened = dataclasses.replace(audio, griffin_lim_power=power)
        scores = [listen_to(clip, vocode_mel(mel, sharpened), audio, True)
                  for clip, mel in zip(recordings, mels, strict=True)]
        rows.append({"power": power} | mean_scores(scores))
    return rows

