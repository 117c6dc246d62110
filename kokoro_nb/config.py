"""Every setting in one place, as JSON-serialisable dataclasses with the seed's defaults.

- `AudioConfig` fixes how audio becomes mel spectrograms (22 050 Hz, 80 mels, n_fft 1024,
  hop 256: one frame is ~11.6 ms) and which clips are too long to train on (800 frames,
  ~9.3 s). Changing any of its fields changes the features, so the feature cache keys on it.
- `ModelConfig` is the network's shape; `MODEL_PRESETS` holds the two sizes the course uses
  (`default`: the seed's, hidden 512; `demo`: small enough for a CPU). The vocabulary size
  is not a default: it comes from the phoneme processor (`model_config(preset, vocab_size)`).
- `TrainConfig` is one training run: the seed's command-line settings, the optimiser, the
  loss weights and the stopping rules. The command line is generated from its fields and
  their help texts (`cli.py`), so a default lives here and nowhere else. A few defaults
  depend on the preset (`PRESET_TRAINING`); those fields default to None, "the preset's".
  A resumed run keeps its checkpoint's settings except those a caller sets explicitly, and
  except `SESSION_SETTINGS`, which belong to one invocation (`training_setup.resumed_config`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 22_050
    n_mels: int = 80
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    f_min: float = 0.0
    f_max: float = 8_000.0
    # log(max(mel, log_floor)): the floor keeps silence at a finite value (log 1e-5 = -11.5).
    log_floor: float = 1e-5
    # Slaney-style filterbank and area normalisation, as Tacotron 2 and most vocoders use.
    mel_scale: str = "slaney"
    mel_norm: str | None = "slaney"
    max_frames: int = 800  # longer clips are skipped for training (the seed's limit)
    # Leading/trailing silence trim: frames quieter than peak - trim_db are cut.
    trim_silence: bool = True
    trim_db: float = 40.0
    trim_margin_s: float = 0.05  # silence kept at each end after trimming
    griffin_lim_iters: int = 32
    # Magnitudes ** power before Griffin-Lim: 1.2 scores best by DNSMOS (P.808 2.81 and OVRL
    # 2.26 against 2.79 / 2.13 at 1.0 and 2.60 / 2.02 at 1.5; scripts/eval_vocoder_curve.py).
    griffin_lim_power: float = 1.2

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_mels <= 0 or self.hop_length <= 0:
            raise ValueError(f"invalid AudioConfig: {self}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} must be <= n_fft {self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate/2; got f_min={self.f_min}, "
                f"f_max={self.f_max}, sample_rate={self.sample_rate}"
            )

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    @property
    def max_seconds(self) -> float:
        """Longest clip (in seconds) that fits in `max_frames`."""
        return self.max_frames * self.frame_seconds


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int                  # phoneme ids, from `RussianPhonemeProcessor.get_vocab_size()`
    n_mels: int = 80
    reduction: int = 2               # mel frames per decoder step
    embedding_dim: int = 512
    use_stress: bool = True          # add a learned embedding of the stress flag
    encoder_conv_layers: int = 3
    encoder_kernel: int = 5
    encoder_hidden: int = 512        # BiLSTM output size (hidden/2 per direction)
    dropout: float = 0.5             # encoder convolutions and postnet
    prenet_dims: tuple[int, ...] = (256, 256)
    prenet_dropout: float = 0.5
    prenet_dropout_at_inference: bool = True  # Tacotron keeps it: steadier free-running output
    attention: str = "location"      # "location" (location-aware additive) or "content"
    # Two heads of 64: 128 wide in all, as Tacotron 2's attention. Four heads of 128 kept
    # (B x 4 x L x 128) energies per decoder step for backward: 1.6x the memory, 0.6x the
    # speed at 100 phonemes x 400 frames (README, Performance).
    attention_heads: int = 2
    attention_dim: int = 64          # per head
    location_filters: int = 32
    location_kernel: int = 31
    attention_rnn_dim: int = 512
    decoder_rnn_dim: int = 512
    rnn_dropout: float = 0.1
    postnet_layers: int = 5
    postnet_channels: int = 256      # 512: over a quarter of a CPU training step
    postnet_kernel: int = 5
    max_decoder_steps: int = 1000
    stop_threshold: float = 0.5

    def __post_init__(self) -> None:
        problems = model_config_problems(self)
        if problems:
            raise ValueError("invalid ModelConfig: " + "; ".join(problems))


# Sizes that must be positive, kernels that must be odd (a "same" padding of k // 2 keeps the
# length only for odd k), rates that must lie in [0, 1).
_POSITIVE = ("n_mels", "reduction", "embedding_dim", "encoder_hidden", "attention_heads",
             "attention_dim", "location_filters", "attention_rnn_dim", "decoder_rnn_dim",
             "postnet_layers", "postnet_channels", "max_decoder_steps")
_ODD = ("encoder_kernel", "location_kernel", "postnet_kernel")
_RATES = ("dropout", "prenet_dropout", "rnn_dropout")


def model_config_problems(config: ModelConfig) -> list[str]:
    """Every broken structural invariant of `config`, each naming its fields."""
    problems = [f"{name} must be >= 1, got {getattr(config, name)}"
                for name in _POSITIVE if getattr(config, name) < 1]
    problems += [f"{name} must be odd (same-length padding), got {getattr(config, name)}"
                 for name in _ODD if getattr(config, name) % 2 == 0 or getattr(config, name) < 1]
    problems += [f"{name} must be in [0, 1), got {getattr(config, name)}"
                 for name in _RATES if not 0 <= getattr(config, name) < 1]
    if config.vocab_size < 3:
        problems.append(f"vocab_size must cover padding, the end token and at least one "
                        f"phoneme (>= 3), got {config.vocab_size}")
    if config.encoder_conv_layers < 0:
        problems.append(f"encoder_conv_layers must be >= 0, got {config.encoder_conv_layers}")
    if config.encoder_hidden % 2:
        problems.append(f"encoder_hidden must be even (two LSTM directions), got "
                        f"{config.encoder_hidden}")
    if config.attention_heads >= 1 and config.encoder_hidden % config.attention_heads:
        problems.append(f"attention_heads {config.attention_heads} must divide encoder_hidden "
                        f"{config.encoder_hidden} (each head reads an equal share of the values)")
    if not config.prenet_dims or min(config.prenet_dims) < 1:
        problems.append(f"prenet_dims must be one or more positive sizes, got {config.prenet_dims}")
    if config.attention not in ("location", "content"):
        problems.append(f"attention must be 'location' or 'content', got {config.attention!r}")
    if not 0 < config.stop_threshold < 1:
        problems.append(f"stop_threshold must be in (0, 1), got {config.stop_threshold}")
    return problems


MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # The seed's sizes: hidden 512 in the encoder and LSTMs (the ModelConfig defaults).
    "default": {},
    # Small enough to learn the demo corpus on a laptop CPU in minutes.
    "demo": {
        "reduction": 3,
        "embedding_dim": 128,
        "encoder_hidden": 128,
        "prenet_dims": (128, 128),
        "attention_heads": 1,
        "attention_dim": 64,
        "location_filters": 16,
        "attention_rnn_dim": 256,
        "decoder_rnn_dim": 256,
        "postnet_layers": 3,
        "postnet_channels": 128,
    },
}


def model_config(preset: str, vocab_size: int, **changes) -> ModelConfig:
    """The preset's ModelConfig for a vocabulary of `vocab_size` ids, with `changes` applied.

    >>> model_config("demo", vocab_size=67, attention="content").attention_heads
    1
    """
    if preset not in MODEL_PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(MODEL_PRESETS)}")
    settings = MODEL_PRESETS[preset] | changes
    if "prenet_dims" in settings:
        settings["prenet_dims"] = tuple(settings["prenet_dims"])
    return ModelConfig(vocab_size=vocab_size, **settings)


def model_config_from_dict(data: dict) -> ModelConfig:
    """A ModelConfig from its `asdict` form (as stored in checkpoints; JSON turns the prenet
    tuple into a list). Unknown fields are an error that names them."""
    data = dict(data)
    if "prenet_dims" in data:
        data["prenet_dims"] = tuple(data["prenet_dims"])
    return config_from_dict(ModelConfig, data)


# --------------------------------------------------------------------------- training

# Training settings whose default depends on the model preset (the TrainConfig field is None).
# learning_rate: the seed's 1e-4 for its model; the small demo model learns faster at 1e-3.
# attention_entropy_weight (see `losses.entropy_weight_at`): on the demo corpus the alignment is
# diagonal by step ~250; sharpening it from step 300 on lifts the 15-minute validation focus
# rate from 0.71 to 0.86 for a mel L1 about 5% higher (0.1 gave 0.95 but 20% worse mels and an
# unsteady diagonality; README). Off for the default preset: on a large corpus choose the
# start after the alignment has formed (`--attention-entropy-start`).
PRESET_TRAINING: dict[str, dict[str, float]] = {
    "default": {"learning_rate": 1e-4, "attention_entropy_weight": 0.0},
    "demo": {"learning_rate": 1e-3, "attention_entropy_weight": 0.02},
}


# Settings of one invocation, never inherited by a resume: where it writes, when this call
# stops, and whether it may replace another run.
SESSION_SETTINGS = frozenset({"output", "max_steps", "max_minutes", "overwrite",
                              "ddp_timeout_minutes"})


def setting(default: Any, help: str, short: str | None = None, cli: bool = True,
            choices: tuple[str, ...] | None = None):
    """A config field with its command-line help (and short flag, and allowed values)."""
    kind = {"default_factory": default} if callable(default) else {"default": default}
    return field(**kind, metadata={"help": help, "short": short, "cli": cli,
                                   "choices": choices})


@dataclass
class TrainConfig:
    corpus: str | None = setting(
        None, "corpus directory (RUSLAN layout); when not given, ./ruslan_corpus if it exists, "
              "else the bundled demo corpus", short="-c")
    output: str = setting("./kokoro_russian_model", "output directory", short="-o")
    batch_size: int = setting(8, "batch size", short="-b")
    epochs: int = setting(100, "last epoch to train", short="-e")
    learning_rate: float | None = setting(None, "peak learning rate", short="-lr")
    save_every: int = setting(2, "checkpoint every N epochs")
    keep_last: int = setting(3, "epoch checkpoints kept (older ones are deleted; best.pth and "
                                "the final model stay); 0 keeps all")
    grad_accum: int = setting(1, "batches per optimiser step (gradient accumulation): the "
                                 "effective batch is batch size x this; the schedule counts "
                                 "optimiser steps")
    preset: str = setting("default", "model size: default (the seed's, hidden 512) or demo "
                                     "(small, for CPUs)", choices=tuple(sorted(PRESET_TRAINING)))
    model_changes: dict = setting(dict, "ModelConfig fields to override", cli=False)
    device: str = setting("auto", "auto (mps > cuda > cpu), mps, cuda or cpu")
    amp: bool = setting(True, "mixed precision: bf16 on CUDA, fp16 on MPS, off on CPU")
    checkpoint_attention: bool = setting(
        False, "recompute each decoder step's attention in backward instead of keeping it: "
               "less memory for a slower step (the same numbers)")
    compile: bool = setting(False, "torch.compile the decoder step (GPUs, where the step is "
                                   "launch-bound); falls back with a warning where it cannot")
    seed: int = setting(1234, "random seed (weights, dropout, data order, split)")
    val_fraction: float = setting(0.05, "share of the corpus held out for validation")
    min_val_items: int = setting(8, "at least this many validation items (small corpora)")
    val_max_items: int = setting(32, "validation items scored after each epoch")
    grad_clip: float = setting(1.0, "gradient norm clipping")
    warmup_steps: int = setting(50, "linear learning-rate warm-up, in steps")
    lr_half_life_steps: int = setting(20_000, "exponential learning-rate decay after the "
                                              "warm-up: half-life in steps")
    min_lr_ratio: float = setting(0.05, "the decay stops at this share of the peak rate")
    adam_betas: tuple[float, float] = setting((0.9, 0.999), "Adam's beta1 and beta2")
    adam_eps: float = setting(1e-6, "Adam's epsilon")
    weight_decay: float = setting(1e-6, "Adam's weight decay (L2)")
    guided_attention_weight: float = setting(10.0, "weight of the guided attention loss")
    guided_attention_sigma: float = setting(0.2, "width of the guided attention loss's "
                                                 "diagonal band (normalised positions)")
    attention_entropy_weight: float | None = setting(
        None, "weight of the attention-entropy penalty that sharpens the alignment")
    attention_entropy_start: int = setting(
        300, "step from which that penalty ramps in, over as many steps again: choose it "
             "after the alignment has formed (diagonality near 1)")
    stop_pos_weight: float = setting(5.0, "weight of the rare 'stop' frames in the stop-token "
                                          "loss")
    mps_empty_cache_every: int = setting(50, "empty the MPS allocator cache every N batches "
                                             "(0: never)")
    num_workers: int = setting(0, "data loader worker processes")
    cache_dir: str | None = setting(None, "feature cache (default $KOKORO_NB_CACHE or "
                                          "~/.cache/kokoro_nb/features)")
    threads: int | None = setting(None, "CPU threads for torch (default: torch's choice)")
    max_steps: int | None = setting(None, "stop after this many optimiser steps")
    max_minutes: float | None = setting(None, "stop (with a checkpoint) at the first epoch "
                                              "end after this many minutes")
    max_nonfinite_steps: int = setting(10, "stop with a checkpoint after this many NaN/Inf "
                                           "losses or gradients in a row")
    progress: bool = setting(True, "a progress bar per epoch (--no-progress for log files)")
    tensorboard: bool = setting(True, "TensorBoard logs in <output>/tensorboard: the metrics, "
                                      "validation alignments and spoken samples (view them "
                                      "with: tensorboard --logdir <output>/tensorboard)")
    ddp_timeout_minutes: float = setting(
        30.0, "under torchrun: how long a rank waits for the others (a collective, a save) "
              "before it fails with an error instead of hanging")
    overwrite: bool = setting(False, "start a new run in an output directory that holds another "
                                     "run, deleting that run's checkpoints and metrics")

    def __post_init__(self) -> None:
        if self.preset not in PRESET_TRAINING:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of "
                             f"{sorted(PRESET_TRAINING)}")
        for name in ("batch_size", "epochs", "save_every", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.keep_last < 0:
            raise ValueError(f"keep_last must be >= 0 (0 keeps all), got {self.keep_last}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        self.adam_betas = tuple(self.adam_betas)

    def preset_value(self, name: str) -> float:
        """A preset-dependent setting: the field's value if given, else the preset's."""
        value = getattr(self, name)
        return float(PRESET_TRAINING[self.preset][name] if value is None else value)

    def resolved_learning_rate(self) -> float:
        return self.preset_value("learning_rate")

    def resolved_entropy_weight(self) -> float:
        return self.preset_value("attention_entropy_weight")


# --------------------------------------------------------------------------- helpers


def config_from_dict(cls: type[T], data: dict) -> T:
    """Build a config dataclass from a dict; unknown keys are an error that names them."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
    return cls(**data)


