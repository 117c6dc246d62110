"""The discriminators of adversarial vocoder training, and their losses.

A vocoder trained on spectral losses alone (`vocoder.vocoder_losses`) gets the magnitudes
right and the fine structure between them a little blurred: a faint buzz, a smeared onset.
A GAN adds a second network, the discriminator, that learns to tell real recordings from
vocoded ones; the vocoder then also learns to fool it. Two kinds look at different things:

- `PeriodDiscriminator` (HiFi-GAN, Kong et al. 2020): the wave folded into rows of ``p``
  samples and 2-D convolutions down the columns, so it sees every p-th sample together: the
  periodic structure of voiced speech. `MultiPeriodDiscriminator` runs periods 2, 3, 5, 7
  and 11.
- `ResolutionDiscriminator` (UnivNet, Jang et al. 2021; used by Vocos): 2-D convolutions
  over a magnitude spectrogram. `MultiResolutionDiscriminator` runs three STFT sizes, so
  it judges both time and frequency detail.

Every discriminator returns its score map and its intermediate feature maps.
`discriminator_loss` and `generator_adversarial_loss` are the hinge losses Vocos uses;
`feature_matching_loss` asks the vocoder's output to produce the same feature maps as the
recording (a reconstruction loss in the discriminator's learned feature space).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

PERIODS = (2, 3, 5, 7, 11)
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop), window = n_fft
# Channels of the period discriminators' convolutions: HiFi-GAN's, and a CPU-sized set.
DISCRIMINATOR_CHANNELS = {"default": (32, 128, 512, 1024, 1024), "demo": (16, 32, 64, 128, 128)}
SLOPE = 0.1  # LeakyReLU


def _judge(convs: nn.ModuleList, out: nn.Module, x: torch.Tensor
           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's stack on its 2-D input: each convolution with a leaky ReLU, then
    the score map; returns the flattened scores and every layer's feature map."""
    features = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), SLOPE)
        features.append(x)
    x = out(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """Judges the wave folded into (samples / period, period)."""

    def __init__(self, period: int, channels: tuple[int, ...]):
        super().__init__()
        self.period = period
        sizes = (1, *channels)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(sizes[i], sizes[i + 1], (5, 1),
                                  (3, 1) if i < len(channels) - 1 else 1, padding=(2, 0)))
            for i in range(len(channels)))
        self.out = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, t = wave.shape
        if t % self.period:
            wave = nn.functional.pad(wave, (0, self.period - t % self.period), mode="reflect")
        return _judge(self.convs, self.out, wave.reshape(b, 1, -1, self.period))


class ResolutionDiscriminator(nn.Module):
    """Judges the magnitude spectrogram (frames x bins, linear, not log) at one STFT size."""

    def __init__(self, n_fft: int, hop: int, channels: int = 32):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
            *(weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4)))
              for _ in range(3)),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spectrum = torch.stft(wave.float(), self.n_fft, self.hop, self.n_fft, self.window,
                              center=True, return_complex=True)
        return _judge(self.convs, self.out, spectrum.abs().transpose(1, 2)[:, None])


class Discriminators(nn.Module):
    """All of them: the period discriminators then the resolution discriminators.
    ``forward(wave)`` gives one (score, features) pair per discriminator."""

    def __init__(self, size: str = "default"):
        super().__init__()
        if size not in DISCRIMINATOR_CHANNELS:
            raise ValueError(f"unknown discriminator size {size!r}; choose one of "
                             f"{sorted(DISCRIMINATOR_CHANNELS)}")
        channels = DISCRIMINATOR_CHANNELS[size]
        self.judges = nn.ModuleList(
            [PeriodDiscriminator(p, channels) for p in PERIODS]
            + [ResolutionDiscriminator(n_fft, hop) for n_fft, hop in RESOLUTIONS])

    def forward(self, wave: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [judge(wave) for judge in self.judges]


def discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """Hinge loss: real scores pushed above 1, generated ones below -1 (mean over the
    discriminators)."""
    total = sum(torch.relu(1 - r).mean() + torch.relu(1 + f).mean()
                for (r, _), (f, _) in zip(real, fake, strict=True))
    return total / len(real)


def generator_adversarial_loss(fake: list) -> torch.Tensor:
    """The vocoder's side of the hinge: its scores pushed above 1."""
    return sum(torch.relu(1 - f).mean() for f, _ in fake) / len(fake)


def feature_matching_loss(real: list, fake: list) -> torch.Tensor:
    """L1 between the feature maps of the recording and of the vocoded wave, summed over
    layers, averaged over the discriminators."""
    total = 0.0
    for (_, real_maps), (_, fake_maps) in zip(real, fake, strict=True):
        total = total + sum((r.detach() - f).abs().mean()
                            for r, f in zip(real_maps, fake_maps, strict=True))
    return total / len(real)


__all__ = ["DISCRIMINATOR_CHANNELS", "Discriminators", "PERIODS", "PeriodDiscriminator",
           "RESOLUTIONS", "ResolutionDiscriminator", "discriminator_loss",
           "feature_matching_loss", "generator_adversarial_loss"]
