"""Building a training run, from a `TrainConfig` (a new run) or a checkpoint (a resumed one).

`Trainer.__init__` calls these in order: the output directory, the checkpoint to resume
from, the front end and model config (the checkpoint's when resuming: a resumed run keeps
its model and phoneme inventory), the corpus split into datasets, the optimiser and its
learning-rate schedule, and on resume the settings that changed.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import asdict, fields, replace
from functools import partial
from pathlib import Path

import torch

from .audio import mel_statistics
from .checkpoints import (
    BEST_NAME,
    FINAL_NAME,
    METRICS_NAME,
    PROCESSOR_NAME,
    TENSORBOARD_DIR,
    check_format,
    checkpoint_parts,
    find_latest_checkpoint,
    list_checkpoints,
    load_checkpoint_file,
    load_processor,
    load_weights,
    remove_stale_temp_files,
    restore_rng_state,
    resume_state,
    rng_state,
    save_processor,
    training_checkpoint,
)
from .config import (
    PRESET_TRAINING,
    SESSION_SETTINGS,
    AudioConfig,
    ModelConfig,
    TrainConfig,
    model_config,
    stored_train_config,
)
from .corpus import (
    TTSDataset,
    default_cache_dir,
    resolve_corpus_dir,
    training_split,
    validate_corpus,
)
from .model import KokoroTTS, compile_decoder_step
from .text import RussianPhonemeProcessor

# The run's log reads as one source, as the seed's does: "INFO:kokoro_nb.training:Loaded ...".
log = logging.getLogger("kokoro_nb.training")

# ModelConfig fields that only matter at inference: a resume may change them.
INFERENCE_ONLY = frozenset({"max_decoder_steps", "stop_threshold", "prenet_dropout_at_inference"})


def prepare_output_dir(output: str, writer: bool = True) -> Path:
    """The output directory, created, without the temp files of writes a crash interrupted
    (the `writer`'s job: under torchrun, rank 0's)."""
    path = Path(output)
    path.mkdir(parents=True, exist_ok=True)
    if writer:
        remove_stale_temp_files(path)
    return path


def load_resume_checkpoint(output: Path, resume: str | None) -> tuple[dict | None, Path | None]:
    """The checkpoint `resume` names ('auto': the newest in `output`), loaded and checked to
    be resumable; (None, None) for a new run."""
    if not resume:
        return None, None
    if resume == "auto":
        path = find_latest_checkpoint(output)
        if path is None:
            log.info("No checkpoint in %s: starting a new run", output)
            return None, None
    else:
        path = Path(resume)
    checkpoint = load_checkpoint_file(path)
    check_format(checkpoint, path)
    if "optimizer" not in checkpoint:
        raise ValueError(f"{path}: not a resumable kokoro_nb training checkpoint (a final "
                         f"model holds no optimiser state); resume from a checkpoint_epoch_*.pth")
    log.info("Resuming from %s (epoch %d, step %d)", path, checkpoint["epoch"],
             checkpoint["global_step"])
    return checkpoint, path


# What a run leaves in its output directory besides the phoneme processor (which may be a
# custom front end prepared for the directory, so a new run keeps it).
RUN_FILE_PATTERNS = ("alignment_epoch_*.png", "sample_epoch_*.wav", TENSORBOARD_DIR)


def run_settings(config: TrainConfig, resume: str | None, explicit: set[str] | None,
                 writer: bool = True
                 ) -> tuple[TrainConfig, Path, dict | None, Path | None, list[str]]:
    """Where and with which settings a run goes on: its config (the checkpoint's when
    resuming, see `resumed_config`; `explicit` None means the fields that differ from the
    defaults), output directory, checkpoint (None for a new run), its path, and the
    settings the resume changes. Only the `writer` (rank 0 under torchrun) claims or
    cleans the output directory."""
    output = prepare_output_dir(config.output, writer)
    checkpoint, path = load_resume_checkpoint(output, resume)
    if checkpoint is None:
        if resume is None and writer:
            claim_output_dir(output, config.overwrite)
        return config, output, None, None, []
    explicit = explicit_settings(config) if explicit is None else set(explicit)
    config, changes = resumed_config(config, checkpoint, explicit)
    return config, output, checkpoint, path, changes


def claim_output_dir(output: Path, overwrite: bool) -> None:
    """A new run may start in `output` only if no other run is there; with `overwrite` the
    other run's files are deleted first (said in a warning), never silently."""
    previous = list_checkpoints(output) + [output / name for name in (FINAL_NAME, BEST_NAME,
                                                                      METRICS_NAME)
                                           if (output / name).exists()]
    if not previous:
        return
    if not overwrite:
        raise ValueError(
            f"{output} already holds a training run ({', '.join(p.name for p in previous[:3])}"
            f"{', ...' if len(previous) > 3 else ''}). Continue it with --resume auto, train "
            f"into a new --output directory, or start again there with --overwrite (deletes "
            f"that run's checkpoints and metrics).")
    previous += [p for pattern in RUN_FILE_PATTERNS for p in output.glob(pattern)]
    for path in previous:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    log.warning("--overwrite: deleted the previous run in %s (%d files)", output, len(previous))


