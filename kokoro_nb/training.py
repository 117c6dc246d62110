"""Training: one `Trainer` built from a `TrainConfig` (or a checkpoint), and its loop.

    trainer = Trainer(TrainConfig(preset="demo", epochs=10), resume="auto")
    final_model = trainer.train()

Read it top to bottom: `__init__` builds the run (`training_setup.py` holds the pieces),
`train_step` is one optimiser step (forward, losses, backward, clipping, Adam), `train` is the
loop over epochs and batches, `_end_epoch` validates and saves. The files it writes and their
names are `checkpoints.py`'s; metrics.jsonl and the progress bar are `runlog.py`'s.

`resume="auto"` continues from the newest checkpoint in the output directory, with that
run's settings; only settings given explicitly change (see `Trainer`), and the log says
which. The step count, LR schedule, RNG states and data order continue where they stopped, so
a resumed run takes the same steps as an uninterrupted one. SIGINT (Ctrl-C, a notebook's stop
button), SIGTERM and `max_steps` stop after the current step with a mid-epoch checkpoint;
`max_minutes` at the end of an epoch, with its checkpoint. After each validation the first
validation sentence is spoken free-running (the log line says whether it stopped), the best
model so far is kept as best.pth, and retention deletes old checkpoints (`--keep-last`).
"""

from __future__ import annotations

import logging
import math
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

from .audio import write_audio
from .checkpoints import (
    BEST_NAME,
    FINAL_NAME,
    METRICS_NAME,
    TENSORBOARD_DIR,
    alignment_png_name,
    atomic_torch_save,
    epoch_checkpoint_name,
    find_latest_checkpoint,
    interrupted_checkpoint_name,
    prune_checkpoints,
    sample_wav_name,
)
from .config import TrainConfig
from .corpus import (
    LengthBucketSampler,
    TTSDataset,
    batch_loader,
    batch_to_device,
    collate_batch,
)
from .distributed import Ranks, launched_by_torchrun
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
from .runlog import (
    Callbacks,
    MetricsFile,
    ProgressBar,
    RecordCallback,
    TensorBoardLogger,
    TrainingCallback,
)
from .synthesis import SynthesisResult, speak_item
from .training_setup import (
    build_model,
    build_optimizer,
    corpus_datasets,
    front_end,
    restore_run,
    run_checkpoint,
    run_settings,
    set_mel_statistics,
)

log = logging.getLogger(__name__)


