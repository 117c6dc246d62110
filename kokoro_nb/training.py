"""Training: the loop, mixed precision, clipping, checkpoints, resume, logging, validation.

One `TrainConfig`, one `Trainer`. A run writes into its output directory:

    checkpoint_epoch_N.pth     every `save_every` epochs: everything an exact resume needs
    checkpoint_epoch_N_step_S.pth  on SIGINT/SIGTERM (Ctrl-C, `kill`) or after repeated
                               non-finite losses: N epochs done plus part of the next, S steps
    alignment_epoch_N.png      the validation alignment at that checkpoint
    phoneme_processor.pkl      the front end as plain data (+ .json beside it)
    kokoro_russian_final.pth   the trained model for synthesis
    metrics.jsonl              one JSON line per step ("train") and per validation ("val")

`--resume auto` continues from the checkpoint with the highest epoch; a resume may change
batch size, epochs and learning rate, and logs what changed. The step count, LR schedule,
RNG states and data order continue where they stopped.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import signal
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from .audio import mel_statistics
from .config import AudioConfig
from .corpus import (
    LengthBucketSampler,
    TTSDataset,
    batch_to_device,
    collate_batch,
    default_cache_dir,
    resolve_corpus_dir,
    split_items,
    validate_corpus,
)
from .device import (
    autocast,
    choose_device,
    choose_precision,
    describe_device,
    empty_cache,
    make_grad_scaler,
)
from .files import (
    CHECKPOINT_FORMAT,
    atomic_torch_save,
    atomic_write_bytes,
    load_checkpoint_file,
    load_processor,
    save_processor,
)
from .losses import tts_losses
from .metrics import attention_metrics
from .model import KokoroTTS, model_config
from .synthesis import checkpoint_parts, load_weights, save_alignment_png
from .text import RussianPhonemeProcessor

log = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint_epoch_(\d+)(?:_step_(\d+))?\.pth$")
FINAL_NAME = "kokoro_russian_final.pth"
PROCESSOR_NAME = "phoneme_processor.pkl"
METRICS_NAME = "metrics.jsonl"
# A preset's learning rate when --learning-rate is not given (the seed's 1e-4 for its model).
PRESET_LEARNING_RATES = {"default": 1e-4, "demo": 1e-3}
# Attention-entropy weight per preset (see `Trainer.entropy_weight`). On the demo corpus the
# alignment is diagonal by step ~250; sharpening it from step 300 on lifts the 15-minute
# validation focus rate from 0.71 to 0.86 for a mel L1 about 5% higher (0.1 gave 0.95 but
# 20% worse mels and an unsteady diagonality; README). Off for the default preset: on a large
# corpus choose the start after the alignment has formed (`--attention-entropy-start`).
PRESET_ENTROPY_WEIGHTS = {"default": 0.0, "demo": 0.02}


@dataclass
class TrainConfig:
    corpus: str | None = None
    output: str = "./kokoro_russian_model"
    batch_size: int = 8
    epochs: int = 100
    learning_rate: float | None = None   # None: the preset's (PRESET_LEARNING_RATES)
    save_every: int = 2
    preset: str = "default"
    model_changes: dict = field(default_factory=dict)  # ModelConfig fields to override
    device: str = "auto"
    amp: bool = True
    seed: int = 1234
    val_fraction: float = 0.05
    min_val_items: int = 8
    val_max_items: int = 32              # validation items scored each epoch
    grad_clip: float = 1.0
    warmup_steps: int = 50
    lr_half_life_steps: int = 20_000     # exponential decay after warm-up
    min_lr_ratio: float = 0.05
    guided_attention_weight: float = 10.0
    guided_attention_sigma: float = 0.2
    attention_entropy_weight: float | None = None  # > 0 rewards sharp attention; None: the
                                                   # preset's (PRESET_ENTROPY_WEIGHTS)
    attention_entropy_start: int = 300     # ... off until this step, then ramped in over as many
    stop_pos_weight: float = 5.0
    mps_empty_cache_every: int = 50      # the seed's habit on Apple Silicon
    num_workers: int = 0
    cache_dir: str | None = None         # feature cache (default: ~/.cache/kokoro_nb/features)
    threads: int | None = None           # torch CPU threads (None: leave torch's default)
    max_steps: int | None = None         # stop after this many optimiser steps
    max_minutes: float | None = None     # stop at the first epoch end past this much time
    max_nonfinite_steps: int = 10        # stop (with a checkpoint) after this many NaN/Inf in a row
    progress: bool = True                # tqdm bar per epoch

    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return PRESET_LEARNING_RATES.get(self.preset, 1e-4)

    def resolved_entropy_weight(self) -> float:
        if self.attention_entropy_weight is not None:
            return float(self.attention_entropy_weight)
        return PRESET_ENTROPY_WEIGHTS.get(self.preset, 0.0)


def lr_factor(step: int, warmup_steps: int, half_life: int, min_ratio: float) -> float:
    """Linear warm-up to 1, then exponential decay with the given half-life, floored."""
    warm = min(1.0, (step + 1) / max(1, warmup_steps))
    decay = 0.5 ** (max(0, step - warmup_steps) / max(1, half_life))
    return warm * max(min_ratio, decay)


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics.jsonl (a directory means its metrics.jsonl); a line cut
    short by a crash is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def find_latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest checkpoint in `output_dir` by name, not mtime: the highest completed epoch,
    and among equal epochs a mid-epoch (``_step_S``) checkpoint after the epoch's own."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    best = None
    for path in output_dir.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_file():
            key = (int(match.group(1)), int(match.group(2)) if match.group(2) else -1)
            if best is None or key > best[0]:
                best = (key, path)
    return best[1] if best else None


class Trainer:
    """Builds everything from a `TrainConfig` and trains; `train()` returns the final path."""

    def __init__(self, config: TrainConfig, resume: str | None = None) -> None:
        self.config = config
        self.output = Path(config.output)
        self.output.mkdir(parents=True, exist_ok=True)
        for stale in self.output.glob(".*.tmp"):  # left by a write that a crash interrupted
            stale.unlink(missing_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = choose_device(config.device)
        self.precision = choose_precision(self.device, config.amp)
        self.audio_config = AudioConfig()
        self.epoch = 0          # completed epochs
        self.global_step = 0
        self.last_loss = float("nan")
        self.stop_reason: str | None = None
        self.batches_done = 0     # batches of the epoch in progress already trained (resume)
        self.nonfinite_in_row = 0
        self._signal: int | None = None

        checkpoint = self._load_resume(resume)
        if checkpoint is not None:
            self.model_config, self.audio_config, self.processor = checkpoint_parts(
                checkpoint, self.resume_path)
            self._check_requested_model(checkpoint)
        else:
            processor_path = self.output / PROCESSOR_NAME
            self.processor = (load_processor(processor_path) if processor_path.exists()
                              else RussianPhonemeProcessor())
            self.model_config = model_config(config.preset, **config.model_changes,
                                             vocab_size=self.processor.get_vocab_size())
        save_processor(self.processor, self.output / PROCESSOR_NAME)

        corpus_dir = resolve_corpus_dir(config.corpus)
        report = validate_corpus(corpus_dir, self.audio_config, self.processor)
        for issue in report.issues:
            (log.warning if issue.skipped else log.debug)("corpus: %s", issue)
        if not report.usable:
            raise ValueError(f"corpus {corpus_dir} has no usable items:\n{report.summary()}")
        log.info("Loaded %d samples from corpus at %s", len(report.items), corpus_dir)
        self.corpus_dir = corpus_dir
        train_items, val_items = split_items(report.items, config.val_fraction,
                                             config.min_val_items, seed=config.seed)
        cache_dir = config.cache_dir or default_cache_dir()
        self.train_set = TTSDataset(train_items, self.processor, self.audio_config, cache_dir)
        self.val_set = TTSDataset(val_items[: config.val_max_items], self.processor,
                                  self.audio_config, cache_dir)

        torch.manual_seed(config.seed)
        random.seed(config.seed)
        self.model = KokoroTTS(self.model_config).to(self.device)
        lr = config.resolved_learning_rate()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, betas=(0.9, 0.999),
                                          eps=1e-6, weight_decay=1e-6)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            partial(lr_factor, warmup_steps=config.warmup_steps,
                    half_life=config.lr_half_life_steps, min_ratio=config.min_lr_ratio))
        self.scaler = make_grad_scaler(self.device, self.precision)

        if checkpoint is not None:
            self._restore(checkpoint)
        else:
            stats = mel_statistics(self.train_set[i]["mel"].T for i in range(len(self.train_set)))
            self.model.set_mel_statistics(stats["mean"], stats["std"])
            (self.output / METRICS_NAME).unlink(missing_ok=True)

    # ----------------------------------------------------------------- resume
    def _load_resume(self, resume: str | None) -> dict | None:
        if not resume:
            return None
        if resume == "auto":
            path = find_latest_checkpoint(self.output)
            if path is None:
                log.info("No checkpoint in %s: starting a new run", self.output)
                return None
        else:
            path = Path(resume)
        checkpoint = load_checkpoint_file(path)
        if checkpoint.get("format") != CHECKPOINT_FORMAT or "optimizer" not in checkpoint:
            raise ValueError(f"{path}: not a resumable kokoro_nb training checkpoint")
        log.info("Resuming from %s (epoch %d, step %d)", path, checkpoint["epoch"],
                 checkpoint["global_step"])
        self.resume_path = path
        return checkpoint

    def _check_requested_model(self, checkpoint: dict) -> None:
        """A resumed run continues the checkpoint's model; asking for another is an error
        that names the differences (inference-only settings may differ)."""
        requested = model_config(self.config.preset, **self.config.model_changes,
                                 vocab_size=self.model_config.vocab_size)
        free = {"max_decoder_steps", "stop_threshold", "prenet_dropout_at_inference"}
        stored, wanted = asdict(self.model_config), asdict(requested)
        differences = [f"{name} {stored[name]} (checkpoint) vs {wanted[name]} (this run)"
                       for name in stored if name not in free and stored[name] != wanted[name]]
        if differences:
            was = checkpoint.get("train_config", {}).get("preset", "?")
            raise ValueError(
                f"{self.resume_path} was trained with a different model than this run asks "
                f"for: {'; '.join(differences)}. Resume with the checkpoint's settings "
                f"(--preset {was}) or train into a new --output directory.")

    def _restore(self, checkpoint: dict) -> None:
        load_weights(self.model, checkpoint["model"], self.resume_path)
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if self.scaler is not None and checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.epoch = int(checkpoint["epoch"])
        self.global_step = int(checkpoint["global_step"])
        self.last_loss = float(checkpoint["loss"])
        previous = checkpoint.get("train_config", {})
        self.batches_done = int(checkpoint.get("batch_index", 0))
        if self.batches_done and previous.get("batch_size") != self.config.batch_size:
            log.warning("The checkpoint stopped inside epoch %d, but the batch size changed: "
                        "that epoch restarts from its first batch", self.epoch + 1)
            self.batches_done = 0
        changes = []
        for name in ("batch_size", "epochs"):
            if previous.get(name) != getattr(self.config, name):
                changes.append(f"{name} {previous.get(name)} -> {getattr(self.config, name)}")
        old_lr = previous.get("resolved_learning_rate")
        new_lr = self.config.resolved_learning_rate()
        if old_lr is not None and not math.isclose(old_lr, new_lr):
            changes.append(f"learning_rate {old_lr:g} -> {new_lr:g}")
            # The schedule keeps its position; only its base rate changes.
            self.scheduler.base_lrs = [new_lr for _ in self.scheduler.base_lrs]
            for group in self.optimizer.param_groups:
                group["initial_lr"] = new_lr
                group["lr"] = new_lr * lr_factor(self.global_step, self.config.warmup_steps,
                                                  self.config.lr_half_life_steps,
                                                  self.config.min_lr_ratio)
        if changes:
            log.info("Resume changes: %s", "; ".join(changes))
        rng = checkpoint.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "python" in rng:
            random.setstate(_to_tuple(rng["python"]))
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["cuda"])
        self._truncate_metrics(self.global_step)

    def _truncate_metrics(self, step: int) -> None:
        """Drop metric lines written after the checkpoint (they will be written again)."""
        path = self.output / METRICS_NAME
        if not path.exists():
            return
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
        atomic_write_bytes(path, "".join(k + "\n" for k in kept).encode("utf-8"))

    # ----------------------------------------------------------------- checkpoints
    def checkpoint_state(self, with_optimizer: bool = True) -> dict:
        config = asdict(self.config) | {"resolved_learning_rate": self.config.resolved_learning_rate()}
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "model": self.model.state_dict(),
            "model_config": asdict(self.model_config),
            "audio_config": asdict(self.audio_config),
            "train_config": config,
            "epoch": self.epoch,
            "batch_index": self.batches_done,
            "global_step": self.global_step,
            "loss": self.last_loss,
            "phonemes": self.processor.get_phoneme_list(),
            "processor": self.processor.to_dict(),
        }
        if with_optimizer:
            rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
            if self.device.type == "cuda":
                rng["cuda"] = torch.cuda.get_rng_state_all()
            state |= {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": rng,
            }
        return state

    def save_checkpoint(self) -> Path:
        path = self.output / f"checkpoint_epoch_{self.epoch}.pth"
        atomic_torch_save(self.checkpoint_state(), path)
        log.info("Checkpoint saved: %s", path)
        return path

    def save_interrupted(self) -> Path:
        """A mid-epoch checkpoint: `epoch` epochs done plus `batches_done` of the next."""
        path = self.output / f"checkpoint_epoch_{self.epoch}_step_{self.global_step}.pth"
        atomic_torch_save(self.checkpoint_state(), path)
        log.info("Checkpoint saved: %s (epoch %d, batch %d)", path, self.epoch + 1,
                 self.batches_done)
        return path

    def save_final(self) -> Path:
        path = self.output / FINAL_NAME
        atomic_torch_save(self.checkpoint_state(with_optimizer=False), path)
        log.info("Final model saved: %s", path)
        return path

    # ----------------------------------------------------------------- loop
    def collate_fn(self) -> Callable[[list[dict]], dict]:
        """How this run pads examples into a batch (a picklable partial, for loader workers)."""
        return partial(collate_batch, pad_id=self.processor.pad_id,
                       frames_multiple=self.model_config.reduction,
                       log_floor=self.audio_config.log_floor)

    def _loader(self, dataset: TTSDataset, sampler) -> DataLoader:
        collate = self.collate_fn()
        # A private generator: creating a DataLoader iterator otherwise draws a seed from the
        # global RNG, and a resumed run (which creates one more iterator) would then see
        # different dropout masks than an uninterrupted one.
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                          num_workers=self.config.num_workers, generator=generator,
                          pin_memory=self.device.type == "cuda")

    def _to_device(self, batch: dict) -> dict:
        return batch_to_device(batch, self.device, non_blocking=True)

    def _write_metrics(self, record: dict) -> None:
        with open(self.output / METRICS_NAME, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def entropy_weight(self) -> float:
        """The attention-entropy weight at this step: 0 until `attention_entropy_start` (the
        alignment must form first: sharpening a wrong alignment locks it in), then a linear
        ramp to `attention_entropy_weight` over as many steps again."""
        start = self.config.attention_entropy_start
        ramp = 1.0 if start <= 0 else min(max((self.global_step - start) / start, 0.0), 1.0)
        return self.config.resolved_entropy_weight() * ramp

    def _forward_losses(self, batch: dict) -> tuple[dict, dict]:
        """Teacher-forced outputs and losses of a batch already on the device."""
        with autocast(self.device, self.precision):
            outputs = self.model(batch["ids"], batch["stress"], batch["text_lengths"],
                                 batch["mels"], batch["mel_lengths"])
        losses = tts_losses(outputs, batch, self.model_config.reduction,
                            self.config.stop_pos_weight, self.config.guided_attention_weight,
                            self.config.guided_attention_sigma, self.entropy_weight())
        return outputs, losses

    def train_step(self, batch: dict) -> dict:
        self.model.train()
        batch = self._to_device(batch)
        _, losses = self._forward_losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        skipped = not bool(torch.isfinite(losses["total"]))
        grad_norm = torch.tensor(float("nan"))
        if not skipped:
            if self.scaler is not None:
                self.scaler.scale(losses["total"]).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                losses["total"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)  # skips the update itself on inf/NaN grads
                self.scaler.update()
            elif bool(torch.isfinite(grad_norm)):
                self.optimizer.step()
            else:
                skipped = True
        if skipped:  # a NaN/Inf loss or gradient: the weights stay as they were
            self.optimizer.zero_grad(set_to_none=True)
            self.nonfinite_in_row += 1
            log.warning("Non-finite loss or gradient at step %d (batch %s): step skipped",
                        self.global_step + 1, ", ".join(batch["item_ids"]))
        else:
            self.nonfinite_in_row = 0
        with warnings.catch_warnings():
            # A skipped first step makes torch warn that the scheduler ran before the
            # optimizer; the schedule counts steps, skipped or not, on purpose.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
            self.scheduler.step()
        self.global_step += 1
        record = {k: float(v.detach()) for k, v in losses.items()} | {"grad_norm": float(grad_norm)}
        return record | ({"skipped": True} if skipped else {})

    @torch.no_grad()
    def validate(self) -> dict:
        """Teacher-forced losses and attention metrics on the validation items."""
        self.model.eval()
        sampler = LengthBucketSampler(self.val_set.frame_lengths(), self.config.batch_size,
                                      shuffle=False)
        totals: dict[str, float] = {}
        weights_sum = 0
        focus = diagonal = 0.0
        first_attention = None
        for batch in self._loader(self.val_set, sampler):
            batch = self._to_device(batch)
            outputs, losses = self._forward_losses(batch)
            n = len(batch["item_ids"])
            steps = -(-batch["mel_lengths"] // self.model_config.reduction)
            metrics = attention_metrics(outputs["attention"], batch["text_lengths"], steps)
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value) * n
            focus += metrics["focus_rate"] * n
            diagonal += metrics["diagonality"] * n
            weights_sum += n
            if first_attention is None:
                first_attention = outputs["attention"][0, : int(steps[0]), : int(batch["text_lengths"][0])]
        self.model.train()
        result = {f"val_{k}": v / max(weights_sum, 1) for k, v in totals.items()}
        result["focus_rate"] = focus / max(weights_sum, 1)
        result["diagonality"] = diagonal / max(weights_sum, 1)
        self.last_val_attention = first_attention
        return result

    def train(self, on_step: Callable[[dict], None] | None = None) -> Path:
        """Train to `epochs` (or `max_steps` / `max_minutes`); write checkpoints and the final
        model; return the final model's path. `on_step` gets every metrics record as it is
        written: each step's ("type": "train") and each validation's ("type": "val")."""
        from tqdm.auto import tqdm

        config = self.config
        log.info("Starting training on device: %s", self.device.type)
        log.info("Device: %s; precision: %s", describe_device(self.device), self.precision.name)
        start_epoch = self.epoch + 1
        log.info("Training from epoch %d to %d", start_epoch, config.epochs)
        sampler = LengthBucketSampler(self.train_set.frame_lengths(), config.batch_size,
                                      seed=config.seed)
        started = time.time()
        previous_handlers = self._install_signal_handlers()
        try:
            return self._train_epochs(start_epoch, sampler, started, on_step, tqdm)
        finally:
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)

    def _install_signal_handlers(self) -> dict:
        """SIGINT (Ctrl-C, a notebook's interrupt) and SIGTERM (`kill`, a scheduler) ask the
        loop to stop after the current step with a resumable checkpoint."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def request_stop(signum, _frame):
            if self._signal is not None:  # a second Ctrl-C: stop at once
                raise KeyboardInterrupt
            self._signal = signum
            log.warning("Received %s: stopping after this step with a checkpoint",
                        signal.Signals(signum).name)

        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, request_stop)
        return previous

    def _train_epochs(self, start_epoch, sampler, started, on_step, tqdm) -> Path:
        config = self.config
        for epoch in range(start_epoch, config.epochs + 1):
            sampler.set_epoch(epoch)
            batches = sampler.batches()
            skip = self.batches_done if epoch == start_epoch else 0
            if skip:
                log.info("Epoch %d: skipping the %d batches trained before the stop", epoch, skip)
            loader = self._loader(self.train_set, batches[skip:])
            self.batches_done = skip
            bar = tqdm(loader, desc=f"Epoch {epoch}/{config.epochs}", disable=not config.progress,
                       leave=True, initial=skip, total=len(batches))
            total, count = 0.0, 0
            for batch_index, batch in enumerate(bar, start=skip):
                step_start = time.time()
                lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
                record = self.train_step(batch)
                self.batches_done = batch_index + 1
                if not record.get("skipped"):
                    total += record["total"]
                    count += 1
                record = {"type": "train", "step": self.global_step, "epoch": epoch,
                          "loss": record.pop("total"), **record,
                          "lr": lr,
                          "seconds": round(time.time() - step_start, 4)}
                self._write_metrics(record)
                if on_step is not None:
                    on_step(record)
                bar.set_postfix(loss=f"{record['loss']:.3f}")
                if (self.device.type == "mps" and config.mps_empty_cache_every
                        and (batch_index + 1) % config.mps_empty_cache_every == 0):
                    empty_cache(self.device)
                if self.nonfinite_in_row >= config.max_nonfinite_steps:
                    path = self.save_interrupted()
                    raise RuntimeError(
                        f"{self.nonfinite_in_row} non-finite losses or gradients in a row (last "
                        f"batch: {', '.join(record_ids(batch))}); lower the learning rate or "
                        f"check those items, then resume from {path}")
                if self._signal is not None:
                    self.stop_reason = f"{signal.Signals(self._signal).name} received"
                    self.save_interrupted()
                    break
                if config.max_steps is not None and self.global_step >= config.max_steps:
                    self.stop_reason = f"max_steps {config.max_steps} reached"
                    break
            bar.close()
            if self.stop_reason:  # a partial epoch: no epoch checkpoint for it
                break
            self.epoch = epoch
            self.batches_done = 0
            self.last_loss = total / max(count, 1)
            log.info("Epoch %d completed. Average loss: %.3f", epoch, self.last_loss)
            val = self.validate()
            val_record = {"type": "val", "step": self.global_step, "epoch": epoch,
                          "elapsed_s": round(time.time() - started, 1), **val}
            self._write_metrics(val_record)
            if on_step is not None:
                on_step(val_record)
            log.info("Validation: loss %.3f, focus rate %.3f, diagonality %.3f",
                     val["val_total"], val["focus_rate"], val["diagonality"])
            out_of_time = (config.max_minutes is not None
                           and time.time() - started > config.max_minutes * 60)
            if epoch % config.save_every == 0 or epoch == config.epochs or out_of_time:
                self.save_checkpoint()
                if self.last_val_attention is not None:
                    save_alignment_png(self.last_val_attention,
                                       self.output / f"alignment_epoch_{epoch}.png",
                                       f"epoch {epoch}, step {self.global_step}")
            if out_of_time:
                self.stop_reason = f"max_minutes {config.max_minutes} reached"
                break
        if self.stop_reason:
            log.info("Stopping early: %s", self.stop_reason)
        if self._signal is not None:  # not finished: the interrupted checkpoint is the result
            return find_latest_checkpoint(self.output)
        return self.save_final()