def explicit_settings(config: TrainConfig) -> set[str]:
    """The fields of `config` that differ from TrainConfig's defaults: what a caller from
    Python (who has no command line) is taken to have set on purpose."""
    default = TrainConfig()
    return {f.name for f in fields(TrainConfig) if getattr(config, f.name) != getattr(default, f.name)}


def resumed_config(config: TrainConfig, checkpoint: dict, explicit: set[str]
                   ) -> tuple[TrainConfig, list[str]]:
    """The settings of a resumed run: the checkpoint's, except the fields in `explicit` (set
    by the caller: flags given on the command line) and the session settings, which are
    `config`'s. Returns them and what changed, as ``name: old -> new`` texts."""
    names = [f.name for f in fields(TrainConfig)]
    stored = {k: v for k, v in checkpoint.get("train_config", {}).items() if k in names}
    previous = stored_train_config(stored)
    inherited = {k: v for k, v in stored.items() if k not in explicit | SESSION_SETTINGS}
    resolved = replace(config, **inherited)
    changes = [f"{name}: {_shown(previous, name)} -> {_shown(resolved, name)}"
               for name in names if name in explicit and name not in SESSION_SETTINGS
               and _shown(previous, name) != _shown(resolved, name)]
    return resolved, changes


def _shown(config: TrainConfig, name: str) -> str:
    """A setting as the run uses it (a preset-dependent one resolved), as text."""
    value = config.preset_value(name) if name in PRESET_TRAINING[config.preset] else getattr(
        config, name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def front_end(config: TrainConfig, output: Path, checkpoint: dict | None, path: Path | None,
              writer: bool = True) -> tuple[ModelConfig, AudioConfig, RussianPhonemeProcessor]:
    """Model config, audio config and phoneme processor of the run; the `writer` saves the
    processor beside the checkpoints. A new run reuses an existing phoneme_processor.pkl (a
    custom front end prepared for this output directory)."""
    if checkpoint is not None:
        model_cfg, audio_config, processor = checkpoint_parts(checkpoint, path)
        check_requested_model(config, model_cfg, checkpoint, path)
    else:
        processor_path = output / PROCESSOR_NAME
        processor = (load_processor(processor_path) if processor_path.exists()
                     else RussianPhonemeProcessor())
        model_cfg = model_config(config.preset, processor.get_vocab_size(), **config.model_changes)
        audio_config = AudioConfig()
    if writer:
        save_processor(processor, output / PROCESSOR_NAME)
    return model_cfg, audio_config, processor


def check_requested_model(config: TrainConfig, stored: ModelConfig, checkpoint: dict,
                          path: Path) -> None:
    """A resumed run continues the checkpoint's model, also when its preset has been
    redefined since (its stored config rules). Asking for another model, through another
    preset or `model_changes`, is an error that names the differences; inference-only
    settings may differ."""
    if config.preset == checkpoint.get("train_config", {}).get("preset", config.preset):
        changes = dict(config.model_changes)
        if "prenet_dims" in changes:
            changes["prenet_dims"] = tuple(changes["prenet_dims"])
        requested = replace(stored, **changes)
    else:
        requested = model_config(config.preset, stored.vocab_size, **config.model_changes)
    differences = [f"{name} {value} (checkpoint) vs {getattr(requested, name)} (this run)"
                   for name, value in asdict(stored).items()
                   if name not in INFERENCE_ONLY and value != getattr(requested, name)]
    if differences:
        was = checkpoint.get("train_config", {}).get("preset", "?")
        raise ValueError(
            f"{path} was trained with a different model than this run asks for: "
            f"{'; '.join(differences)}. Resume with the checkpoint's settings (--preset {was}) "
            f"or train into a new --output directory.")


def corpus_datasets(config: TrainConfig, audio_config: AudioConfig,
                    processor: RussianPhonemeProcessor) -> tuple[Path, TTSDataset, TTSDataset]:
    """The corpus directory and its training and validation datasets. Corpus problems are
    logged (skipped items as warnings); a corpus with nothing usable is an error."""
    corpus_dir = resolve_corpus_dir(config.corpus)
    cache_dir = config.cache_dir or default_cache_dir()
    # Through the report cache: a restart checks only the clips and texts that changed.
    report = validate_corpus(corpus_dir, audio_config, processor, cache_dir=cache_dir,
                             progress=config.progress)
    for issue in report.issues:
        (log.warning if issue.skipped else log.debug)("corpus: %s", issue)
    if not report.usable:
        raise ValueError(f"corpus {corpus_dir} has no usable items:\n{report.summary()}")
    log.info("Loaded %d samples from corpus at %s", len(report.items), corpus_dir)
    train_items, val_items = training_split(report.items, config)
    train_set = TTSDataset(train_items, processor, audio_config, cache_dir)
    val_set = TTSDataset(val_items[: config.val_max_items], processor, audio_config, cache_dir)
    return corpus_dir, train_set, val_set


def lr_factor(step: int, warmup_steps: int, half_life: int, min_ratio: float) -> float:
    """Linear warm-up to 1, then exponential decay with the given half-life, floored."""
    warm = min(1.0, (step + 1) / max(1, warmup_steps))
    decay = 0.5 ** (max(0, step - warmup_steps) / max(1, half_life))
    return warm * max(min_ratio, decay)


def build_model(model_config: ModelConfig, config: TrainConfig, device: torch.device
                ) -> KokoroTTS:
    """The network on `device`, with the run's memory and speed options."""
    model = KokoroTTS(model_config).to(device)
    model.decoder.recompute_attention = config.checkpoint_attention
    # Summing the LSTM weight gradients over all steps at once saves a third of a CPU step,
    # but costs a GPU (launch-bound: more, smaller kernels per step) 15-45% (README).
    model.decoder.defer_weight_gradients = device.type == "cpu"
    if config.compile:
        compile_decoder_step(model)
    return model


def build_optimizer(model: torch.nn.Module, config: TrainConfig
                    ) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """Adam at the run's peak learning rate, and its warm-up-then-decay schedule."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.resolved_learning_rate(),
                                 betas=config.adam_betas, eps=config.adam_eps,
                                 weight_decay=config.weight_decay)
    schedule = partial(lr_factor, warmup_steps=config.warmup_steps,
                       half_life=config.lr_half_life_steps, min_ratio=config.min_lr_ratio)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def restore_optimization(checkpoint: dict, optimizer, scheduler, scaler) -> None:
    """Optimizer, LR schedule and (fp16) gradient scaler states from a checkpoint."""
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    if scaler is not None and checkpoint.get("scaler"):
        scaler.load_state_dict(checkpoint["scaler"])


def resume_position(checkpoint: dict, config: TrainConfig, world_size: int = 1
                    ) -> tuple[int, int, int, float, list[float], float]:
    """(completed epochs, global step, this rank's batches of the next epoch done, last
    epoch loss, the step losses of the epoch in progress, best validation loss). A stop
    inside an epoch resumes at its next batch, unless the batch size changed: then the
    batches are not the same and the epoch restarts. The checkpoint counts the batches of
    all ranks (`batch_index`); `world_size` ranks go on after as many whole rounds of
    theirs (`corpus.shard_batches`): with another rank count, up to world_size - 1 batches
    are trained again."""
    epoch, step = int(checkpoint["epoch"]), int(checkpoint["global_step"])
    batches_done = int(checkpoint.get("batch_index", 0)) // world_size
    if batches_done and checkpoint.get("train_config", {}).get("batch_size") != config.batch_size:
        log.warning("The checkpoint stopped inside epoch %d, but the batch size changed: "
                    "that epoch restarts from its first batch", epoch + 1)
        batches_done = 0
    epoch_losses = [float(x) for x in checkpoint.get("epoch_losses", [])] if batches_done else []
    return (epoch, step, batches_done, float(checkpoint["loss"]), epoch_losses,
            float(checkpoint.get("best_val_loss", float("nan"))))


def set_mel_statistics(model: torch.nn.Module, dataset: TTSDataset) -> None:
    """A new model's mel normalisation: per-channel statistics of the training set."""
    stats = mel_statistics(dataset[i]["mel"].T for i in range(len(dataset)))
    model.set_mel_statistics(stats["mean"], stats["std"])


def restore_learning_rate(checkpoint: dict, config: TrainConfig, optimizer, scheduler,
                          step: int) -> None:
    """A resumed run whose peak learning rate differs from the checkpoint's (set explicitly)
    takes it as the schedule's base rate; the schedule keeps its position."""
    old = checkpoint.get("train_config", {}).get("resolved_learning_rate")
    learning_rate = config.resolved_learning_rate()
    if old is None or math.isclose(old, learning_rate):
        return
    scheduler.base_lrs = [learning_rate for _ in scheduler.base_lrs]
    factor = lr_factor(step, config.warmup_steps, config.lr_half_life_steps, config.min_lr_ratio)
    for group in optimizer.param_groups:
        group["initial_lr"] = learning_rate
        group["lr"] = learning_rate * factor


def rank_random_state(checkpoint: dict, rank: int, world_size: int) -> dict:
    """The random state this rank resumes with: its own when the checkpoint was written by
    as many ranks (an exact resume), else rank 0's for rank 0 and none (the run's seeding)
    for the others."""
    states = checkpoint.get("rng_ranks")
    if states and len(states) == world_size:
        return states[rank]
    if states or world_size > 1:
        log.info("The checkpoint was written by %d rank(s), this run has %d: ranks other than "
                 "0 start new random streams", len(states or [None]), world_size)
    return checkpoint.get("rng", {}) if rank == 0 else {}


def restore_run(trainer, checkpoint: dict, changes: list[str]) -> None:
    """A new `Trainer` takes up the checkpoint's run: weights, optimiser, schedule, position,
    learning rate, this rank's random state; metrics after the checkpoint's step go."""
    load_weights(trainer.model, checkpoint["model"], trainer.resume_path)
    restore_optimization(checkpoint, trainer.optimizer, trainer.scheduler, trainer.scaler)
    (trainer.epoch, trainer.global_step, trainer.batches_done, trainer.last_loss,
     trainer.epoch_losses, trainer.best_val_loss) = resume_position(
        checkpoint, trainer.config, trainer.ranks.world_size)
    restore_learning_rate(checkpoint, trainer.config, trainer.optimizer, trainer.scheduler,
                          trainer.global_step)
    if changes:
        log.info("Resume changes: %s", "; ".join(changes))
    ranks = trainer.ranks
    restore_rng_state(rank_random_state(checkpoint, ranks.rank, ranks.world_size),
                      trainer.device)
    trainer.metrics.truncate_after(trainer.global_step)


def run_checkpoint(trainer, with_optimizer: bool = True) -> dict:
    """A `Trainer`'s run as a checkpoint (`checkpoints.training_checkpoint`): with the
    optimizer, everything an exact resume needs; without, a model for synthesis. Under
    torchrun every rank must call it (it gathers their random states)."""
    world = trainer.ranks.world_size  # batch_index counts the batches of all ranks
    progress = {"epoch": trainer.epoch, "batch_index": trainer.batches_done * world,
                "global_step": trainer.global_step, "loss": trainer.last_loss,
                "epoch_losses": list(trainer.epoch_losses),
                "best_val_loss": trainer.best_val_loss, "world_size": world}
    resume = None
    if with_optimizer:
        resume = resume_state(trainer.optimizer, trainer.scheduler, trainer.scaler,
                              trainer.device)
        if world > 1:  # every rank's random state: the same rank count resumes exactly
            resume["rng_ranks"] = trainer.ranks.gather(rng_state(trainer.device))
    return training_checkpoint(trainer.model, trainer.processor, trainer.model_config,
                               trainer.audio_config, trainer.config, progress, resume)
