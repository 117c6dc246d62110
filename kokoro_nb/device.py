"""Device choice (mps > cuda > cpu), mixed-precision policy and cache clearing.

Kept small and explicit so the Apple Silicon path can be read at a glance:

- ``auto`` picks MPS when PyTorch reports it, else CUDA, else the CPU.
- Mixed precision: bf16 autocast on CUDA (no gradient scaler needed); fp16 autocast on MPS
  with a gradient scaler where this PyTorch supports both (probed once: `grad_scaler_works`),
  else fp32 with one warning; off on the CPU (autocast there mostly slows small RNN steps).
- On MPS the allocator cache is emptied every N batches (the seed's memory habit);
  ``PYTORCH_ENABLE_MPS_FALLBACK=1`` lets operations MPS lacks run on the CPU.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(requested: str = "auto") -> torch.device:
    """``auto`` -> mps > cuda > cpu; an explicit device that is not available is an error."""
    requested = (requested or "auto").lower()
    if requested == "auto":
        if mps_available():
            return torch.device("mps")
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if requested == "mps" and not mps_available():
        raise ValueError("--device mps requested but this PyTorch has no usable MPS backend")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {requested} requested but CUDA is not available")
    if requested not in ("cpu", "mps") and not requested.startswith("cuda"):
        raise ValueError(f"unknown device {requested!r}; use auto, cpu, cuda or mps")
    return torch.device(requested)


@dataclass(frozen=True)
class Precision:
    """How a device trains: the autocast dtype (None = fp32) and whether to scale gradients."""

    dtype: torch.dtype | None
    use_scaler: bool

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]


@functools.lru_cache(maxsize=1)
def mps_autocast_supported() -> bool:
    """Whether this PyTorch can train in fp16 on MPS: autocast there (added in 2.5) and a
    gradient scaler step (which failed on MPS in 2.5, converting its scale to float64).
    Probed once per process: it is a property of the installed PyTorch."""
    if not mps_available():
        return False
    try:
        with torch.autocast(device_type="mps", dtype=torch.float16):
            pass
        return grad_scaler_works(torch.device("mps"))
    except (RuntimeError, ValueError):
        return False


def grad_scaler_works(device: torch.device) -> bool:
    """One scaled backward and optimiser step of a one-weight model on `device`."""
    weight = torch.nn.Parameter(torch.ones(1, device=device))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler = torch.amp.GradScaler(device.type)
    try:
        scaler.scale((weight * 2).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
    except (RuntimeError, TypeError, ValueError) as exc:
        log.warning("the gradient scaler fails on %s in this PyTorch (%s); fp16 is off",
                    device.type, exc)
        return False
    return True


def choose_precision(device: torch.device, amp: bool = True) -> Precision:
    if not amp or device.type == "cpu":
        return Precision(None, False)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(torch.bfloat16, False)
        return Precision(torch.float16, True)
    if device.type == "mps":
        if mps_autocast_supported():
            return Precision(torch.float16, True)
        log.warning("this PyTorch cannot autocast on MPS; training in fp32")
    return Precision(None, False)


def autocast(device: torch.device, precision: Precision):
    """The autocast context for a forward pass (a no-op context for fp32)."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


def make_grad_scaler(device: torch.device, precision: Precision):
    """A GradScaler for fp16, or None."""
    if not precision.use_scaler:
        return None
    return torch.amp.GradScaler(device.type)


def empty_cache(device: torch.device) -> None:
    """Release cached allocator memory (MPS and CUDA); nothing on the CPU."""
    if device.type == "mps":
        torch.mps.empty_cache()
    elif device.type == "cuda":
        torch.cuda.empty_cache()


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        fallback = os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1"
        return f"mps (CPU fallback {'on' if fallback else 'off'})"
    return f"cpu ({torch.get_num_threads()} threads)"
