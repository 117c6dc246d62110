"""Training losses: masked mel L1, masked stop-token BCE, guided attention, attention entropy.

All losses average over real (unpadded) entries only, so a batch's padding never teaches
the model anything. Their weights and widths are `TrainConfig` settings: `tts_losses` takes
the config, the pieces take the one number they need.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import TrainConfig


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |prediction - target| over frames where `mask` (B, T) is True."""
    weights = mask[..., None].to(prediction.dtype)
    total = weights.sum() * prediction.shape[-1]
    return ((prediction - target).abs() * weights).sum() / total.clamp_min(1)


def stop_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
              pos_weight: float) -> torch.Tensor:
    """BCE on stop logits (B, T) over `mask`; `pos_weight` lifts the rare "stop" frames."""
    weight = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    per_frame = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight,
                                                   reduction="none")
    m = mask.to(logits.dtype)
    return (per_frame * m).sum() / m.sum().clamp_min(1)


def stop_frame_share(frames: list[int], reduction: int) -> float:
    """The share of "stop" targets among the frames the stop loss covers, for clips of
    `frames` mel frames each: every frame up to the end of a clip's last decoder step is
    covered, and those from its last real frame on are "stop" (`tts_losses`)."""
    covered = [reduction * -(-n // reduction) for n in frames]
    stops = sum(c - n + 1 for c, n in zip(covered, frames, strict=True))
    return stops / sum(covered)


def best_constant_stop_probability(share: float, pos_weight: float) -> float:
    """The constant P(stop) that minimises the weighted cross-entropy of `stop_loss` when a
    `share` of the frames are "stop": pos_weight * share / (pos_weight * share + 1 - share).
    What a model predicts where it cannot tell: 0.5, the threshold, when fully balanced."""
    return pos_weight * share / (pos_weight * share + 1 - share)


def guided_attention_weights(text_lengths: torch.Tensor, step_lengths: torch.Tensor,
                             max_steps: int, max_text: int, sigma: float) -> torch.Tensor:
    """W[b, s, n] = 1 - exp(-(n/N - s/S)^2 / (2 sigma^2)) (Tachibana et al. 2017), zero
    outside each item's valid (step, phoneme) rectangle. Attention off the diagonal costs."""
    device = text_lengths.device
    n = torch.arange(max_text, device=device)[None, None, :].float()
    s = torch.arange(max_steps, device=device)[None, :, None].float()
    N = text_lengths[:, None, None].float()
    S = step_lengths[:, None, None].float()
    w = 1.0 - torch.exp(-((n / N - s / S) ** 2) / (2 * sigma ** 2))
    valid = (n < N) & (s < S)
    return w * valid


def guided_attention_loss(attention: torch.Tensor, text_lengths: torch.Tensor,
                          step_lengths: torch.Tensor, sigma: float) -> torch.Tensor:
    """Mean of attention * W over each item's valid (step, phoneme) entries."""
    _, steps, length = attention.shape
    w = guided_attention_weights(text_lengths, step_lengths, steps, length, sigma)
    valid_entries = (text_lengths * step_lengths).sum()
    return (attention * w).sum() / valid_entries.clamp_min(1)


def attention_entropy(attention: torch.Tensor, step_lengths: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of each decoder step's attention (B, steps, L) over real steps.

    Low entropy means each step listens to few phonemes: a sharp alignment. Padded phonemes
    hold zero weight and add nothing.
    """
    valid = torch.arange(attention.shape[1], device=attention.device)[None, :] < step_lengths[:, None]
    per_step = -(attention * torch.log(attention.clamp_min(1e-8))).sum(-1)
    m = valid.to(attention.dtype)
    return (per_step * m).sum() / m.sum().clamp_min(1)


def entropy_weight_at(config: TrainConfig, step: int) -> float:
    """The attention-entropy weight at `step`: 0 until `attention_entropy_start` (the
    alignment must form first: sharpening a wrong alignment locks it in), then a linear ramp
    to the run's `attention_entropy_weight` over as many steps again.

    >>> [entropy_weight_at(TrainConfig(preset="demo"), s) for s in (0, 300, 450, 600, 900)]
    [0.0, 0.0, 0.01, 0.02, 0.02]
    """
    start = config.attention_entropy_start
    ramp = 1.0 if start <= 0 else min(max((step - start) / start, 0.0), 1.0)
    return config.resolved_entropy_weight() * ramp


def tts_losses(outputs: dict, batch: dict, reduction: int, config: TrainConfig,
               entropy_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """All losses of one teacher-forced batch; ``total`` is what is optimised:
    mel + postnet + stop + guided_attention_weight * guided (+ entropy_weight * entropy).
    ``entropy`` (of the attention) is always reported; its weight changes during training
    (`entropy_weight_at`), so the caller passes the current one."""
    target = outputs["target"]
    mel_mask = batch["mel_mask"]
    mel = masked_l1(outputs["mel"].float(), target, mel_mask)
    post = masked_l1(outputs["mel_post"].float(), target, mel_mask)
    # Stop frames: every frame up to the end of each item's last decoder step (the frames
    # after its last real frame inside that step are "stop" too).
    steps = -(-batch["mel_lengths"] // reduction)
    stop_mask = torch.arange(target.shape[1], device=target.device)[None, :] < (steps * reduction)[:, None]
    stop = stop_loss(outputs["stop_logits"].float(), batch["stop_targets"], stop_mask,
                     config.stop_pos_weight)
    guided = guided_attention_loss(outputs["attention"].float(), batch["text_lengths"], steps,
                                   config.guided_attention_sigma)
    entropy = attention_entropy(outputs["attention"].float(), steps)
    total = mel + post + stop + config.guided_attention_weight * guided
    if entropy_weight:
        total = total + entropy_weight * entropy
    return {"total": total, "mel": mel, "postnet": post, "stop": stop, "guided": guided,
            "entropy": entropy}
