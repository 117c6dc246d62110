"""Training: the loop, mixed precision, clipping, checkpoints, resume, logging, validation.

One `TrainConfig`, one `Trainer`. A run writes into its output directory:

    checkpoint_epoch_N.pth     every `save_every` epochs: everything an exact resume needs
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
import time
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from .audio import mel_statistics
from .config import AudioConfig, config_from_dict
from .corpus import (
    LengthBucketSampler,
    TTSDataset,
    collate_batch,
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
from .files import atomic_torch_save, load_checkpoint_file, load_processor, save_processor
from .losses import tts_losses
from .metrics import attention_metrics
from .model import KokoroTTS, ModelConfig, model_config
from .synthesis import save_alignment_png
from .text import RussianPhonemeProcessor

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "kokoro_nb.checkpoint"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint_epoch_(\d+)\.pth$")
FINAL_NAME = "kokoro_russian_final.pth"
PROCESSOR_NAME = "phoneme_processor.pkl"
METRICS_NAME = "metrics.jsonl"
# A preset's learning rate when --learning-rate is not given (the seed's 1e-4 for its model).
PRESET_LEARNING_RATES = {"default": 1e-4, "demo": 1e-3}


@dataclass
class TrainConfig:
    corpus: str | None = None
    output: str = "./kokoro_russian_model"
    batch_size: int = 8
    epochs: int = 100
    learning_rate: float | None = None   # None: the preset's (PRESET_LEARNING_RATES)
    save_every: int = 2
    preset: str = "default"
    device: str = "auto"
    amp: bool = True
    seed: int = 1234
    val_fraction: float = 0.05
    min_val_items: int = 8
    val_max_items: int = 32              # validation items scored each epoch
    grad_clip: float = 1.0
    warmup_steps: int = 200
    lr_half_life_steps: int = 20_000     # exponential decay after warm-up
    min_lr_ratio: float = 0.05
    guided_attention_weight: float = 10.0
    guided_attention_sigma: float = 0.2
    stop_pos_weight: float = 5.0
    mps_empty_cache_every: int = 50      # the seed's habit on Apple Silicon
    num_workers: int = 0
    cache_dir: str | None = None         # feature cache (default: ~/.cache/kokoro_nb/features)
    threads: int | None = None           # torch CPU threads (None: leave torch's default)
    max_steps: int | None = None         # stop after this many optimiser steps
    max_minutes: float | None = None     # stop at the first epoch end past this much time
    progress: bool = True                # tqdm bar per epoch

    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return PRESET_LEARNING_RATES.get(self.preset, 1e-4)


def lr_factor(step: int, warmup_steps: int, half_life: int, min_ratio: float) -> float:
    """Linear warm-up to 1, then exponential decay with the given half-life, floored."""
    warm = min(1.0, (step + 1) / max(1, warmup_steps))
    decay = 0.5 ** (max(0, step - warmup_steps) / max(1, half_life))
    return warm * max(min_ratio, decay)


def find_latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The checkpoint with the highest epoch number in `output_dir` (by name, not mtime)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    best = None
    for path in output_dir.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_file() and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), path)
    return best[1] if best else None


class Trainer:
    """Builds everything from a `TrainConfig` and trains; `train()` returns the final path."""

    def __init__(self, config: TrainConfig, resume: str | None = None) -> None:
        self.config = config
        self.output = Path(config.output)
        self.output.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = choose_device(config.device)
        self.precision = choose_precision(self.device, config.amp)
        self.audio_config = AudioConfig()
        self.epoch = 0          # completed epochs
        self.global_step = 0
        self.last_loss = float("nan")
        self.stop_reason: str | None = None

        checkpoint = self._load_resume(resume)
        if checkpoint is not None:
            self.audio_config = config_from_dict(AudioConfig, checkpoint["audio_config"])
            self.processor = RussianPhonemeProcessor.from_dict(checkpoint["processor"])
            self.model_config = _model_config_from_dict(checkpoint["model_config"])
        else:
            processor_path = self.output / PROCESSOR_NAME
            self.processor = (load_processor(processor_path) if processor_path.exists()
                              else RussianPhonemeProcessor())
            self.model_config = model_config(config.preset,
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
        self.train_set = TTSDataset(train_items, self.processor, self.audio_config, config.cache_dir)
        self.val_set = TTSDataset(val_items[: config.val_max_items], self.processor,
                                  self.audio_config, config.cache_dir)

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

    def _restore(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if self.scaler is not None and checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.epoch = int(checkpoint["epoch"])
        self.global_step = int(checkpoint["global_step"])
        self.last_loss = float(checkpoint["loss"])
        previous = checkpoint.get("train_config", {})
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
        path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")

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

    def save_final(self) -> Path:
        path = self.output / FINAL_NAME
        atomic_torch_save(self.checkpoint_state(with_optimizer=False), path)
        log.info("Final model saved: %s", path)
        return path

    # ----------------------------------------------------------------- loop
    def _loader(self, dataset: TTSDataset, sampler) -> DataLoader:
        collate = partial(collate_batch, pad_id=self.processor.pad_id,
                          frames_multiple=self.model_config.reduction,
                          log_floor=self.audio_config.log_floor)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                          num_workers=self.config.num_workers,
                          pin_memory=self.device.type == "cuda")

    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                for k, v in batch.items()}

    def _write_metrics(self, record: dict) -> None:
        with open(self.output / METRICS_NAME, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def train_step(self, batch: dict) -> dict:
        self.model.train()
        batch = self._to_device(batch)
        with autocast(self.device, self.precision):
            outputs = self.model(batch["ids"], batch["stress"], batch["text_lengths"],
                                 batch["mels"], batch["mel_lengths"])
        losses = tts_losses(outputs, batch, self.model_config.reduction,
                            self.config.stop_pos_weight, self.config.guided_attention_weight,
                            self.config.guided_attention_sigma)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(losses["total"]).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            losses["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.global_step += 1
        return {k: float(v.detach()) for k, v in losses.items()} | {"grad_norm": float(grad_norm)}

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
            with autocast(self.device, self.precision):
                outputs = self.model(batch["ids"], batch["stress"], batch["text_lengths"],
                                     batch["mels"], batch["mel_lengths"])
            losses = tts_losses(outputs, batch, self.model_config.reduction,
                                self.config.stop_pos_weight, self.config.guided_attention_weight,
                                self.config.guided_attention_sigma)
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
        model; return the final model's path. `on_step` gets each step's metrics record."""
        from tqdm.auto import tqdm

        config = self.config
        log.info("Starting training on device: %s", self.device.type)
        log.info("Device: %s; precision: %s", describe_device(self.device), self.precision.name)
        start_epoch = self.epoch + 1
        log.info("Training from epoch %d to %d", start_epoch, config.epochs)
        sampler = LengthBucketSampler(self.train_set.frame_lengths(), config.batch_size,
                                      seed=config.seed)
        started = time.time()
        for epoch in range(start_epoch, config.epochs + 1):
            sampler.set_epoch(epoch)
            loader = self._loader(self.train_set, sampler)
            bar = tqdm(loader, desc=f"Epoch {epoch}/{config.epochs}", disable=not config.progress,
                       leave=True)
            total, count = 0.0, 0
            for batch_index, batch in enumerate(bar):
                step_start = time.time()
                lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
                record = self.train_step(batch)
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
                if config.max_steps is not None and self.global_step >= config.max_steps:
                    self.stop_reason = f"max_steps {config.max_steps} reached"
                    break
            bar.close()
            if self.stop_reason:  # a partial epoch: no epoch checkpoint for it
                break
            self.epoch = epoch
            self.last_loss = total / max(count, 1)
            log.info("Epoch %d completed. Average loss: %.3f", epoch, self.last_loss)
            val = self.validate()
            self._write_metrics({"type": "val", "step": self.global_step, "epoch": epoch, **val})
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
        return self.save_final()


def _to_tuple(value):
    """random.setstate needs tuples where a checkpoint may hold lists."""
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


def _model_config_from_dict(data: dict) -> ModelConfig:
    data = dict(data)
    if "prenet_dims" in data:
        data["prenet_dims"] = tuple(data["prenet_dims"])
    return config_from_dict(ModelConfig, data)


def train_config_from_args(**kwargs) -> TrainConfig:
    """A TrainConfig from keyword arguments, ignoring None (= keep the default)."""
    known = {f.name for f in fields(TrainConfig)}
    return replace(TrainConfig(), **{k: v for k, v in kwargs.items() if k in known and v is not None})