class Trainer:
    """Builds everything from a `TrainConfig` and trains; `train()` returns the final path.

    With `resume` ('auto' or a checkpoint path) the run continues that checkpoint's model,
    phoneme inventory, optimiser, schedule, random state and settings: batch size, epochs,
    learning rate, preset, everything but `config.SESSION_SETTINGS` (output, max_steps,
    max_minutes, overwrite). Only `explicit` fields of `config` override the checkpoint's
    (each logged as ``name: old -> new``); by default those that differ from TrainConfig's
    defaults, e.g. ``Trainer(TrainConfig(epochs=200), resume="auto")`` trains on to epoch
    200. Pass ``explicit={"batch_size"}`` to set a field back to its default value.
    """

    def __init__(self, config: TrainConfig, resume: str | None = None,
                 explicit: set[str] | None = None) -> None:
        self.ranks = ranks = Ranks.from_environment()  # one, unless launched by torchrun
        self.config, self.output, checkpoint, self.resume_path, changes = run_settings(
            config, resume, explicit, writer=ranks.is_main)
        config = self.config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = ranks.join(choose_device(config.device), config.ddp_timeout_minutes)
        self.precision = choose_precision(self.device, config.amp)
        self.model_config, self.audio_config, self.processor = front_end(
            config, self.output, checkpoint, self.resume_path, writer=ranks.is_main)
        with ranks.main_first():  # rank 0 checks the corpus and fills the caches
            self.corpus_dir, self.train_set, self.val_set = corpus_datasets(
                config, self.audio_config, self.processor)
        # How this run pads examples into a batch (a picklable partial, for loader workers).
        self.collate = partial(collate_batch, pad_id=self.processor.pad_id,
                               frames_multiple=self.model_config.reduction,
                               log_floor=self.audio_config.log_floor)
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        self.model = build_model(self.model_config, config, self.device)
        if ranks.rank:  # the other ranks' dropout differs from rank 0's
            torch.manual_seed(config.seed + 1000 * ranks.rank)
        self.optimizer, self.scheduler = build_optimizer(self.model, config)
        self.scaler = make_grad_scaler(self.device, self.precision)
        self.metrics = MetricsFile(self.output / METRICS_NAME, enabled=ranks.is_main)
        self.epoch = 0              # completed epochs
        self.global_step = 0        # optimiser steps taken (skipped ones included)
        self.batches_done = 0       # batches of the epoch in progress already trained
        self.last_loss = self.best_val_loss = float("nan")
        self.epoch_losses: list[float] = []  # finite step losses of the epoch in progress
        self.nonfinite_in_row = 0
        self.stop_reason: str | None = None
        self.stopped_by_signal = False
        self.last_val_attention: torch.Tensor | None = None
        if checkpoint is not None:
            restore_run(self, checkpoint, changes)
        else:  # a new run: mel statistics from the training set, a fresh metrics file
            set_mel_statistics(self.model, self.train_set)
            self.metrics.remove()
        self.network = ranks.wrap(self.model, self.device)  # what trains: DDP under torchrun

    # ----------------------------------------------------------------- one step
    def loader(self, dataset: TTSDataset, batches: list[list[int]]) -> DataLoader:
        return batch_loader(dataset, batches, self.collate, self.config.num_workers,
                            self.config.seed, pin_memory=self.device.type == "cuda")

    def forward_losses(self, batch: dict, network: torch.nn.Module | None = None
                       ) -> tuple[dict, dict]:
        """Teacher-forced outputs and losses of a batch already on the device, through
        `network` (default: the model as it trains, DDP-wrapped under torchrun)."""
        with autocast(self.device, self.precision):
            outputs = (network or self.network)(batch["ids"], batch["stress"],
                                                batch["text_lengths"], batch["mels"],
                                                batch["mel_lengths"])
        losses = tts_losses(outputs, batch, self.model_config.reduction, self.config,
                            entropy_weight_at(self.config, self.global_step))
        return outputs, losses

    def train_step(self, *batches: dict) -> dict:
        """One optimiser step on a batch, or on several (gradient accumulation: each batch's
        loss / len(batches) adds its gradients). Returns the losses (mean over the batches),
        the gradient norm and, when a loss or gradient was NaN/Inf and the weights were left
        as they were, ``skipped``."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        on_device = [batch_to_device(b, self.device, non_blocking=True) for b in batches]
        totals, finite = accumulate_gradients(on_device, self.forward_losses, self.scaler,
                                              self.ranks, self.network)
        grad_norm, skipped = torch.tensor(float("nan")), not finite
        if finite:
            grad_norm, skipped = clip_and_update(self.model, self.optimizer, self.scaler,
                                                 self.config.grad_clip)
        if skipped:
            self.optimizer.zero_grad(set_to_none=True)
            self.nonfinite_in_row += 1
            log.warning("Non-finite loss or gradient at step %d (batch %s): step skipped",
                        self.global_step + 1, ", ".join(i for b in batches for i in b["item_ids"]))
        else:
            self.nonfinite_in_row = 0
        advance_schedule(self.scheduler)
        self.global_step += 1
        return totals | {"grad_norm": float(grad_norm)} | ({"skipped": True} if skipped else {})

    @torch.no_grad()
    def validate(self) -> dict:
        """Teacher-forced losses and attention metrics on the validation items, averaged per
        item; keeps the first item's attention in `last_val_attention`. Under torchrun rank 0
        validates alone, with the model itself (not its DDP wrapper)."""
        self.model.eval()
        batches = LengthBucketSampler(self.val_set.frame_lengths(), self.config.batch_size,
                                      shuffle=False).batches()
        on_device = (batch_to_device(b, self.device) for b in self.loader(self.val_set, batches))
        scores, self.last_val_attention = teacher_forced_scores(
            on_device, partial(self.forward_losses, network=self.model),
            self.model_config.reduction)
        self.model.train()
        return scores

    # ----------------------------------------------------------------- the loop
    def train(self, on_step: Callable[[dict], None] | None = None,
              callbacks: list[TrainingCallback] = ()) -> Path:
        """Train to `epochs` (or `max_steps` / `max_minutes`); write checkpoints and the final
        model; return the final model's path (after a signal: the mid-epoch checkpoint's).
        `on_step` gets every metrics record as written ("train" per step, "val" per
        validation); `callbacks` (`runlog.TrainingCallback`) get more."""
        config = self.config
        hooks = run_callbacks(config, self.output, on_step, callbacks, self.ranks.is_main)
        log.info("Starting training on device: %s", self.device.type)
        log.info("Device: %s; precision: %s", describe_device(self.device), self.precision.name)
        log.info("Training from epoch %d to %d", self.epoch + 1, config.epochs)
        sampler = LengthBucketSampler(self.train_set.frame_lengths(), config.batch_size,
                                      seed=config.seed, rank=self.ranks.rank,
                                      world_size=self.ranks.world_size)
        if self.ranks.world_size > 1:
            log.info("%d ranks: each trains %d batches of %d per epoch (a global batch of %d)",
                     self.ranks.world_size, len(sampler), config.batch_size,
                     config.batch_size * config.grad_accum * self.ranks.world_size)
        started = time.time()
        with StopSignals(repeat_stops_at_once=not launched_by_torchrun()) as stop:
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
        if self.stopped_by_signal:  # not finished: the interrupted checkpoint is the result
            return find_latest_checkpoint(self.output)
        return self.save(FINAL_NAME, with_optimizer=False)

    def _train_epoch(self, epoch: int, batches: list[list[int]], stop: StopSignals,
                     hooks: TrainingCallback) -> float:
        """Train the epoch's batches (after a mid-epoch resume, those not yet trained), one
        optimiser step per `grad_accum` batches; return the mean loss of its finite steps.
        Sets `stop_reason` when it stops early."""
        skip = self.batches_done
        if skip:
            log.info("Epoch %d: skipping the %d batches trained before the stop", epoch, skip)
        else:
            self.epoch_losses = []
        hooks.epoch_started(epoch, self.config.epochs, len(batches), skip)
        loader = self.loader(self.train_set, batches[skip:])
        for group in groups_of(loader, self.config.grad_accum):
            step_start = time.time()
            lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
            result = self.train_step(*group)
            self.batches_done += len(group)
            if not result.get("skipped"):
                self.epoch_losses.append(result["total"])
            record = {"type": "train", "step": self.global_step, "epoch": epoch,
                      "loss": result.pop("total"), **result, "lr": lr, "batches": len(group),
                      "seconds": round(time.time() - step_start, 4)}
            self.metrics.write(record)
            hooks.record(record)
            if self.device.type == "mps" and self.config.mps_empty_cache_every and \
                    self.global_step % self.config.mps_empty_cache_every == 0:
                empty_cache(self.device)
            self.stop_reason = self._stop_after_step(stop, group[-1])
            if self.stop_reason:
                break
        hooks.epoch_ended(epoch)
        return sum(self.epoch_losses) / max(len(self.epoch_losses), 1)

    def _stop_after_step(self, stop: StopSignals, batch: dict) -> str | None:
        """Why training stops after this step (None: it goes on), with a mid-epoch checkpoint
        to resume from. Too many non-finite steps in a row raise. Under torchrun a signal
        to any rank stops them all after this step."""
        self.stopped_by_signal = self.ranks.any(stop.signum is not None, self.device)
        if self.stopped_by_signal:
            reason = (f"{signal.Signals(stop.signum).name} received" if stop.signum is not None
                      else "another rank received a stop signal")
        elif self.config.max_steps is not None and self.global_step >= self.config.max_steps:
            reason = f"max_steps {self.config.max_steps} reached"
        elif self.nonfinite_in_row >= self.config.max_nonfinite_steps:
            raise NonFiniteTrainingError(self.nonfinite_in_row, batch, self.save_interrupted())
        else:
            return None
        self.save_interrupted()
        return reason

    def _end_epoch(self, epoch: int, epoch_loss: float, started: float,
                   hooks: TrainingCallback) -> None:
        """An epoch is complete: log it, validate (and listen to a validation sentence), keep
        the best model, and save a checkpoint when one is due. Under torchrun rank 0 decides
        (it validates, and its clock counts) and the others follow."""
        self.epoch, self.batches_done, self.last_loss = epoch, 0, epoch_loss
        log.info("Epoch %d completed. Average loss: %.3f", epoch, epoch_loss)
        sample, best = (validate_and_listen(self, epoch, started, hooks) if self.ranks.is_main
                        else (None, False))
        minutes = self.config.max_minutes
        if minutes is not None and time.time() - started > minutes * 60:
            self.stop_reason = f"max_minutes {minutes} reached"
        best, self.best_val_loss, self.stop_reason = self.ranks.from_main(
            (best, self.best_val_loss, self.stop_reason))
        if best:
            self.save(BEST_NAME, with_optimizer=False)
        if epoch % self.config.save_every == 0 or epoch == self.config.epochs or self.stop_reason:
            self.save_checkpoint(sample)

    # ----------------------------------------------------------------- saving
    def save_checkpoint(self, sample: SynthesisResult | None = None) -> Path:
        """The epoch's checkpoint, its validation alignment PNG and spoken sample; then the
        checkpoints retention no longer keeps are deleted (after the new one is written)."""
        path = self.save(epoch_checkpoint_name(self.epoch))
        if self.ranks.is_main:
            write_epoch_extras(self.output, self.epoch, self.global_step,
                               self.last_val_attention, sample)
            for old in prune_checkpoints(self.output, self.config.keep_last, protect=path):
                log.info("Checkpoint deleted (--keep-last %d): %s", self.config.keep_last,
                         old.name)
        return path

    def save_interrupted(self) -> Path:
        """A mid-epoch checkpoint: `epoch` epochs done plus `batches_done` of the next."""
        log.info("Stopping in epoch %d after its batch %d", self.epoch + 1, self.batches_done)
        return self.save(interrupted_checkpoint_name(self.epoch, self.global_step))

    def save(self, name: str, with_optimizer: bool = True) -> Path:
        """This run as a checkpoint, or without the optimizer as a model alone (the final
        model, best.pth), written atomically into the output directory: by rank 0 under
        torchrun, while the others wait."""
        state, path = run_checkpoint(self, with_optimizer), self.output / name
        if self.ranks.is_main:
            atomic_torch_save(state, path)
            kind = ("Checkpoint" if with_optimizer else "Final model" if name == FINAL_NAME
                    else "Model")
            log.info("%s saved: %s", kind, path)
        self.ranks.barrier()
        return path


def validate_and_listen(trainer: Trainer, epoch: int, started: float, hooks: TrainingCallback
                        ) -> tuple[SynthesisResult, bool]:
    """The epoch's validation and its spoken sample, logged and reported; returns the sample
    and whether the model is the best so far (its validation loss the lowest)."""
    val = trainer.validate()
    first = trainer.val_set.items[0]
    sample = speak_item(trainer.model, trainer.processor, trainer.audio_config, first)
    record = {"type": "val", "step": trainer.global_step, "epoch": epoch,
              "elapsed_s": round(time.time() - started, 1), **val,
              "sample_stopped": sample.stopped, "sample_duration_s": round(sample.duration_s, 3)}
    trainer.metrics.write(record)
    hooks.record(record)
    hooks.validated(record, trainer.last_val_attention, sample)
    log.info("Validation: %s", describe_validation(record, first.duration_s))
    loss = val["val_postnet"]  # the mel the vocoder hears
    best = math.isfinite(loss) and not loss >= trainer.best_val_loss  # lower, or the first
    if best:
        trainer.best_val_loss = loss
    return sample, best


def run_callbacks(config: TrainConfig, output: Path, on_step: Callable[[dict], None] | None,
                  extra: list[TrainingCallback], main: bool = True) -> Callbacks:
    """What a run reports to: the progress bar (unless ``progress`` is off), TensorBoard in
    ``<output>/tensorboard`` (unless ``tensorboard`` is off), the caller's callbacks, and
    `on_step` for every metrics record. Under torchrun only rank 0 (`main`) reports."""
    if not main:
        return Callbacks([])
    return Callbacks([*([ProgressBar()] if config.progress else []),
                      *([TensorBoardLogger(output / TENSORBOARD_DIR)] if config.tensorboard else []),
                      *extra, *([RecordCallback(on_step)] if on_step else [])])


def write_epoch_extras(output: Path, epoch: int, step: int, attention: torch.Tensor | None,
                       sample: SynthesisResult | None) -> None:
    """Beside an epoch's checkpoint: its validation alignment PNG and its spoken sample."""
    from .plots import save_attention_png  # matplotlib: imported when first needed

    if attention is not None:
        save_attention_png(attention, output / alignment_png_name(epoch),
                           f"epoch {epoch}, step {step}")
    if sample is not None:
        write_audio(output / sample_wav_name(epoch), sample.wave, sample.sample_rate)


