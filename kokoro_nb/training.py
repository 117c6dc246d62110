"""Training: one `Trainer` built from a `TrainConfig` (or a checkpoint), and its loop.

    trainer = Trainer(TrainConfig(preset="demo", epochs=10), resume="auto")
    final_model = trainer.train()

Read it top to bottom: `__init__` builds the run (`training_setup.py` holds the pieces),
`train_step` is one optimiser step (forward, losses, backward, clipping, Adam), `train` is the
loop over epochs and batches, `_end_epoch` validates and saves. The files it writes and their
names are `checkpoints.py`'s; metrics.jsonl and the progress bar are `runlog.py`'s.

`resume="auto"` continues from the newest checkpoint in the output directory; a resume may
change batch size, epochs and learning rate, and logs what changed. The step count, LR
schedule, RNG states and data order continue where they stopped, so a resumed run takes
the same steps as an uninterrupted one. SIGINT (Ctrl-C, a notebook's stop button) and SIGTERM
stop after the current step with a mid-epoch checkpoint.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from .audio import mel_statistics
from .checkpoints import (
    FINAL_NAME,
    METRICS_NAME,
    alignment_png_name,
    atomic_torch_save,
    epoch_checkpoint_name,
    find_latest_checkpoint,
    interrupted_checkpoint_name,
    load_weights,
    restore_rng_state,
    rng_state,
    training_checkpoint,
)
from .config import TrainConfig
from .corpus import LengthBucketSampler, TTSDataset, batch_to_device, collate_batch
from .device import (
    autocast,
    choose_device,
    choose_precision,
    describe_device,
    empty_cache,
    make_grad_scaler,
)
from .evaluation import teacher_forced_scores
from .losses import entropy_weight_at, tts_losses
from .model import KokoroTTS
from .plots import save_attention_png
from .runlog import Callbacks, MetricsFile, ProgressBar, RecordCallback, TrainingCallback
from .training_setup import (
    apply_resume_changes,
    build_optimizer,
    corpus_datasets,
    front_end,
    load_resume_checkpoint,
    prepare_output_dir,
    restore_optimization,
    resume_position,
)

log = logging.getLogger(__name__)


class Trainer:
    """Builds everything from a `TrainConfig` and trains; `train()` returns the final path.

    With `resume` ('auto' or a checkpoint path) the run continues that checkpoint's model,
    phoneme inventory, optimiser, schedule and random state.
    """

    def __init__(self, config: TrainConfig, resume: str | None = None) -> None:
        self.config = config
        self.output = prepare_output_dir(config.output)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = choose_device(config.device)
        self.precision = choose_precision(self.device, config.amp)
        checkpoint, self.resume_path = load_resume_checkpoint(self.output, resume)
        self.model_config, self.audio_config, self.processor = front_end(
            config, self.output, checkpoint, self.resume_path)
        self.corpus_dir, self.train_set, self.val_set = corpus_datasets(
            config, self.audio_config, self.processor)
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        self.model = KokoroTTS(self.model_config).to(self.device)
        self.optimizer, self.scheduler = build_optimizer(self.model, config)
        self.scaler = make_grad_scaler(self.device, self.precision)
        self.metrics = MetricsFile(self.output / METRICS_NAME)
        self.epoch = 0              # completed epochs
        self.global_step = 0        # optimiser steps taken (skipped ones included)
        self.batches_done = 0       # batches of the epoch in progress already trained
        self.last_loss = float("nan")
        self.nonfinite_in_row = 0
        self.stop_reason: str | None = None
        self.last_val_attention: torch.Tensor | None = None
        if checkpoint is not None:
            self._restore(checkpoint)
        else:  # a new run: mel statistics from the training set, a fresh metrics file
            stats = mel_statistics(self.train_set[i]["mel"].T for i in range(len(self.train_set)))
            self.model.set_mel_statistics(stats["mean"], stats["std"])
            self.metrics.remove()

    def _restore(self, checkpoint: dict) -> None:
        load_weights(self.model, checkpoint["model"], self.resume_path)
        restore_optimization(checkpoint, self.optimizer, self.scheduler, self.scaler)
        self.epoch, self.global_step, self.batches_done, self.last_loss = resume_position(
            checkpoint, self.config)
        changes = apply_resume_changes(checkpoint.get("train_config", {}), self.config,
                                       self.optimizer, self.scheduler, self.global_step)
        if changes:
            log.info("Resume changes: %s", "; ".join(changes))
        restore_rng_state(checkpoint.get("rng", {}), self.device)
        self.metrics.truncate_after(self.global_step)

    # ----------------------------------------------------------------- one step
    def collate_fn(self) -> Callable[[list[dict]], dict]:
        """How this run pads examples into a batch (a picklable partial, for loader workers)."""
        return partial(collate_batch, pad_id=self.processor.pad_id,
                       frames_multiple=self.model_config.reduction,
                       log_floor=self.audio_config.log_floor)

    def loader(self, dataset: TTSDataset, batches: list[list[int]]) -> DataLoader:
        # A private generator: creating a DataLoader iterator otherwise draws a seed from the
        # global RNG, and a resumed run (which creates one more iterator) would then see
        # different dropout masks than an uninterrupted one.
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(dataset, batch_sampler=batches, collate_fn=self.collate_fn(),
                          num_workers=self.config.num_workers, generator=generator,
                          pin_memory=self.device.type == "cuda")

    def forward_losses(self, batch: dict) -> tuple[dict, dict]:
        """Teacher-forced outputs and losses of a batch already on the device."""
        with autocast(self.device, self.precision):
            outputs = self.model(batch["ids"], batch["stress"], batch["text_lengths"],
                                 batch["mels"], batch["mel_lengths"])
        losses = tts_losses(outputs, batch, self.model_config.reduction, self.config,
                            entropy_weight_at(self.config, self.global_step))
        return outputs, losses

    def train_step(self, batch: dict) -> dict:
        """One optimiser step on `batch`; returns its losses, gradient norm and, when the loss
        or a gradient was NaN/Inf and the weights were left as they were, ``skipped``."""
        self.model.train()
        batch = batch_to_device(batch, self.device, non_blocking=True)
        _, losses = self.forward_losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        grad_norm = torch.tensor(float("nan"))
        skipped = not bool(torch.isfinite(losses["total"]))
        if not skipped:
            grad_norm, skipped = backward_and_update(losses["total"], self.model, self.optimizer,
                                                     self.scaler, self.config.grad_clip)
        if skipped:
            self.optimizer.zero_grad(set_to_none=True)
            self.nonfinite_in_row += 1
            log.warning("Non-finite loss or gradient at step %d (batch %s): step skipped",
                        self.global_step + 1, ", ".join(batch["item_ids"]))
        else:
            self.nonfinite_in_row = 0
        advance_schedule(self.scheduler)
        self.global_step += 1
        record = {k: float(v.detach()) for k, v in losses.items()} | {"grad_norm": float(grad_norm)}
        return record | ({"skipped": True} if skipped else {})

    @torch.no_grad()
    def validate(self) -> dict:
        """Teacher-forced losses and attention metrics on the validation items, averaged per
        item; keeps the first item's attention in `last_val_attention`."""
        self.model.eval()
        batches = LengthBucketSampler(self.val_set.frame_lengths(), self.config.batch_size,
                                      shuffle=False).batches()
        on_device = (batch_to_device(b, self.device) for b in self.loader(self.val_set, batches))
        scores, self.last_val_attention = teacher_forced_scores(
            on_device, self.forward_losses, self.model_config.reduction)
        self.model.train()
        return scores

    # ----------------------------------------------------------------- the loop
    def train(self, on_step: Callable[[dict], None] | None = None,
              callbacks: list[TrainingCallback] = ()) -> Path:
        """Train to `epochs` (or `max_steps` / `max_minutes`); write checkpoints and the final
        model; return the final model's path (after a signal: the mid-epoch checkpoint's).
        `on_step` gets every metrics record as it is written: each step's ("type": "train")
        and each validation's ("type": "val"); `callbacks` get those and the epoch bounds."""
        config = self.config
        hooks = Callbacks([*([ProgressBar()] if config.progress else []), *callbacks,
                           *([RecordCallback(on_step)] if on_step else [])])
        log.info("Starting training on device: %s", self.device.type)
        log.info("Device: %s; precision: %s", describe_device(self.device), self.precision.name)
        log.info("Training from epoch %d to %d", self.epoch + 1, config.epochs)
        sampler = LengthBucketSampler(self.train_set.frame_lengths(), config.batch_size,
                                      seed=config.seed)
        started = time.time()
        with StopSignals() as stop:
            for epoch in range(self.epoch + 1, config.epochs + 1):
                sampler.set_epoch(epoch)
                epoch_loss = self._train_epoch(epoch, sampler.batches(), stop, hooks)
                if self.stop_reason:  # a partial epoch: no epoch checkpoint for it
                    break
                self._end_epoch(epoch, epoch_loss, started, hooks)
                if self.stop_reason:
                    break
        if self.stop_reason:
            log.info("Stopping early: %s", self.stop_reason)
        if stop.signum is not None:  # not finished: the interrupted checkpoint is the result
            return find_latest_checkpoint(self.output)
        return self.save_final()

    def _train_epoch(self, epoch: int, batches: list[list[int]], stop: StopSignals,
                     hooks: TrainingCallback) -> float:
        """Train the epoch's batches (after a mid-epoch resume, those not yet trained); return
        the mean loss of its finite steps. Sets `stop_reason` when it stops early."""
        skip = self.batches_done
        if skip:
            log.info("Epoch %d: skipping the %d batches trained before the stop", epoch, skip)
        hooks.epoch_started(epoch, self.config.epochs, len(batches), skip)
        losses = []
        for index, batch in enumerate(self.loader(self.train_set, batches[skip:]), start=skip):
            step_start = time.time()
            lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
            result = self.train_step(batch)
            self.batches_done = index + 1
            if not result.get("skipped"):
                losses.append(result["total"])
            record = {"type": "train", "step": self.global_step, "epoch": epoch,
                      "loss": result.pop("total"), **result, "lr": lr,
                      "seconds": round(time.time() - step_start, 4)}
            self.metrics.write(record)
            hooks.record(record)
            if self.device.type == "mps" and self.config.mps_empty_cache_every and \
                    self.batches_done % self.config.mps_empty_cache_every == 0:
                empty_cache(self.device)
            self.stop_reason = self._stop_after_step(stop, batch)
            if self.stop_reason:
                break
        hooks.epoch_ended(epoch)
        return sum(losses) / max(len(losses), 1)

    def _stop_after_step(self, stop: StopSignals, batch: dict) -> str | None:
        """Why training stops after this step (None: it goes on). Too many non-finite steps
        in a row raise, after a mid-epoch checkpoint to resume from."""
        if self.nonfinite_in_row >= self.config.max_nonfinite_steps:
            path = self.save_interrupted()
            raise RuntimeError(
                f"{self.nonfinite_in_row} non-finite losses or gradients in a row (last batch: "
                f"{', '.join(map(str, batch['item_ids']))}); lower the learning rate or check "
                f"those items, then resume from {path}")
        if stop.signum is not None:
            self.save_interrupted()
            return f"{signal.Signals(stop.signum).name} received"
        if self.config.max_steps is not None and self.global_step >= self.config.max_steps:
            return f"max_steps {self.config.max_steps} reached"
        return None

    def _end_epoch(self, epoch: int, epoch_loss: float, started: float,
                   hooks: TrainingCallback) -> None:
        """An epoch is complete: log it, validate, and save a checkpoint when one is due."""
        self.epoch, self.batches_done, self.last_loss = epoch, 0, epoch_loss
        log.info("Epoch %d completed. Average loss: %.3f", epoch, epoch_loss)
        val = self.validate()
        record = {"type": "val", "step": self.global_step, "epoch": epoch,
                  "elapsed_s": round(time.time() - started, 1), **val}
        self.metrics.write(record)
        hooks.record(record)
        log.info("Validation: loss %.3f, focus rate %.3f, diagonality %.3f",
                 val["val_total"], val["focus_rate"], val["diagonality"])
        minutes = self.config.max_minutes
        out_of_time = minutes is not None and time.time() - started > minutes * 60
        if epoch % self.config.save_every == 0 or epoch == self.config.epochs or out_of_time:
            self.save_checkpoint()
        if out_of_time:
            self.stop_reason = f"max_minutes {minutes} reached"

    # ----------------------------------------------------------------- saving
    def checkpoint_state(self, with_optimizer: bool = True) -> dict:
        """This run as a checkpoint (`checkpoints.training_checkpoint`): with the optimizer,
        everything an exact resume needs; without, a model for synthesis."""
        progress = {"epoch": self.epoch, "batch_index": self.batches_done,
                    "global_step": self.global_step, "loss": self.last_loss}
        resume = None
        if with_optimizer:
            resume = {"optimizer": self.optimizer.state_dict(),
                      "scheduler": self.scheduler.state_dict(),
                      "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                      "rng": rng_state(self.device)}
        return training_checkpoint(self.model, self.processor, self.model_config,
                                   self.audio_config, self.config, progress, resume)

    def save_checkpoint(self) -> Path:
        """The epoch's checkpoint and its validation alignment PNG."""
        path = atomic_torch_save(self.checkpoint_state(),
                                 self.output / epoch_checkpoint_name(self.epoch))
        log.info("Checkpoint saved: %s", path)
        if self.last_val_attention is not None:
            save_attention_png(self.last_val_attention,
                               self.output / alignment_png_name(self.epoch),
                               f"epoch {self.epoch}, step {self.global_step}")
        return path

    def save_interrupted(self) -> Path:
        """A mid-epoch checkpoint: `epoch` epochs done plus `batches_done` of the next."""
        name = interrupted_checkpoint_name(self.epoch, self.global_step)
        path = atomic_torch_save(self.checkpoint_state(), self.output / name)
        log.info("Checkpoint saved: %s (epoch %d, batch %d)", path, self.epoch + 1,
                 self.batches_done)
        return path

    def save_final(self) -> Path:
        path = atomic_torch_save(self.checkpoint_state(with_optimizer=False),
                                 self.output / FINAL_NAME)
        log.info("Final model saved: %s", path)
        return path


def backward_and_update(loss: torch.Tensor, model: torch.nn.Module, optimizer, scaler,
                        grad_clip: float) -> tuple[torch.Tensor, bool]:
    """Backward, gradient clipping and the optimiser update (through the fp16 gradient scaler
    when there is one); returns the gradient norm and whether the update was skipped
    because a gradient was NaN/Inf."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler is not None:
        scaler.step(optimizer)  # skips the update itself on inf/NaN gradients
        scaler.update()
        return grad_norm, False
    if not bool(torch.isfinite(grad_norm)):
        return grad_norm, True
    optimizer.step()
    return grad_norm, False


def advance_schedule(scheduler) -> None:
    """One step of the learning-rate schedule, which counts steps, skipped ones included."""
    with warnings.catch_warnings():
        # After a skipped first step torch warns that the scheduler ran before the optimizer:
        # on purpose here.
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
        scheduler.step()


class StopSignals:
    """While active, SIGINT (Ctrl-C, a notebook's interrupt) and SIGTERM (`kill`, a job
    scheduler) only set `signum`: the loop stops after the current step with a resumable
    checkpoint. A second signal stops at once. Outside the main thread (where Python cannot
    install handlers) nothing changes."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict = {}

    def _request_stop(self, signum, _frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("Received %s: stopping after this step with a checkpoint",
                    signal.Signals(signum).name)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._request_stop)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
