"""How good an attention alignment is, as numbers.

- **focus rate**: the mean, over decoder steps, of the largest attention weight. 1.0 means
  every step looks at exactly one phoneme; a blurred or lost attention scores low.
- **diagonality**: the share of attention mass within `band` (in normalised position, both
  axes scaled to [0, 1]) of the diagonal that runs from the first phoneme at the first
  step to the last phoneme at the last step. Speech reads text left to right at a roughly
  steady rate, so a learned alignment lies near that diagonal; 0.2 allows for the rate to
  vary (`DIAGONAL_BAND`; the guided attention loss's default width is the same).

Both are computed per utterance over its valid (step, phoneme) rectangle and averaged.
"""

from __future__ import annotations

import torch

DIAGONAL_BAND = 0.2


def attention_metrics(attention: torch.Tensor, text_lengths: torch.Tensor,
                      step_lengths: torch.Tensor, band: float = DIAGONAL_BAND) -> dict[str, float]:
    """attention (B, S, L) -> {"focus_rate", "diagonality"} averaged over the batch."""
    focus, diagonal = [], []
    for b in range(attention.shape[0]):
        n_text, n_steps = int(text_lengths[b]), int(step_lengths[b])
        a = attention[b, :n_steps, :n_text].float()
        if n_text == 0 or n_steps == 0:
            continue
        focus.append(a.max(dim=1).values.mean().item())
        pos_text = torch.arange(n_text, dtype=torch.float32, device=a.device) / max(n_text - 1, 1)
        pos_step = torch.arange(n_steps, dtype=torch.float32, device=a.device) / max(n_steps - 1, 1)
        near = (pos_text[None, :] - pos_step[:, None]).abs() <= band
        diagonal.append(((a * near).sum() / a.sum().clamp_min(1e-8)).item())
    if not focus:
        return {"focus_rate": 0.0, "diagonality": 0.0}
    return {"focus_rate": sum(focus) / len(focus), "diagonality": sum(diagonal) / len(diagonal)}
