"""Device and precision choice, with the MPS and CUDA backends mocked where needed."""

import logging

import pytest
import torch

from kokoro_nb import device as dev


def test_auto_prefers_mps_then_cuda_then_cpu(monkeypatch):
    monkeypatch.setattr(dev, "mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.choose_device("auto").type == "mps"
    monkeypatch.setattr(dev, "mps_available", lambda: False)
    assert dev.choose_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.choose_device("auto").type == "cpu"


def test_unavailable_explicit_device_is_an_error(monkeypatch):
    monkeypatch.setattr(dev, "mps_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="MPS"):
        dev.choose_device("mps")
    with pytest.raises(ValueError, match="CUDA"):
        dev.choose_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        dev.choose_device("tpu")
    assert dev.choose_device("cpu").type == "cpu"


def test_precision_policy(monkeypatch, caplog):
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert dev.choose_precision(cpu, amp=True).name == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    bf16 = dev.choose_precision(cuda, amp=True)
    assert bf16.name == "bf16" and not bf16.use_scaler
    assert dev.choose_precision(cuda, amp=False).name == "fp32"
    monkeypatch.setattr(dev, "mps_autocast_supported", lambda: True)
    fp16 = dev.choose_precision(mps, amp=True)
    assert fp16.name == "fp16" and fp16.use_scaler
    monkeypatch.setattr(dev, "mps_autocast_supported", lambda: False)
    with caplog.at_level(logging.WARNING, logger="kokoro_nb.device"):
        assert dev.choose_precision(mps, amp=True).name == "fp32"
    assert "fp32" in caplog.text


def test_empty_cache_clears_mps_only_on_mps(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.mps, "empty_cache", lambda: calls.append("mps"))
    dev.empty_cache(torch.device("cpu"))
    assert calls == []
    dev.empty_cache(torch.device("mps"))
    assert calls == ["mps"]


def test_autocast_is_a_no_op_for_fp32():
    with dev.autocast(torch.device("cpu"), dev.Precision(None, False)):
        x = torch.ones(2) @ torch.ones(2)
    assert x.dtype == torch.float32
    assert dev.make_grad_scaler(torch.device("cpu"), dev.Precision(None, False)) is None


def test_grad_scaler_probe_reports_a_failing_scaler(monkeypatch):
    """PyTorch 2.5's scaler failed on MPS converting its scale to float64; the probe turns
    such a failure into False (and fp32) instead of a crash at the first step."""
    assert dev.grad_scaler_works(torch.device("cpu"))

    def fails(self, optimizer, *args, **kwargs):
        raise TypeError("Cannot convert a MPS Tensor to float64 dtype")

    monkeypatch.setattr(torch.amp.GradScaler, "step", fails)
    assert not dev.grad_scaler_works(torch.device("cpu"))
