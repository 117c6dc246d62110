"""The network: phoneme encoder, location-aware multi-head attention, autoregressive decoder,
postnet. It knows tensors and its config, nothing about files or text.

The seed's architecture (embedding -> BiLSTM encoder -> multi-head attention -> LSTM decoder
-> 80-bin mels, hidden 512) is kept, with what attention-based TTS needs to actually learn an
alignment (after Tacotron 2):

- masks everywhere: padded phonemes never receive attention, padded frames never reach the
  loss or the postnet;
- a prenet with dropout on the previous frame, so the decoder must listen to the text
  instead of copying its own last output;
- attention that is *location-aware*: besides comparing the decoder state with each phoneme
  (content), every head sees convolution features of where it attended at the previous
  step and of where it has attended so far (cumulative weights), as in Tacotron 2; this
  pushes it forward along the text one phoneme at a time. Scoring is additive
  (v·tanh(q + k + loc)); `attention="content"` gives plain scaled dot-product heads for
  comparison (notebook 08 shows why they struggle);
- `reduction` frames per decoder step (fewer steps: faster, and easier to align);
- a stop-token logit per frame, so inference knows when to end;
- a convolutional postnet that refines the whole mel.

Mels are modelled normalised: ``(log_mel - mel_mean) / mel_std`` with per-channel statistics
stored as buffers (set from the training data), so checkpoints carry them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.checkpoint import checkpoint

from .config import ModelConfig


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool mask, True on real positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


# --------------------------------------------------------------------------- encoder


class Encoder(nn.Module):
    """Phoneme + stress embeddings -> conv stack -> BiLSTM, with padding kept out."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.stress = nn.Embedding(2, config.embedding_dim) if config.use_stress else None
        convs = []
        for _ in range(config.encoder_conv_layers):
            convs.append(nn.ModuleDict({
                "conv": nn.Conv1d(config.embedding_dim, config.embedding_dim,
                                  config.encoder_kernel, padding=config.encoder_kernel // 2),
                "norm": nn.BatchNorm1d(config.embedding_dim),
            }))
        self.convs = nn.ModuleList(convs)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(config.embedding_dim, config.encoder_hidden // 2, batch_first=True,
                            bidirectional=True)

    def forward(self, ids: torch.Tensor, stress: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = lengths_to_mask(lengths, ids.shape[1])                      # (B, L)
        x = self.embedding(ids)
        if self.stress is not None:
            x = x + self.stress(stress.clamp(0, 1))
        x = x.transpose(1, 2)                                              # (B, E, L)
        for block in self.convs:
            # Zero the padding before each conv so it reads the same zeros an unpadded
            # sequence would see at its end.
            x = x * mask[:, None, :]
            x = self.dropout(F.relu(block["norm"](block["conv"](x))))
        x = (x * mask[:, None, :]).transpose(1, 2)                         # (B, L, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return out                                                         # (B, L, H)


# --------------------------------------------------------------------------- attention


class MultiHeadAttention(nn.Module):
    """Multi-head attention over the encoder outputs, location-aware or content-only.

    Location-aware heads score ``v_h · tanh(W_q q + W_k k_j + W_f f_hj)``, where ``f_hj`` are
    convolution features of head h's previous and cumulative attention around phoneme j
    (two input channels per head). Content heads
    score ``q_h · k_hj / sqrt(d)``. Either way the context is the concatenation of the heads'
    weighted values, projected back to the encoder size.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        heads, dim = config.attention_heads, config.attention_dim
        self.heads, self.dim = heads, dim
        self.location = config.attention == "location"
        enc = config.encoder_hidden
        self.query = nn.Linear(config.attention_rnn_dim, heads * dim, bias=False)
        self.key = nn.Linear(enc, heads * dim, bias=False)
        self.value = nn.Linear(enc, enc, bias=False)
        self.out = nn.Linear(enc, enc)
        if self.location:
            # One location conv per head (groups=heads) over its [previous, cumulative]
            # weights, then a per-head projection to `dim`.
            self.location_conv = nn.Conv1d(2 * heads, heads * config.location_filters,
                                           config.location_kernel,
                                           padding=config.location_kernel // 2, groups=heads,
                                           bias=False)
            self.location_proj = nn.Conv1d(heads * config.location_filters, heads * dim, 1,
                                           groups=heads, bias=False)
            self.score = nn.Parameter(torch.empty(heads, dim))
            nn.init.normal_(self.score, std=1.0 / math.sqrt(dim))

    def prepare(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-utterance projections of the encoder outputs, computed once per sequence."""
        b, length, _ = memory.shape
        keys = self.key(memory).view(b, length, self.heads, self.dim).permute(0, 2, 1, 3)
        values = self.value(memory).view(b, length, self.heads, -1).permute(0, 2, 1, 3)
        # Contiguous once here: each decoder step's weighted sum of the values would otherwise
        # copy them into that layout, and keep the copy for backward, at every step.
        return keys.contiguous(), values.contiguous()        # (B, H, L, d), (B, H, L, dv)

    def location_features(self, previous: torch.Tensor, cumulative: torch.Tensor) -> torch.Tensor:
        """The location convolution and its projection, (B, H, L) x2 -> (B, H, L, d).

        Computed as two batched matrix products over sliding windows rather than through
        `location_conv` and `location_proj` (whose weights it uses): the same numbers, but
        the decoder calls this once per step on tiny inputs, where convolution kernels spend
        most of their time on set-up (see `python -m kokoro_nb bench --only profile`).
        """
        heads, k = self.heads, self.location_conv.kernel_size[0]
        b, _, length = previous.shape
        # Heads first: one (B*L, 2k) x (2k, d) product per head, with no copy of the kernel
        # per batch item (which a (B, H, ...) layout would make, and keep, at every step).
        history = torch.stack([previous, cumulative], dim=-1).transpose(0, 1)  # (H, B, L, 2)
        history = F.pad(history, (0, 0, k // 2, k // 2))
        windows = history.unfold(2, k, 1).reshape(heads, b * length, 2 * k)  # (H, B*L, 2k)
        conv = self.location_conv.weight.view(heads, -1, 2 * k).transpose(1, 2)  # (H, 2k, F)
        proj = self.location_proj.weight.view(heads, self.dim, -1).transpose(1, 2)  # (H, F, d)
        # Both maps are linear with nothing between them: one (H, 2k, d) kernel does both, and
        # the (B, H, L, F) filter outputs are never made (nor kept for backward).
        features = torch.bmm(windows, torch.bmm(conv, proj))                  # (H, B*L, d)
        return features.view(heads, b, length, self.dim).transpose(0, 1)      # (B, H, L, d)

    def location_features_reference(self, previous: torch.Tensor, cumulative: torch.Tensor
                                    ) -> torch.Tensor:
        """`location_features` through the convolution modules (the plain formulation)."""
        b = previous.shape[0]
        # Channels ordered [h0 previous, h0 cumulative, h1 previous, ...] for groups=H.
        history = torch.stack([previous, cumulative], dim=2).flatten(1, 2)    # (B, 2H, L)
        loc = self.location_proj(self.location_conv(history))                 # (B, H*d, L)
        return loc.view(b, self.heads, self.dim, -1).transpose(2, 3)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                previous: torch.Tensor, cumulative: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Q), previous and cumulative weights (B, H, L), mask (B, L)
        -> context (B, enc), weights (B, H, L)."""
        b = query.shape[0]
        q = self.query(query).view(b, self.heads, 1, self.dim)
        if self.location:
            loc = self.location_features(previous, cumulative)               # (B, H, L, d)
            energies = (torch.tanh(q + keys + loc) * self.score[None, :, None, :]).sum(-1)
        else:
            energies = (q * keys).sum(-1) / math.sqrt(self.dim)            # (B, H, L)
        energies = energies.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(energies, dim=-1)                           # (B, H, L)
        context = torch.einsum("bhl,bhld->bhd", weights, values).reshape(b, -1)
        return self.out(context), weights


# --------------------------------------------------------------------------- decoder


class Prenet(nn.Module):
    def __init__(self, in_dim: int, dims: tuple[int, ...], dropout: float,
                 dropout_at_inference: bool) -> None:
        super().__init__()
        sizes = (in_dim,) + tuple(dims)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.dropout = dropout
        self.dropout_at_inference = dropout_at_inference

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        active = self.training or self.dropout_at_inference
        for layer in self.layers:
            x = F.dropout(F.relu(layer(x)), p=self.dropout, training=active)
        return x


class _SharedWeight(torch.autograd.Function):
    """The identity on a weight that every decoder step multiplies by (`_StepProduct`). In
    backward it gets the weight's whole gradient at once: the steps leave their (output
    gradient, input) pairs on `tape`, and one matrix product sums them."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, tape: list) -> torch.Tensor:
        ctx.tape = tape
        return weight.clone()

    @staticmethod
    def backward(ctx, _unused):
        grads = torch.cat([grad for grad, _ in ctx.tape])
        inputs = torch.cat([x for _, x in ctx.tape])
        ctx.tape.clear()
        return grads.T @ inputs, None


class _StepProduct(torch.autograd.Function):
    """``x @ weight.T`` for one decoder step, whose weight gradient is left on `tape`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, tape: list) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.tape = tape
        return x @ weight.T.to(x.dtype) if torch.is_autocast_enabled() else x @ weight.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        ctx.tape.append((grad.float(), x.float()))
        return (grad.to(weight.dtype) @ weight).to(x.dtype), None, None


class StepWeights:
    """Weight gradients of the decoder's recurrent matrix products, summed over all steps.

    Backward through a step loop would otherwise make, for every step and weight, an
    (outputs x inputs) gradient from a product over just the batch (K = B: 8 or 16), and add
    it to the weight's gradient: on a CPU mostly memory traffic, about a third of a training
    step for the default preset. Deferred, it is one product over all steps (K = steps x B)
    per weight. The same numbers up to the order of a sum; one object per teacher-forced
    pass (`KokoroTTS.forward`).
    """

    def __init__(self) -> None:
        self._shared: dict[int, tuple[torch.Tensor, list]] = {}

    def product(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if id(weight) not in self._shared:
            tape: list = []
            self._shared[id(weight)] = (_SharedWeight.apply(weight, tape), tape)
        shared, tape = self._shared[id(weight)]
        return _StepProduct.apply(x, shared, tape)

    def lstm_cell(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
                  cell: nn.LSTMCell) -> tuple[torch.Tensor, torch.Tensor]:
        """`cell(x, state)` computed with `product` (PyTorch's gate order: i, f, g, o)."""
        h, c = state
        gates = (self.product(x, cell.weight_ih) + self.product(h, cell.weight_hh)
                 + cell.bias_ih + cell.bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class Decoder(nn.Module):
    """One step: prenet(previous frame) -> attention LSTM -> attention -> decoder LSTM ->
    `reduction` mel frames and their stop logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        enc = config.encoder_hidden
        self.prenet = Prenet(config.n_mels, config.prenet_dims, config.prenet_dropout,
                             config.prenet_dropout_at_inference)
        self.attention_rnn = nn.LSTMCell(config.prenet_dims[-1] + enc, config.attention_rnn_dim)
        self.attention = MultiHeadAttention(config)
        self.decoder_rnn = nn.LSTMCell(config.attention_rnn_dim + enc, config.decoder_rnn_dim)
        self.frames = nn.Linear(config.decoder_rnn_dim + enc, config.n_mels * config.reduction)
        self.stop = nn.Linear(config.decoder_rnn_dim + enc, config.reduction)
        # Training-time memory option (TrainConfig.checkpoint_attention): keep only each
        # step's attention inputs and compute its (B, H, L, d) energies again in backward.
        self.recompute_attention = False
        # Training sums the LSTM weights' gradients over all steps at once (`StepWeights`).
        self.defer_weight_gradients = True
        self.compiled = False  # `compile_decoder_step` replaced `recurrence`

    def initial_state(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        b, length, enc = memory.shape
        zeros = memory.new_zeros
        c = self.config
        return {
            "att_h": zeros(b, c.attention_rnn_dim), "att_c": zeros(b, c.attention_rnn_dim),
            "dec_h": zeros(b, c.decoder_rnn_dim), "dec_c": zeros(b, c.decoder_rnn_dim),
            "context": zeros(b, enc),
            "previous": zeros(b, c.attention_heads, length),
            "cumulative": zeros(b, c.attention_heads, length),
        }

    def recurrence(self, prenet_out: torch.Tensor, state: dict, keys, values, mask,
                   step_weights: StepWeights | None = None):
        """The sequential part of one step: attention LSTM, attention, decoder LSTM.
        Returns the projection input (decoder state + context), the weights and the state.
        With `step_weights` (training) the LSTM weights' gradients are summed over all steps
        at once; the outputs are the same."""
        c = self.config
        lstm = (lambda x, hc, cell: cell(x, hc)) if step_weights is None else step_weights.lstm_cell
        x = torch.cat([prenet_out, state["context"]], dim=-1)
        att_h, att_c = lstm(x, (state["att_h"], state["att_c"]), self.attention_rnn)
        att_h = F.dropout(att_h, c.rnn_dropout, self.training)
        inputs = (att_h, keys, values, state["previous"], state["cumulative"], mask)
        if self.recompute_attention and torch.is_grad_enabled():
            context, weights = checkpoint(self.attention, *inputs, use_reentrant=False)
        else:
            context, weights = self.attention(*inputs)
        dec_h, dec_c = lstm(torch.cat([att_h, context], -1), (state["dec_h"], state["dec_c"]),
                            self.decoder_rnn)
        dec_h = F.dropout(dec_h, c.rnn_dropout, self.training)
        new_state = {"att_h": att_h, "att_c": att_c, "dec_h": dec_h, "dec_c": dec_c,
                     "context": context, "previous": weights,
                     "cumulative": state["cumulative"] + weights}
        return torch.cat([dec_h, context], -1), weights, new_state

    def project(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., dec + enc) -> frames (..., r, n_mels) and stop logits (..., r)."""
        c = self.config
        frames = self.frames(out).unflatten(-1, (c.reduction, c.n_mels))
        return frames, self.stop(out)

    def step(self, frame: torch.Tensor, state: dict, keys, values, mask):
        """One free-running step from the previous frame (inference)."""
        out, weights, state = self.recurrence(self.prenet(frame), state, keys, values, mask)
        frames, stop = self.project(out)
        return frames, stop, weights, state


class Postnet(nn.Module):
    """Convolutions over the whole mel predicting a residual correction."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels = [config.n_mels] + [config.postnet_channels] * (config.postnet_layers - 1) + [config.n_mels]
        self.convs = nn.ModuleList()
        for i in range(config.postnet_layers):
            self.convs.append(nn.Sequential(
                nn.Conv1d(channels[i], channels[i + 1], config.postnet_kernel,
                          padding=config.postnet_kernel // 2),
                nn.BatchNorm1d(channels[i + 1]),
            ))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """mel (B, T, n_mels), mask (B, T) -> residual (B, T, n_mels)."""
        x = (mel * mask[..., None]).transpose(1, 2)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = torch.tanh(x)
            x = self.dropout(x) * mask[:, None, :]
        return x.transpose(1, 2)


# --------------------------------------------------------------------------- the model


class KokoroTTS(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.postnet = Postnet(config)
        self.register_buffer("mel_mean", torch.zeros(config.n_mels))
        self.register_buffer("mel_std", torch.ones(config.n_mels))

    def set_mel_statistics(self, mean, std) -> None:
        self.mel_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.mel_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-3))

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.mel_mean) / self.mel_std

    def denormalize(self, mel: torch.Tensor) -> torch.Tensor:
        return mel * self.mel_std + self.mel_mean

    def forward(self, ids: torch.Tensor, stress: torch.Tensor, text_lengths: torch.Tensor,
                mels: torch.Tensor, mel_lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """Teacher-forced pass. `mels` (B, T, n_mels) are log-mels with T a multiple of the
        reduction factor. Returns normalised predictions: ``mel`` (decoder), ``mel_post``
        (after the postnet), ``stop_logits`` (B, T), ``attention`` (B, T/r, L) averaged over
        heads, and ``attention_heads`` (B, H, T/r, L)."""
        r = self.config.reduction
        b, t, n_mels = mels.shape
        if t % r:
            raise ValueError(f"mel length {t} is not a multiple of the reduction factor {r}")
        memory = self.encoder(ids, stress, text_lengths)
        text_mask = lengths_to_mask(text_lengths, ids.shape[1])
        keys, values = self.decoder.attention.prepare(memory)
        target = self.normalize(mels)
        # The decoder sees the last frame of the previous step (a zero "go" frame first).
        previous = torch.cat([target.new_zeros(b, 1, n_mels), target[:, r - 1:-1:r]], dim=1)
        # Teacher forcing knows every step's input in advance, so the prenet and the output
        # projections run once over the whole sequence; only the recurrence is a loop.
        prenet_out = self.decoder.prenet(previous)                       # (B, T/r, P)
        state = self.decoder.initial_state(memory)
        # A compiled step keeps PyTorch's own cells (the compiler fuses their work anyway).
        deferred = (torch.is_grad_enabled() and self.decoder.defer_weight_gradients
                    and not self.decoder.compiled)
        step_weights = StepWeights() if deferred else None
        outs, weights = [], []
        for step in range(t // r):
            out, w, state = self.decoder.recurrence(prenet_out[:, step], state, keys, values,
                                                    text_mask, step_weights)
            outs.append(out)
            weights.append(w)
        frames, stops = self.decoder.project(torch.stack(outs, dim=1))    # (B, T/r, r, n_mels)
        mel = frames.reshape(b, t, n_mels)
        mel_mask = lengths_to_mask(mel_lengths, t)
        mel_post = mel + self.postnet(mel, mel_mask)
        heads = torch.stack(weights, dim=2)                               # (B, H, T/r, L)
        return {"mel": mel, "mel_post": mel_post, "stop_logits": stops.reshape(b, t),
                "attention": heads.mean(1), "attention_heads": heads, "target": target}

    @torch.no_grad()
    def infer(self, ids: torch.Tensor, stress: torch.Tensor, text_lengths: torch.Tensor | None = None,
              max_steps: int | None = None, min_steps: int = 0) -> dict[str, torch.Tensor]:
        """Free-running greedy decoding until every utterance's stop probability passes the
        threshold (or `max_steps` decoder steps; stops before `min_steps` are ignored).
        Returns de-normalised log-mels ``mel``
        (B, T, n_mels), ``lengths`` (B) in frames, ``stopped`` (B) bool, ``stop_probs`` (B, T)
        and ``attention`` (B, steps, L)."""
        c = self.config
        if text_lengths is None:
            text_lengths = torch.full((ids.shape[0],), ids.shape[1], dtype=torch.long, device=ids.device)
        max_steps = max_steps or c.max_decoder_steps
        memory = self.encoder(ids, stress, text_lengths)
        text_mask = lengths_to_mask(text_lengths, ids.shape[1])
        keys, values = self.decoder.attention.prepare(memory)
        b = ids.shape[0]
        frame = memory.new_zeros(b, c.n_mels)
        state = self.decoder.initial_state(memory)
        lengths = torch.zeros(b, dtype=torch.long, device=ids.device)
        stopped = torch.zeros(b, dtype=torch.bool, device=ids.device)
        frames, stops, weights = [], [], []
        for step in range(max_steps):
            f, s, w, state = self.decoder.step(frame, state, keys, values, text_mask)
            frames.append(f)
            probs = torch.sigmoid(s)
            stops.append(probs)
            weights.append(w.mean(1))
            frame = f[:, -1]
            # The first frame of this step whose stop probability passes the threshold ends
            # the utterance (it is kept: stop targets are 1 from the last real frame on).
            over = probs > c.stop_threshold
            if step < min_steps:
                over = torch.zeros_like(over)
            first = torch.where(over.any(1), over.float().argmax(1), torch.full_like(lengths, -1))
            newly = (~stopped) & (first >= 0)
            lengths = torch.where(newly, step * c.reduction + first + 1, lengths)
            stopped = stopped | newly
            if bool(stopped.all()):
                break
        total = len(frames) * c.reduction
        lengths = torch.where(stopped, lengths, torch.full_like(lengths, total))
        mel = torch.cat(frames, dim=1)
        mask = lengths_to_mask(lengths, total)
        mel = mel + self.postnet(mel, mask)
        return {"mel": self.denormalize(mel), "lengths": lengths, "stopped": stopped,
                "stop_probs": torch.cat(stops, dim=1), "attention": torch.stack(weights, dim=1)}


def compile_decoder_step(model: KokoroTTS) -> bool:
    """`torch.compile` the decoder's per-step recurrence, where a GPU spends its time
    launching a few dozen small kernels per step; the weights and outputs stay the same.
    Returns False, with a warning, where this PyTorch or device cannot compile it (MPS, no
    C++ compiler for the CPU, an older PyTorch): the model then runs as it is."""
    import logging

    device = next(model.parameters()).device
    reason = None
    if not hasattr(torch, "compile"):
        reason = "this PyTorch has no torch.compile"
    elif device.type == "mps":
        reason = "torch.compile does not support MPS well enough"
    if reason is None:
        compiled = torch.compile(model.decoder.recurrence, dynamic=True)
        try:
            _try_compiled_step(model, compiled)
        except Exception as exc:  # the compiler's errors have no common type
            reason = f"compiling failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    if reason is not None:
        logging.getLogger(__name__).warning("decoder step not compiled: %s", reason)
        return False
    model.decoder.recurrence = compiled
    model.decoder.compiled = True
    return True


def _try_compiled_step(model: KokoroTTS, compiled) -> None:
    """Run `compiled` once forward and backward on a tiny batch, so a missing compiler or an
    unsupported operation shows now, not in the middle of training. (Sizes of 2 and 3, not
    1: the compiler specialises on size 1 and would compile again for real batches.)"""
    c = model.config
    device = next(model.parameters()).device
    memory = torch.zeros(2, 3, c.encoder_hidden, device=device, requires_grad=True)
    keys, values = model.decoder.attention.prepare(memory)
    state = model.decoder.initial_state(memory)
    prenet_out = torch.zeros(2, c.prenet_dims[-1], device=device)
    mask = torch.ones(2, 3, dtype=torch.bool, device=device)
    out, _, _ = compiled(prenet_out, state, keys, values, mask)
    out.sum().backward()
    model.zero_grad(set_to_none=True)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def parameters_per_module(model: KokoroTTS) -> dict[str, int]:
    """Parameters of the top-level parts (what notebook 04 tabulates)."""
    parts = {
        "encoder.embedding": model.encoder.embedding,
        "encoder.convs": model.encoder.convs,
        "encoder.lstm": model.encoder.lstm,
        "decoder.prenet": model.decoder.prenet,
        "decoder.attention_rnn": model.decoder.attention_rnn,
        "decoder.attention": model.decoder.attention,
        "decoder.decoder_rnn": model.decoder.decoder_rnn,
        "decoder.projections": nn.ModuleList([model.decoder.frames, model.decoder.stop]),
        "postnet": model.postnet,
    }
    if model.encoder.stress is not None:
        parts["encoder.stress"] = model.encoder.stress
    return {name: count_parameters(m) for name, m in parts.items()}
