"""Training the neural vocoder (`vocoder.Vocoder`) on a corpus's recordings.

``python -m kokoro_nb train-vocoder --corpus P --output D [--preset demo] [--max-minutes M]
[--resume auto]`` and `train_vocoder` in a notebook run the same loop:

- **Data**: random segments of the training split's recordings (`training_split`, the same
  split as the acoustic model's, so its validation sentences are never heard here); each
  segment's log-mel is computed from the segment itself, and the network must give the
  segment back. Which clips and where is a function of the seed and the step alone
  (`SegmentSampler`), so a resumed run draws exactly what an uninterrupted one would.
- **Step**: the losses of `vocoder.vocoder_losses` (mel L1 + multi-resolution STFT), AdamW
  with a linear warm-up, the gradient norm clipped at 1.
- **Adversarial training** (`Adversary`, from step ``adversarial_from``; the default preset
  starts at 10,000, the demo never): each step first trains the discriminators of
  `discriminators.py` on the recordings against the detached vocoded segments (hinge
  loss), then adds their adversarial and feature-matching losses to the vocoder's, at
  ``adversarial_weight`` and twice that against the mel L1's 1.
- **Fine-tuning on an acoustic model's mels** (``acoustic_checkpoint``, usually with
  ``init_from`` a vocoder trained on the recordings): each segment is vocoded from the
  model's teacher-forced mel of its clip (`evaluation.teacher_forced_mel`), which lines up
  frame for frame with the recording, so the vocoder learns to undo the model's blur.
  Validation stays copy synthesis of the recordings' mels.
- **Files** in the output directory: ``vocoder_step_N.pth`` every ``save_every`` steps (and
  when stopped by a signal or the time limit; with the discriminators when they train),
  written atomically, the last ``keep_last`` kept; ``vocoder_final.pth`` (weights and
  configs, what synthesis loads);
  ``metrics.jsonl`` (a ``train`` record every ``log_every`` steps, a ``val`` record at each
  validation: the losses of the validation clips vocoded whole); the same numbers in
  TensorBoard (``<output>/tensorboard``: ``train/loss``, ``val/mel``, ...) with the first
  validation clip vocoded as the audio ``val/sample``.
- **Resume** (``--resume auto`` or a path) restores the weights, optimiser, schedule,
  discriminators and random state: the run goes on bit for bit as if it had not stopped.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from .audio import load_audio, mel_spectrogram
from .checkpoints import (
    METRICS_NAME,
    TENSORBOARD_DIR,
    atomic_torch_save,
    load_checkpoint_file,
    remove_stale_temp_files,
    restore_rng_state,
    rng_state,
)
from .config import AudioConfig, VocoderTrainConfig
from .corpus import CorpusItem, resolve_corpus_dir, training_split, validate_corpus
from .device import choose_device
from .discriminators import (
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from .evaluation import teacher_forced_mel
from .runlog import MetricsFile
from .synthesis import load_model
from .vocoder import (
    Vocoder,
    count_parameters,
    vocoder_config,
    vocoder_from_state,
    vocoder_losses,
    vocoder_state,
)

log = logging.getLogger(__name__)

VOCODER_FINAL_NAME = "vocoder_final.pth"
VOCODER_CHECKPOINT_PREFIX = "vocoder_step_"


def checkpoint_name(step: int) -> str:
    return f"{VOCODER_CHECKPOINT_PREFIX}{step}.pth"


def list_vocoder_checkpoints(output: str | Path) -> list[Path]:
    """The run's ``vocoder_step_N.pth`` files, oldest first."""
    found = []
    for path in Path(output).glob(f"{VOCODER_CHECKPOINT_PREFIX}*.pth"):
        number = path.stem[len(VOCODER_CHECKPOINT_PREFIX):]
        if number.isdigit():
            found.append((int(number), path))
    return [path for _, path in sorted(found)]


