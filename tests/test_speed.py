"""The speed and memory options and their measurement: stepbench, bench --shape against another
revision, the compiled decoder step."""

import json
import subprocess
import sys

import pytest
import torch

from kokoro_nb.config import model_config
from kokoro_nb.model import KokoroTTS, compile_decoder_step, count_parameters
from kokoro_nb.stepbench import parse_shape
from kokoro_nb.text import RussianPhonemeProcessor

VOCAB = RussianPhonemeProcessor().get_vocab_size()


def cli(*args):
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_stepbench_times_the_shape_it_is_given():
    result = cli("kokoro_nb.stepbench", "--preset", "demo", "--shape", "20x31",
                 "--batch-size", "2", "--repeats", "1", "--threads", "1")
    assert result["shape"] == "20x33"  # rounded up to the reduction factor, 3
    assert result["parameters"] == count_parameters(KokoroTTS(model_config("demo", VOCAB)))
    assert 0 < result["min_step_s"] <= result["median_step_s"] and result["threads"] == 1
    assert result["peak_rss_mb"] > 100
    with pytest.raises(ValueError, match="PHONEMESxFRAMES"):
        parse_shape("100-400")


def test_bench_shape_compares_with_another_revision():
    data = cli("kokoro_nb", "bench", "--only", "training", "--shape", "12x24", "--preset",
               "demo", "--batch-size", "2", "--repeats", "1", "--compare-ref", "HEAD", "--json")
    (run,) = data["training"]["runs"]
    assert data["training"]["shape"] == "12x24" and run["reference"] == "HEAD"
    assert len(run["rounds"]) == len(run["reference_rounds"]) == 2
    low, high = run["speedup_range"]
    assert 0 < low <= high
    ratios = [c["mel_frames_per_s"] / r["mel_frames_per_s"]
              for c, r in zip(run["rounds"], run["reference_rounds"], strict=True)]
    assert min(ratios) == pytest.approx(low, abs=1e-3) and max(ratios) == pytest.approx(high, abs=1e-3)


def test_compiled_decoder_step_gives_the_eager_loss_on_cpu():
    torch.manual_seed(0)
    config = model_config("demo", VOCAB, prenet_dropout=0.0, dropout=0.0, rnn_dropout=0.0,
                          encoder_hidden=32, embedding_dim=32, attention_rnn_dim=32,
                          decoder_rnn_dim=32, postnet_channels=16, prenet_dims=(16, 16))
    model = KokoroTTS(config).eval()
    ids = torch.randint(3, VOCAB, (2, 9))
    stress = torch.zeros(2, 9, dtype=torch.long)
    lengths, frames = torch.tensor([9, 6]), torch.tensor([15, 12])
    mels = torch.randn(2, 15, 80)

    def loss():
        model.zero_grad(set_to_none=True)
        out = model(ids, stress, lengths, mels, frames)
        value = out["mel_post"].square().mean() + out["attention"].square().mean()
        value.backward()
        return value.detach(), model.decoder.attention_rnn.weight_hh.grad.clone()

    eager, eager_grad = loss()
    if not compile_decoder_step(model):
        pytest.skip("torch.compile is not usable here (no C++ compiler?)")
    compiled, compiled_grad = loss()
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-3, atol=1e-5)


def test_deferred_weight_gradients_are_the_step_by_step_ones():
    """`model.StepWeights` sums the LSTM weight gradients over all decoder steps at once; every
    parameter's gradient must be the one the step-by-step backward gives."""
    torch.manual_seed(0)
    model = KokoroTTS(model_config("demo", VOCAB, prenet_dropout=0.0, dropout=0.0,
                                   rnn_dropout=0.0)).train()
    ids = torch.randint(3, VOCAB, (3, 11))
    lengths, frames = torch.tensor([11, 8, 5]), torch.tensor([24, 18, 12])

    def gradients(deferred):
        model.decoder.defer_weight_gradients = deferred
        model.zero_grad(set_to_none=True)
        out = model(ids, torch.zeros_like(ids), lengths, torch.randn(3, 24, 80).abs(), frames)
        (out["mel_post"].square().mean() + out["stop_logits"].mean()).backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    torch.manual_seed(1)
    deferred = gradients(True)
    torch.manual_seed(1)
    plain = gradients(False)
    assert deferred.keys() == plain.keys()
    assert "decoder.attention_rnn.weight_hh" in plain
    for name, grad in plain.items():
        torch.testing.assert_close(deferred[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_weight_gradients_are_deferred_on_the_cpu_only():
    from kokoro_nb.config import TrainConfig
    from kokoro_nb.training_setup import build_model

    config = model_config("demo", VOCAB)
    assert build_model(config, TrainConfig(), torch.device("cpu")).decoder.defer_weight_gradients
    on_gpu_like = build_model(config, TrainConfig(), torch.device("meta"))  # CUDA, MPS: off
    assert not on_gpu_like.decoder.defer_weight_gradients
