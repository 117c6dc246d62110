"""The neural vocoder: a log-mel spectrogram in, a waveform out, trained here from scratch.

Griffin-Lim (`audio.mel_to_audio`) keeps the magnitudes of the spectrum and guesses the
phase, and the guess is what a listener hears as a metallic, phasey voice. A neural vocoder
learns both from the corpus recordings. This one follows Vocos (Siuzdak, 2023): no
upsampling stack, the network works at the mel's own frame rate.

- `Vocoder`: a 1-D convolution lifts the 80 mel channels to ``dim`` channels; ConvNeXt
  blocks (a depthwise convolution over 7 frames, LayerNorm, a two-layer pointwise MLP with
  GELU, a learned per-channel scale, a residual connection) process the frames; a linear
  head predicts, for every frame, the log magnitude and the phase of each of the
  ``n_fft // 2 + 1`` STFT bins; an inverse STFT with the mel's own window and hop turns
  them into samples. ``(frames - 1) * hop_length`` samples out, like Griffin-Lim.
- `vocoder_losses`: the mel L1 between the generated and the real recording (the same
  `audio.mel_spectrogram`), and a multi-resolution STFT loss (spectral convergence and log
  magnitude L1 at three window sizes), which also constrains what the mel cannot see.
- `VOCODER_PRESETS`: ``demo`` (about 1.4 M parameters, learns on a CPU in minutes) and
  ``default`` (the published Vocos size, about 13.5 M, for a GPU and RUSLAN).

The sizes (`config.VocoderConfig`, `config.VOCODER_PRESETS`) live with the other configs;
training lives in `vocoder_training.py`; `load_vocoder` reads a checkpoint it wrote.
"""

from __future__ import annotations

from dataclasses import asdict, fields

import torch
from torch import nn

from .audio import mel_spectrogram, mel_to_audio
from .checkpoints import load_checkpoint_file
from .config import VOCODER_PRESETS, AudioConfig, VocoderConfig, vocoder_config


class ConvNeXtBlock(nn.Module):
    """Depthwise convolution over frames, then a pointwise MLP, added to the input."""

    def __init__(self, dim: int, intermediate: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.expand = nn.Linear(dim, intermediate)
        self.project = nn.Linear(intermediate, dim)
        self.scale = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, dim, frames)
        y = self.depthwise(x).transpose(1, 2)
        y = self.project(nn.functional.gelu(self.expand(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class Vocoder(nn.Module):
    """Log-mel (B, n_mels, frames) -> waveform (B, (frames - 1) * hop_length)."""

    def __init__(self, config: VocoderConfig, audio: AudioConfig):
        super().__init__()
        self.config, self.audio = config, audio
        self.embed = nn.Conv1d(audio.n_mels, config.dim, config.kernel_size,
                               padding=config.kernel_size // 2)
        self.embed_norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(config.dim, config.intermediate, config.kernel_size,
                          config.layer_scale) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.head = nn.Linear(config.dim, audio.n_fft + 2)  # log magnitude and phase per bin
        self.register_buffer("window", torch.hann_window(audio.win_length), persistent=False)

    def spectrum(self, log_mel: torch.Tensor) -> torch.Tensor:
        """The complex STFT (B, n_fft // 2 + 1, frames) the network predicts."""
        x = self.embed(log_mel)
        x = self.embed_norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        log_magnitude, phase = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2) \
            .float().chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude).clamp(max=100.0)  # Vocos's guard on exp
        return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        if log_mel.dim() != 3 or log_mel.shape[1] != self.audio.n_mels:
            raise ValueError(f"expected a log-mel of shape (B, {self.audio.n_mels}, frames); "
                             f"got {tuple(log_mel.shape)}")
        frames = log_mel.shape[-1]
        if frames < 2:
            return log_mel.new_zeros(log_mel.shape[0], 0)
        return torch.istft(self.spectrum(log_mel), n_fft=self.audio.n_fft,
                           hop_length=self.audio.hop_length, win_length=self.audio.win_length,
                           window=self.window, center=True,
                           length=(frames - 1) * self.audio.hop_length)

    @torch.no_grad()
    def vocode(self, log_mel: torch.Tensor) -> torch.Tensor:
        """One log-mel (n_mels, frames) or a batch -> waveform(s), clipped to [-1, 1]."""
        single = log_mel.dim() == 2
        wave = self(log_mel[None] if single else log_mel)
        wave = wave.clamp(-1.0, 1.0)
        return wave[0] if single else wave


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- losses

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop), window = n_fft


def _magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, device=wave.device)
    spectrum = torch.stft(wave.float(), n_fft, hop, n_fft, window, center=True,
                          return_complex=True)
    return spectrum.abs().clamp(min=1e-7)


