"""The network, its losses and the attention metrics."""

import math

import pytest
import torch

from kokoro_nb.losses import (
    attention_entropy,
    guided_attention_loss,
    guided_attention_weights,
    masked_l1,
    stop_loss,
    tts_losses,
)
from kokoro_nb.metrics import attention_metrics
from kokoro_nb.config import TrainConfig, model_config
from kokoro_nb.model import KokoroTTS, count_parameters, parameters_per_module

TINY = dict(vocab_size=20, embedding_dim=16, encoder_hidden=16, prenet_dims=(16, 16),
            attention_heads=2, attention_dim=8, location_filters=4, location_kernel=5,
            attention_rnn_dim=24, decoder_rnn_dim=24, postnet_layers=2, postnet_channels=16,
            n_mels=10, reduction=2)


def tiny_model(**changes):
    torch.manual_seed(0)
    config = model_config("demo", **(TINY | {"prenet_dropout_at_inference": False} | changes))
    return KokoroTTS(config).eval()


def batch_of(lengths_text, lengths_mel, n_mels=10, r=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    b = len(lengths_text)
    max_t = max(lengths_text)
    max_m = -(-max(lengths_mel) // r) * r
    ids = torch.zeros(b, max_t, dtype=torch.long)
    stress = torch.zeros(b, max_t, dtype=torch.long)
    mels = torch.full((b, max_m, n_mels), -11.5)
    for i, (lt, lm) in enumerate(zip(lengths_text, lengths_mel, strict=True)):
        ids[i, :lt] = torch.randint(4, 20, (lt,), generator=g)
        stress[i, :lt] = torch.randint(0, 2, (lt,), generator=g)
        # Smooth, learnable "spectra": a few moving sinusoids, not noise.
        t = torch.arange(lm, dtype=torch.float32)[:, None]
        c = torch.arange(n_mels, dtype=torch.float32)[None, :]
        phase = float(torch.rand(1, generator=g)) * 3
        mels[i, :lm] = 2 * torch.sin(t / 3 + c / 2 + phase) - 4
    return ids, stress, torch.tensor(lengths_text), mels, torch.tensor(lengths_mel)


def test_forward_shapes():
    model = tiny_model()
    ids, stress, tl, mels, ml = batch_of([7, 5], [12, 8])
    out = model(ids, stress, tl, mels, ml)
    assert out["mel"].shape == out["mel_post"].shape == (2, 12, 10)
    assert out["stop_logits"].shape == (2, 12)
    assert out["attention"].shape == (2, 6, 7)
    assert out["attention_heads"].shape == (2, 2, 6, 7)
    # Attention is a distribution over real phonemes only.
    assert torch.allclose(out["attention"].sum(-1), torch.ones(2, 6), atol=1e-5)
    assert torch.all(out["attention"][1, :, 5:] == 0)


def test_padding_does_not_change_real_positions():
    model = tiny_model()
    ids, stress, tl, mels, ml = batch_of([7, 4], [12, 6])
    together = model(ids, stress, tl, mels, ml)
    alone = model(ids[1:, :4], stress[1:, :4], tl[1:], mels[1:, :6], ml[1:])
    assert torch.allclose(together["mel_post"][1, :6], alone["mel_post"][0], atol=1e-5)
    assert torch.allclose(together["stop_logits"][1, :6], alone["stop_logits"][0], atol=1e-5)
    assert torch.allclose(together["attention"][1, :3, :4], alone["attention"][0], atol=1e-5)


def test_content_only_attention_option():
    model = tiny_model(attention="content")
    ids, stress, tl, mels, ml = batch_of([6], [8])
    out = model(ids, stress, tl, mels, ml)
    assert out["attention"].shape == (1, 4, 6)
    assert not hasattr(model.decoder.attention, "location_conv")
    with pytest.raises(ValueError):
        model_config("demo", vocab_size=20, attention="sideways")


def test_reduction_must_divide_mel_length():
    model = tiny_model()
    ids, stress, tl, mels, ml = batch_of([6], [8])
    with pytest.raises(ValueError, match="multiple"):
        model(ids, stress, tl, mels[:, :7], ml)


def test_inference_stops_and_respects_max_steps():
    model = tiny_model()
    ids, stress, tl, _, _ = batch_of([6, 4], [8, 8])
    with torch.no_grad():
        model.decoder.stop.bias.fill_(10.0)  # always wants to stop
    out = model.infer(ids, stress, tl, max_steps=20)
    assert out["stopped"].all() and out["lengths"].tolist() == [1, 1]
    with torch.no_grad():
        model.decoder.stop.bias.fill_(-10.0)  # never stops
    out = model.infer(ids, stress, tl, max_steps=7)
    assert not out["stopped"].any() and out["lengths"].tolist() == [14, 14]
    assert out["mel"].shape == (2, 14, 10) and out["attention"].shape == (2, 7, 6)


def test_mel_statistics_normalise_and_round_trip():
    model = tiny_model()
    model.set_mel_statistics(torch.full((10,), -5.0), torch.full((10,), 2.0))
    x = torch.randn(3, 10)
    assert torch.allclose(model.denormalize(model.normalize(x)), x, atol=1e-6)
    assert torch.allclose(model.normalize(torch.full((10,), -5.0)), torch.zeros(10))
    assert "mel_mean" in model.state_dict()


def test_presets_sizes():
    demo = KokoroTTS(model_config("demo", vocab_size=67))
    default = KokoroTTS(model_config("default", vocab_size=67))
    assert 1e6 < count_parameters(demo) < 4e6
    assert count_parameters(default) > 4 * count_parameters(demo)
    parts = parameters_per_module(demo)
    assert sum(parts.values()) == count_parameters(demo) - 0  # every parameter is in a part
    with pytest.raises(ValueError, match="preset"):
        model_config("huge", vocab_size=20)


# ----------------------------------------------------------------------------- losses

def test_masked_l1_ignores_padding():
    pred = torch.tensor([[[1.0, 1.0], [5.0, 5.0]]])
    target = torch.zeros(1, 2, 2)
    mask = torch.tensor([[True, False]])
    assert masked_l1(pred, target, mask).item() == pytest.approx(1.0)


def test_stop_loss_hand_computed():
    logits = torch.tensor([[0.0, 0.0, 100.0]])
    targets = torch.tensor([[0.0, 1.0, 1.0]])
    mask = torch.tensor([[True, True, False]])
    # frame 0: -log(1 - 0.5); frame 1: pos_weight * -log(0.5); frame 2 masked
    expected = (math.log(2) + 3 * math.log(2)) / 2
    assert stop_loss(logits, targets, mask, pos_weight=3.0).item() == pytest.approx(expected, rel=1e-5)


def test_guided_attention_penalises_off_diagonal():
    w = guided_attention_weights(torch.tensor([4]), torch.tensor([4]), 4, 4, sigma=0.2)
    assert torch.allclose(torch.diagonal(w[0]), torch.zeros(4))
    assert w[0, 0, 3] == pytest.approx(1 - math.exp(-(0.75 ** 2) / 0.08))
    diagonal = torch.eye(4)[None]
    anti = torch.flip(torch.eye(4), dims=[1])[None]
    lengths = torch.tensor([4])
    assert guided_attention_loss(diagonal, lengths, lengths, sigma=0.2).item() == pytest.approx(0.0)
    assert guided_attention_loss(anti, lengths, lengths, sigma=0.2).item() > 0.1


def test_tts_losses_total_and_masks():
    model = tiny_model()
    model.train()
    ids, stress, tl, mels, ml = batch_of([7, 5], [12, 7])
    out = model(ids, stress, tl, mels, ml)
    batch = {"mel_mask": torch.arange(12)[None] < ml[:, None], "mel_lengths": ml,
             "text_lengths": tl,
             "stop_targets": (torch.arange(12)[None] >= (ml[:, None] - 1)).float()}
    losses = tts_losses(out, batch, 2, TrainConfig(guided_attention_weight=3.0))
    expected = losses["mel"] + losses["postnet"] + losses["stop"] + 3.0 * losses["guided"]
    assert losses["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    losses["total"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with_entropy = tts_losses(out, batch, 2, TrainConfig(guided_attention_weight=3.0),
                             entropy_weight=0.5)
    assert with_entropy["total"].item() == pytest.approx(
        (expected + 0.5 * losses["entropy"]).item(), rel=1e-6)


def test_attention_entropy_hand_computed():
    # Item 0: two real steps, uniform over 4 phonemes (ln 4), then one-hot (0); its third
    # step is padding. Item 1: three real steps uniform over 2 phonemes (ln 2), 2 padded.
    attention = torch.zeros(2, 3, 4)
    attention[0, 0] = 0.25
    attention[0, 1, 2] = 1.0
    attention[0, 2] = 0.25  # padding: ignored
    attention[1, :, :2] = 0.5
    value = attention_entropy(attention, torch.tensor([2, 3]))
    assert value.item() == pytest.approx((math.log(4) + 0 + 3 * math.log(2)) / 5, rel=1e-6)


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = tiny_model()
    model.train()
    ids, stress, tl, mels, ml = batch_of([7, 5, 6], [12, 8, 10], seed=3)
    batch = {"mel_mask": torch.arange(12)[None] < ml[:, None], "mel_lengths": ml,
             "text_lengths": tl,
             "stop_targets": (torch.arange(12)[None] >= (ml[:, None] - 1)).float()}
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(50):
        losses = tts_losses(model(ids, stress, tl, mels, ml), batch, 2, TrainConfig())
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        first = first if first is not None else losses["total"].item()
    assert losses["total"].item() < 0.5 * first


# ----------------------------------------------------------------------------- metrics

def test_attention_metrics_on_known_alignments():
    lengths = torch.tensor([10])
    perfect = torch.eye(10)[None]
    m = attention_metrics(perfect, lengths, lengths)
    assert m["focus_rate"] == pytest.approx(1.0) and m["diagonality"] == pytest.approx(1.0)
    uniform = torch.full((1, 10, 10), 0.1)
    m = attention_metrics(uniform, lengths, lengths)
    assert m["focus_rate"] == pytest.approx(0.1) and m["diagonality"] < 0.5
    stuck = torch.zeros(1, 10, 10)
    stuck[0, :, -1] = 1.0  # jumped to the end and stayed
    m = attention_metrics(stuck, lengths, lengths)
    assert m["focus_rate"] == pytest.approx(1.0) and m["diagonality"] <= 0.3


@pytest.mark.parametrize("heads", [1, 3])
def test_location_features_match_the_convolutions(heads):
    # The decoder computes location features as matrix products over sliding windows; they
    # must equal the grouped convolution + projection they stand for, values and gradients.
    torch.manual_seed(0)
    config = model_config("demo", attention_heads=heads, location_kernel=7, vocab_size=20,
                          encoder_hidden=96)
    attention = KokoroTTS(config).decoder.attention
    previous = torch.softmax(torch.randn(2, heads, 11), -1).requires_grad_()
    cumulative = (previous.detach() * 3).requires_grad_()
    fast = attention.location_features(previous, cumulative)
    plain = attention.location_features_reference(previous, cumulative)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    grads_fast = torch.autograd.grad(fast.square().sum(), [previous, attention.location_conv.weight])
    grads_plain = torch.autograd.grad(plain.square().sum(), [previous, attention.location_conv.weight])
    for a, b in zip(grads_fast, grads_plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("changes", [{}, {"attention_heads": 1}, {"attention": "content"},
                                     {"attention": "content", "attention_heads": 4}])
def test_forward_and_infer_agree_when_fed_the_same_frames(changes):
    """Teacher forcing and free running are one decoder: fed back the frames that `infer`
    produced, `forward` must reproduce infer's mel and attention step for step (eval mode,
    no prenet dropout). The postnet is zeroed so that infer's output is its decoder frames."""
    model = tiny_model(**changes)
    final_norm = model.postnet.convs[-1][1]
    with torch.no_grad():
        final_norm.weight.zero_()
        final_norm.bias.zero_()
        model.decoder.stop.bias.fill_(-10.0)  # run all the steps
    ids, stress, tl, _, _ = batch_of([7, 5], [12, 8])
    free = model.infer(ids, stress, tl, max_steps=6)
    assert free["mel"].shape == (2, 12, 10) and free["attention"].shape == (2, 6, 7)
    forced = model(ids, stress, tl, free["mel"], torch.tensor([12, 12]))
    torch.testing.assert_close(model.denormalize(forced["mel"]), free["mel"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(forced["attention"], free["attention"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.sigmoid(forced["stop_logits"]), free["stop_probs"])
    heads = model.config.attention_heads
    assert forced["attention_heads"].shape == (2, heads, 6, 7)


def test_recomputed_attention_gives_the_same_outputs_and_gradients():
    model = tiny_model()
    model.train()
    ids, stress, tl, mels, ml = batch_of([7, 5], [12, 8])

    def run(recompute):
        model.decoder.recompute_attention = recompute
        model.zero_grad(set_to_none=True)
        torch.manual_seed(3)  # the same dropout masks in both runs
        out = model(ids, stress, tl, mels, ml)
        (out["mel_post"].square().mean() + out["attention"].square().mean()).backward()
        return out["mel_post"].detach(), [p.grad.clone() for p in model.parameters()
                                          if p.grad is not None]

    (kept, kept_grads), (again, again_grads) = run(False), run(True)
    assert torch.equal(kept, again)
    assert len(kept_grads) == len(again_grads) > 10
    for a, b in zip(kept_grads, again_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