def describe_validation(record: dict, recording_s: float) -> str:
    """The log line of a validation record: its loss, attention and spoken sample."""
    stop = "stopped by itself" if record["sample_stopped"] else "no stop"
    return (f"loss {record['val_total']:.3f}, focus rate {record['focus_rate']:.3f}, "
            f"diagonality {record['diagonality']:.3f}; sample: {stop}, "
            f"{record['sample_duration_s']:.2f} s (recording {recording_s:.2f} s)")


def groups_of(batches, size: int):
    """Consecutive groups of `size` batches (the last may be shorter)."""
    group = []
    for batch in batches:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


class NonFiniteTrainingError(RuntimeError):
    """Training stopped after too many NaN/Inf losses or gradients in a row."""

    def __init__(self, count: int, batch: dict, checkpoint: Path) -> None:
        super().__init__(
            f"{count} non-finite losses or gradients in a row (last batch: "
            f"{', '.join(map(str, batch['item_ids']))}); lower the learning rate or check those "
            f"items, then resume from {checkpoint}")


def accumulate_gradients(batches: list[dict], forward, scaler, ranks: Ranks | None = None,
                         network: torch.nn.Module | None = None) -> tuple[dict[str, float], bool]:
    """Backward of each batch's loss / len(batches) (scaled for fp16 when there is a scaler):
    the gradients of their mean. Returns the mean losses and whether all were finite (it
    stops at the first that is not, before its backward). Under torchrun the losses are
    the means over the ranks, so all ranks see the same NaN and skip together, and DDP
    all-reduces the gradients once, in the last batch's backward."""
    ranks = ranks or Ranks()
    totals: dict[str, float] = {}
    for index, batch in enumerate(batches):
        with ranks.accumulating(network, last=index == len(batches) - 1):
            _, losses = forward(batch)
            means = ranks.mean(losses)
            for key, value in means.items():
                totals[key] = totals.get(key, 0.0) + value / len(batches)
            if not math.isfinite(means["total"]):
                return totals, False
            loss = losses["total"] / len(batches)
            (scaler.scale(loss) if scaler is not None else loss).backward()
    return totals, True


def clip_and_update(model: torch.nn.Module, optimizer, scaler, grad_clip: float
                    ) -> tuple[torch.Tensor, bool]:
    """Gradient clipping and the optimiser update, through the fp16 gradient scaler when
    there is one; returns the gradient norm and whether the update was skipped because a
    gradient was NaN/Inf (the scaler then lowers its scale, which is how it is seen)."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler is not None:
        scale = scaler.get_scale()
        scaler.step(optimizer)  # skips the update itself on inf/NaN gradients
        scaler.update()
        return grad_norm, scaler.get_scale() < scale
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
    checkpoint. A second signal stops at once, unless `repeat_stops_at_once` is off: under
    torchrun, whose launcher passes on to its workers the signal they may already have got
    (from a job scheduler or a terminal, which signal the whole process group). Outside
    the main thread (where Python cannot install handlers) nothing changes."""

    def __init__(self, repeat_stops_at_once: bool = True) -> None:
        self.signum: int | None = None
        self.repeat_stops_at_once = repeat_stops_at_once
        self._previous: dict = {}

    def _request_stop(self, signum, _frame) -> None:
        if self.signum is not None:
            if not self.repeat_stops_at_once:
                return
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