class SegmentSampler:
    """Batches of random segments, a function of (seed, step) only: clips drawn with
    probability proportional to their length, offsets uniform on the hop grid. Clips shorter
    than a segment are zero-padded. Decoded clips are kept (all of them for a corpus under
    an hour; the most recent 512 otherwise).

    The mel a segment is vocoded from is the segment's own, or, with `clip_mel` (a clip's
    index -> its whole log-mel (n_mels, frames), e.g. an acoustic model's teacher-forced
    one), the frames of that mel over the segment."""

    def __init__(self, items: list[CorpusItem], audio: AudioConfig, segment_frames: int,
                 batch_size: int, seed: int,
                 clip_mel: Callable[[int], torch.Tensor] | None = None) -> None:
        if not items:
            raise ValueError("no training clips for the vocoder")
        self.items, self.audio, self.seed, self.batch_size = items, audio, seed, batch_size
        self.frames = segment_frames
        self.samples = segment_frames * audio.hop_length
        lengths = np.array([max(item.duration_s, 1e-3) for item in items])
        self.weights = lengths / lengths.sum()
        cached = len(items) if lengths.sum() < 3600 else 512
        self.wave = functools.lru_cache(maxsize=cached)(self._load)
        self.clip_mel = None if clip_mel is None else functools.lru_cache(maxsize=cached)(clip_mel)
        self.silence = float(mel_spectrogram(torch.zeros(audio.n_fft), audio).min())

    def _load(self, index: int) -> torch.Tensor:
        return load_audio(self.items[index].audio_path, self.audio)[0]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The recordings (batch_size, samples) for `step` and the log-mels to vocode them
        from (batch_size, n_mels, segment_frames + 1)."""
        rng = np.random.default_rng([self.seed, step])
        chosen = rng.choice(len(self.items), size=self.batch_size, p=self.weights)
        hop, segments, mels = self.audio.hop_length, [], []
        for index, where in zip(chosen, rng.random(self.batch_size), strict=True):
            wave = self.wave(int(index))
            start = int(where * (max(wave.shape[0] - self.samples, 0) // hop + 1)) * hop
            segment = wave[start:start + self.samples]
            segments.append(torch.nn.functional.pad(segment, (0, self.samples - len(segment))))
            if self.clip_mel is not None:
                mel = self.clip_mel(int(index))[:, start // hop:start // hop + self.frames + 1]
                mels.append(torch.nn.functional.pad(
                    mel, (0, self.frames + 1 - mel.shape[1]), value=self.silence))
        waves = torch.stack(segments)
        return waves, torch.stack(mels) if mels else mel_spectrogram(waves, self.audio)


class Adversary:
    """The discriminators of adversarial training (`discriminators.Discriminators`) and
    their optimiser (the vocoder's peak learning rate, no schedule), from step `start` on."""

    def __init__(self, config: VocoderTrainConfig, start: int, device: torch.device) -> None:
        self.start, self.weight = start, config.adversarial_weight
        self.judges = Discriminators(config.preset).to(device)
        self.optimizer = torch.optim.AdamW(self.judges.parameters(), lr=config.learning_rate,
                                           betas=(0.8, 0.99))

    def active(self, step: int) -> bool:
        return step >= self.start

    def train_discriminators(self, fake: torch.Tensor, real: torch.Tensor) -> float:
        """One step of the discriminators on the recordings and (detached) vocoded waves."""
        loss = discriminator_loss(self.judges(real), self.judges(fake.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.judges.parameters(), 1.0)
        self.optimizer.step()
        return float(loss.detach())

    def vocoder_losses(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """The vocoder's adversarial (``adversarial``) and feature-matching (``feature``)
        losses, and ``weighted``: what they add to its loss."""
        real_out, fake_out = self.judges(real), self.judges(fake)
        adversarial = generator_adversarial_loss(fake_out)
        feature = feature_matching_loss(real_out, fake_out)
        return {"adversarial": adversarial, "feature": feature,
                "weighted": self.weight * (adversarial + 2 * feature)}

    def state_dict(self) -> dict:
        return {"model": self.judges.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.judges.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


def vocoder_run_items(config: VocoderTrainConfig, audio: AudioConfig
                      ) -> tuple[list[CorpusItem], list[CorpusItem]]:
    """(train, validation) clips of the corpus: the split an acoustic model trained with
    the default settings makes (`corpus.training_split`), so the vocoder never hears its
    validation sentences either."""
    corpus = resolve_corpus_dir(config.corpus)
    report = validate_corpus(corpus, audio, read_audio_data=False)
    if not report.usable:
        raise ValueError(f"corpus {corpus} has no usable items:\n{report.summary()}")
    return training_split(report.items)


@torch.no_grad()
def validate(model: Vocoder, clips: list[torch.Tensor], audio: AudioConfig) -> dict:
    """Copy synthesis of whole validation clips: the mean of `vocoder_losses` between each
    recording and its vocoded version (``val_loss``, ``val_mel``, ``val_stft``)."""
    model.eval()
    totals: dict[str, float] = {}
    for wave in clips:
        fake = model(mel_spectrogram(wave, audio)[None].to(model.window.device))[0].cpu()
        n = min(fake.shape[-1], wave.shape[-1])
        for name, value in vocoder_losses(fake[None, :n], wave[None, :n], audio).items():
            totals[f"val_{name}"] = totals.get(f"val_{name}", 0.0) + float(value)
    model.train()
    return {name: value / len(clips) for name, value in totals.items()}


class VocoderTrainer:
    """One vocoder run: `train()` until `max_steps` or `max_minutes`, resumable."""

    def __init__(self, config: VocoderTrainConfig, resume: str | None = None,
                 audio: AudioConfig | None = None) -> None:
        self.config, self.audio = config, audio or AudioConfig()
        self.output = Path(config.output)
        self.output.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.output)
        self.device = choose_device(config.device)
        acoustic = None
        if config.acoustic_checkpoint:
            acoustic = load_model(config.acoustic_checkpoint, self.device)
            self.audio = acoustic[2]  # the vocoder hears the features the model predicts
        torch.manual_seed(config.seed)
        self.model = Vocoder(vocoder_config(config.preset), self.audio).to(self.device)
        if config.init_from:
            self._init_weights(config.init_from)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate,
                                           betas=(0.8, 0.99))
        warmup = max(config.warmup_steps, 1)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: min(1.0, (step + 1) / warmup))
        train_items, val_items = vocoder_run_items(config, self.audio)
        clip_mel = None
        if acoustic is not None:
            model, processor, audio, _ = acoustic

            def clip_mel(index: int) -> torch.Tensor:  # the same mel for a clip every time
                return teacher_forced_mel(model, processor, audio, train_items[index],
                                          seed=config.seed + index)
        self.sampler = SegmentSampler(train_items, self.audio, config.segment_frames,
                                      config.batch_size, config.seed, clip_mel)
        start = config.adversarial_start()
        self.adversary = None if start is None else Adversary(config, start, self.device)
        self.val_clips = [load_audio(item.audio_path, self.audio)[0] for item in val_items[:4]]
        self.step = 0
        self.writer = None
        self.metrics = MetricsFile(self.output / METRICS_NAME)
        self._resume(resume)
        log.info("Vocoder: preset %s, %s parameters, %d training clips, device %s",
                 config.preset, f"{count_parameters(self.model):,}", len(train_items),
                 self.device)

    def _resume(self, resume: str | None) -> None:
        path = None
        if resume == "auto":
            found = list_vocoder_checkpoints(self.output)
            path = found[-1] if found else None
        elif resume:
            path = Path(resume)
        if path is None:
            self.metrics.remove()
            return
        state = load_checkpoint_file(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.adversary is not None and "adversary" in state:
            self.adversary.load_state_dict(state["adversary"])
        restore_rng_state(state["rng"], self.device)
        self.step = int(state["step"])
        self.metrics.truncate_after(self.step)
        log.info("Resumed the vocoder from %s at step %d", path, self.step)

    def _init_weights(self, path: str) -> None:
        """The weights of another vocoder of the same size (`init_from`)."""
        other = vocoder_from_state(load_checkpoint_file(path))
        if other.config != self.model.config:
            raise ValueError(f"{path} is a vocoder of another size ({other.config}); "
                             f"this run's preset {self.config.preset} is {self.model.config}")
        self.model.load_state_dict(other.state_dict())
        log.info("Vocoder weights from %s", path)

    def save(self) -> Path:
        """A resumable checkpoint of this step (atomic); older ones beyond `keep_last` go."""
        state = vocoder_state(self.model) | {
            "step": self.step, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng_state(self.device),
            "train_config": asdict(self.config)}
        if self.adversary is not None:
            state["adversary"] = self.adversary.state_dict()
        path = atomic_torch_save(state, self.output / checkpoint_name(self.step))
        for old in list_vocoder_checkpoints(self.output)[:-self.config.keep_last]:
            old.unlink(missing_ok=True)
        log.info("Checkpoint saved: %s", path)
        return path

    def train_step(self) -> dict:
        real, mel = self.sampler.batch(self.step)
        real, mel = real.to(self.device), mel.to(self.device)
        fake = self.model(mel)
        losses = vocoder_losses(fake, real, self.audio)
        extra = {}
        if self.adversary is not None and self.adversary.active(self.step):
            extra["discriminator"] = self.adversary.train_discriminators(fake, real)
            gan = self.adversary.vocoder_losses(fake, real)
            losses |= {"adversarial": gan["adversarial"], "feature": gan["feature"],
                       "loss": losses["loss"] + gan["weighted"]}
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return {name: float(value.detach()) for name, value in losses.items()} | extra | {
            "grad_norm": float(grad_norm)}

    def train(self, progress: bool = True) -> Path:
        """Train, then write ``vocoder_final.pth``; returns its path."""
        from .training import StopSignals

        config, started = self.config, time.monotonic()
        bar = _progress_bar(progress, config.max_steps, self.step)
        with StopSignals() as stop:
            while self.step < config.max_steps:
                record = self.train_step()
                bar.update(1)
                if self.step % config.log_every == 0:
                    self._record("train", record | {
                        "lr": self.scheduler.get_last_lr()[0],
                        "elapsed_s": round(time.monotonic() - started, 2)})
                    bar.set_postfix(loss=f"{record['loss']:.3f}")
                if self.step % config.validate_every == 0 and self.val_clips:
                    self._record("val", validate(self.model, self.val_clips, self.audio))
                    self._listen()
                minutes = (time.monotonic() - started) / 60
                out_of_time = config.max_minutes is not None and minutes >= config.max_minutes
                if self.step % config.save_every == 0 or stop.signum or out_of_time:
                    self.save()
                if stop.signum is not None or out_of_time:
                    break
        bar.close()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if not (self.output / checkpoint_name(self.step)).exists():
            self.save()  # the last step is resumable too (a later run may go further)
        return self.save_final()

    def _record(self, kind: str, values: dict) -> None:
        self.metrics.write({"type": kind, "step": self.step} | values)
        writer = self._tensorboard()
        for name, value in values.items():
            if isinstance(value, (int, float)) and name != "elapsed_s":
                writer.add_scalar(f"{kind}/{name.removeprefix('val_')}", value, self.step)

    def _tensorboard(self):
        """The TensorBoard writer (``<output>/tensorboard``), opened at the first record;
        its purge step hides what an earlier call wrote after the resumed step."""
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.output / TENSORBOARD_DIR),
                                        purge_step=self.step)
        return self.writer

    @torch.no_grad()
    def _listen(self) -> None:
        """The first validation clip, vocoded, as TensorBoard audio ``val/sample``."""
        self.model.eval()
        wave = self.model.vocode(mel_spectrogram(self.val_clips[0], self.audio).to(self.device))
        self.model.train()
        self._tensorboard().add_audio("val/sample", wave.cpu()[None], self.step,
                                      sample_rate=self.audio.sample_rate)
        self.writer.flush()

    def save_final(self) -> Path:
        self.model.eval()
        path = atomic_torch_save(vocoder_state(self.model) | {"step": self.step},
                                 self.output / VOCODER_FINAL_NAME)
        log.info("Vocoder saved: %s (step %d)", path, self.step)
        return path


def _progress_bar(enabled: bool, total: int, done: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="Vocoder", disable=not enabled)


def train_vocoder(config: VocoderTrainConfig | None = None, resume: str | None = None,
                  progress: bool = True, **settings) -> Path:
    """Train a vocoder (`VocoderTrainConfig` fields as keyword arguments); returns the path
    of ``vocoder_final.pth``."""
    known = {f.name for f in fields(VocoderTrainConfig)}
    unknown = set(settings) - known
    if unknown:
        raise TypeError(f"unknown vocoder training settings {sorted(unknown)}")
    config = config or VocoderTrainConfig(**settings)
    return VocoderTrainer(config, resume=resume).train(progress=progress)


__all__ = ["VOCODER_FINAL_NAME", "SegmentSampler", "VocoderTrainConfig",
           "VocoderTrainer", "list_vocoder_checkpoints", "train_vocoder", "validate"]