def stft_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence plus log-magnitude L1, averaged over
    `STFT_RESOLUTIONS`."""
    total = fake.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        fake_mag, real_mag = _magnitude(fake, n_fft, hop), _magnitude(real, n_fft, hop)
        convergence = torch.linalg.norm(real_mag - fake_mag) / torch.linalg.norm(real_mag)
        total = total + convergence + (fake_mag.log() - real_mag.log()).abs().mean()
    return total / len(STFT_RESOLUTIONS)


def vocoder_losses(fake: torch.Tensor, real: torch.Tensor, audio: AudioConfig
                   ) -> dict[str, torch.Tensor]:
    """``mel`` (L1 of the log-mels), ``stft`` (`stft_loss`) and their sum ``loss``."""
    mel = (mel_spectrogram(fake, audio) - mel_spectrogram(real, audio)).abs().mean()
    stft = stft_loss(fake, real)
    return {"loss": mel + stft, "mel": mel, "stft": stft}


# --------------------------------------------------------------------------- files

VOCODER_FORMAT = "kokoro_nb.vocoder"


def vocoder_state(model: Vocoder) -> dict:
    """What a vocoder checkpoint holds to rebuild the network: its weights and both configs."""
    return {"format": VOCODER_FORMAT, "vocoder_config": asdict(model.config),
            "audio_config": asdict(model.audio),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}


def vocoder_from_state(state: dict) -> Vocoder:
    """The `Vocoder` a `vocoder_state` dict describes (weights loaded, eval mode)."""
    if not isinstance(state, dict) or state.get("format") != VOCODER_FORMAT:
        raise ValueError("not a kokoro_nb vocoder checkpoint (train one with "
                         "`python -m kokoro_nb train-vocoder`)")
    known = {f.name for f in fields(AudioConfig)}
    audio = AudioConfig(**{k: v for k, v in state["audio_config"].items() if k in known})
    model = Vocoder(VocoderConfig(**state["vocoder_config"]), audio)
    model.load_state_dict(state["model"])
    return model.eval()


def load_vocoder(path, device: str | torch.device = "cpu") -> Vocoder:
    """A trained vocoder from ``vocoder_final.pth`` or a ``vocoder_step_N.pth`` checkpoint."""
    state = load_checkpoint_file(path)
    try:
        return vocoder_from_state(state).to(device)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def vocode_mel(log_mel: torch.Tensor, audio: AudioConfig, vocoder: Vocoder | None = None,
               griffin_lim_iters: int | None = None) -> torch.Tensor:
    """A waveform (samples,) from a log-mel (n_mels, frames): the neural `vocoder` when
    given (its audio settings must match), else Griffin-Lim (`audio.mel_to_audio`)."""
    if vocoder is None:
        return mel_to_audio(log_mel, audio, n_iter=griffin_lim_iters)
    mine, theirs = vocoder.audio, audio
    if (mine.sample_rate, mine.n_mels, mine.hop_length, mine.n_fft) != (
            theirs.sample_rate, theirs.n_mels, theirs.hop_length, theirs.n_fft):
        raise ValueError(f"the vocoder was trained for {mine.sample_rate} Hz, {mine.n_mels} "
                         f"mels, hop {mine.hop_length}; this mel has {theirs.sample_rate} Hz, "
                         f"{theirs.n_mels} mels, hop {theirs.hop_length}")
    return vocoder.vocode(log_mel.to(vocoder.window.device)).cpu()


__all__ = ["VOCODER_PRESETS", "ConvNeXtBlock", "Vocoder", "VocoderConfig", "count_parameters",
           "load_vocoder", "stft_loss", "vocode_mel", "vocoder_config", "vocoder_from_state",
           "vocoder_losses", "vocoder_state"]