def record_ids(batch: dict) -> list[str]:
    return [str(i) for i in batch.get("item_ids", [])]


def _to_tuple(value):
    """random.setstate needs tuples where a checkpoint may hold lists."""
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


def train_config_from_args(**kwargs) -> TrainConfig:
    """A TrainConfig from keyword arguments, ignoring None (= keep the default)."""
    known = {f.name for f in fields(TrainConfig)}
    return replace(TrainConfig(), **{k: v for k, v in kwargs.items() if k in known and v is not None})


def compare_attention_kinds(steps: int = 300, corpus: str | None = None, seed: int = 1234,
                            batch_size: int = 16) -> list[dict]:
    """Train the demo model twice for `steps` steps from the same start, once with
    location-aware and once with content-only attention, and score each one's alignment on
    the same validation sentence (what notebook 06 shows)."""
    import tempfile

    from .evaluation import teacher_forced_alignment

    rows = []
    for kind in ("location", "content"):
        with tempfile.TemporaryDirectory() as output:
            config = TrainConfig(corpus=corpus, output=output, preset="demo", batch_size=batch_size,
                                 epochs=10_000, max_steps=steps, seed=seed, progress=False,
                                 model_changes={"attention": kind})
            trainer = Trainer(config)
            trainer.train()
            item = trainer.val_set.items[0]
            result = teacher_forced_alignment(trainer.model, trainer.processor,
                                              trainer.audio_config, item, config.cache_dir)
        rows.append({"attention": kind, "steps": trainer.global_step,
                     "focus_rate": result["focus_rate"], "diagonality": result["diagonality"],
                     "attention_matrix": result["attention"], "text": item.text})
    return rows