def stored_train_config(data: dict) -> TrainConfig:
    """A checkpoint's ``train_config`` as a `TrainConfig`: keys this version does not know
    (``resolved_learning_rate``, settings of other versions) are left out."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in data.items() if k in known})


def config_fingerprint(*configs: Any) -> str:
    """A stable string for cache keys: the configs' JSON with sorted keys."""
    return json.dumps([dataclasses.asdict(c) if dataclasses.is_dataclass(c) else c
                       for c in configs], sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- vocoder

@dataclass(frozen=True)
class VocoderConfig:
    """The neural vocoder's size (`vocoder.Vocoder`); its audio settings are the corpus's
    `AudioConfig`."""

    dim: int = 512             # channels of the ConvNeXt trunk
    intermediate: int = 1536   # hidden width of each block's MLP
    layers: int = 8            # ConvNeXt blocks
    kernel_size: int = 7       # frames the depthwise convolution sees
    layer_scale: float = 1 / 8  # the blocks' initial residual scale (1 / layers)

    def __post_init__(self) -> None:
        if min(self.dim, self.intermediate, self.layers) <= 0 or self.kernel_size % 2 == 0:
            raise ValueError(f"invalid VocoderConfig: {self} (sizes > 0, odd kernel)")


VOCODER_PRESETS: dict[str, dict] = {
    "demo": {"dim": 192, "intermediate": 576, "layers": 6, "layer_scale": 1 / 6},
    "default": {},
}


# The step from which a preset trains adversarially (`VocoderTrainConfig.adversarial_from`;
# -1 = never): the demo's discriminators would make a CPU step about 30 times slower.
VOCODER_ADVERSARIAL_FROM = {"demo": -1, "default": 10_000}


def vocoder_config(preset: str = "default", **changes) -> VocoderConfig:
    """`VocoderConfig` of a preset, with `changes` on top."""
    if preset not in VOCODER_PRESETS:
        raise ValueError(f"unknown vocoder preset {preset!r}; choose one of {sorted(VOCODER_PRESETS)}")
    return VocoderConfig(**(VOCODER_PRESETS[preset] | changes))


@dataclass(frozen=True)
class VocoderTrainConfig:
    """Settings of a vocoder run (`vocoder_training.py`; the `train-vocoder` flags)."""

    corpus: str | None = setting(
        None, "corpus directory (RUSLAN layout); when not given, ./ruslan_corpus if it exists, "
              "else the bundled demo corpus", short="-c")
    output: str = setting("./kokoro_vocoder", "output directory", short="-o")
    preset: str = setting("default", "vocoder size: demo (~1.7 M parameters, CPU minutes) or "
                                     "default (~13.5 M, for a GPU)",
                          choices=tuple(sorted(VOCODER_PRESETS)))
    batch_size: int = setting(16, "segments per step", short="-b")
    segment_frames: int = setting(32, "mel frames per training segment (x 256 samples)")
    learning_rate: float = setting(5e-4, "peak learning rate", short="-lr")
    warmup_steps: int = setting(500, "steps of linear learning-rate warm-up")
    max_steps: int = setting(1_000_000, "stop after this many steps")
    max_minutes: float | None = setting(None, "stop (with a checkpoint) after this many minutes")
    save_every: int = setting(500, "steps between checkpoints")
    log_every: int = setting(25, "steps between train records in metrics.jsonl")
    validate_every: int = setting(500, "steps between validations")
    keep_last: int = setting(3, "checkpoints kept")
    seed: int = setting(0, "random seed (the segments drawn and the initial weights)")
    device: str = setting("auto", "auto|cpu|cuda|mps")
    adversarial_from: int | None = setting(
        None, "step from which discriminators (multi-period and multi-resolution) train beside "
              "the vocoder and their hinge and feature-matching losses join its loss; 0: from "
              "the start, -1: never (default: the preset's, default 10000, demo never)")
    adversarial_weight: float = setting(
        1 / 45, "weight of the adversarial loss against the mel L1's 1 (HiFi-GAN's 1:45); "
                "feature matching weighs twice this")
    acoustic_checkpoint: str | None = setting(
        None, "fine-tune on this acoustic model's teacher-forced mels (its own errors, "
              "aligned frame for frame with the recordings) instead of the recordings' mels")
    init_from: str | None = setting(
        None, "start from this vocoder's weights (vocoder_final.pth or a checkpoint) with a "
              "fresh optimiser and schedule: a fine-tuning run")

    def __post_init__(self) -> None:
        if min(self.batch_size, self.segment_frames, self.max_steps, self.save_every,
               self.log_every, self.validate_every) <= 0 or self.adversarial_weight < 0:
            raise ValueError(f"invalid VocoderTrainConfig: {self}")

    def adversarial_start(self) -> int | None:
        """The step adversarial training starts at, None if never."""
        start = self.adversarial_from
        if start is None:
            start = VOCODER_ADVERSARIAL_FROM.get(self.preset, -1)
        return None if start < 0 else start
