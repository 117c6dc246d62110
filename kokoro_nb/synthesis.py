"""Text in, speech out: text -> phoneme ids -> mel (+ alignment, stop) -> waveform.

The vocoder is the neural one trained by `python -m kokoro_nb train-vocoder` when given
(``vocoder=`` a ``vocoder_final.pth`` path or a loaded `vocoder.Vocoder`), else Griffin-Lim
(`audio.mel_to_audio`), which needs no model and sounds phasey; the alignment and the mel
are what the acoustic model is responsible for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .audio import write_audio
from .checkpoints import checkpoint_parts, load_checkpoint_file, load_weights
from .config import AudioConfig
from .corpus import encode_text
from .model import KokoroTTS
from .text import RussianPhonemeProcessor
from .vocoder import Vocoder, load_vocoder, vocode_mel


@dataclass
class SynthesisResult:
    text: str
    phonemes: list[str]          # the model's input symbols (without the end token)
    mel: torch.Tensor            # (frames, n_mels) log-mel
    alignment: torch.Tensor      # (decoder steps, input symbols incl. the end token)
    stop_probs: torch.Tensor     # (frames,)
    stopped: bool                # the model ended the utterance itself
    stop_threshold: float        # the stop probability that ends an utterance
    wave: torch.Tensor | None    # (samples,) float32, None when not vocoded
    sample_rate: int
    hop_length: int

    @property
    def duration_s(self) -> float:
        return self.mel.shape[0] * self.hop_length / self.sample_rate


def load_model(path: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[KokoroTTS, RussianPhonemeProcessor, AudioConfig, dict]:
    """Model, phoneme processor and audio config from a final model or a training checkpoint
    (checked by `checkpoint_parts` and `load_weights`)."""
    state = load_checkpoint_file(path)
    model_config, audio_config, processor = checkpoint_parts(state, path)
    model = KokoroTTS(model_config)
    load_weights(model, state["model"], path)
    model.to(device).eval()
    return model, processor, audio_config, state


class Synthesizer:
    """A loaded model ready to speak.

        synth = Synthesizer("kokoro_russian_model/kokoro_russian_final.pth")
        result = synth.synthesize("Привет, как дела?")
        synth.save(result, "hello.wav", "hello_alignment.png")

    A model in memory (e.g. one just trained) speaks through `from_parts`:

    >>> import torch
    >>> from kokoro_nb.config import AudioConfig, model_config
    >>> processor = RussianPhonemeProcessor()
    >>> model = KokoroTTS(model_config("demo", processor.get_vocab_size()))
    >>> synth = Synthesizer.from_parts(model, processor, AudioConfig())
    >>> _ = torch.manual_seed(0)
    >>> result = synth.synthesize("Привет!", max_steps=4)   # untrained: noise, but the shapes
    >>> result.mel.shape[1], result.alignment.shape[1] == len(result.phonemes) + 1   # + <eos>
    (80, True)
    >>> result.wave.shape[0] == (result.mel.shape[0] - 1) * 256   # hop 256
    True
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu",
                 vocoder: str | Path | Vocoder | None = None) -> None:
        self.device = torch.device(device)
        self.model, self.processor, self.audio_config, self.checkpoint = load_model(path, self.device)
        self.vocoder = _as_vocoder(vocoder, self.device)

    @classmethod
    def from_parts(cls, model: KokoroTTS, processor: RussianPhonemeProcessor,
                   audio_config: AudioConfig, vocoder: str | Path | Vocoder | None = None
                   ) -> "Synthesizer":
        synth = cls.__new__(cls)
        synth.device = next(model.parameters()).device
        synth.model, synth.processor, synth.audio_config = model, processor, audio_config
        synth.checkpoint = {}
        synth.vocoder = _as_vocoder(vocoder, synth.device)
        return synth

    @torch.no_grad()
    def synthesize(self, text: str, vocode: bool = True, max_steps: int | None = None,
                   griffin_lim_iters: int | None = None) -> SynthesisResult:
        ids, stress = encode_text(self.processor, text)
        if len(ids) <= 1:
            raise ValueError(f"nothing to say: {text!r} has no Russian words")
        was_training = self.model.training
        self.model.eval()
        ids_t = torch.tensor([ids], device=self.device)
        stress_t = torch.tensor([stress], device=self.device)
        if max_steps is None:  # generous: ~25 frames per symbol, never less than 40 steps
            max_steps = max(40, (25 * len(ids)) // self.model.config.reduction)
        # At least two decoder steps, so that even an undertrained model yields some sound.
        out = self.model.infer(ids_t, stress_t, max_steps=max_steps, min_steps=2)
        self.model.train(was_training)
        frames = int(out["lengths"][0])
        mel = out["mel"][0, :frames].float().cpu()
        steps = -(-frames // self.model.config.reduction)
        wave = None
        if vocode:
            wave = vocode_mel(mel.T.contiguous(), self.audio_config, self.vocoder,
                              griffin_lim_iters)
        return SynthesisResult(
            text=text,
            phonemes=[self.processor.get_phoneme_list()[i] for i in ids[:-1]],
            mel=mel,
            alignment=out["attention"][0, :steps].float().cpu(),
            stop_probs=out["stop_probs"][0, :frames].float().cpu(),
            stopped=bool(out["stopped"][0]),
            stop_threshold=self.model.config.stop_threshold,
            wave=wave,
            sample_rate=self.audio_config.sample_rate,
            hop_length=self.audio_config.hop_length,
        )

    def save(self, result: SynthesisResult, wav_path: str | Path,
             alignment_path: str | Path | None = None) -> Path:
        """Write the WAV (and the alignment PNG when a path is given)."""
        if result.wave is None:
            raise ValueError("the result was not vocoded (synthesize(vocode=True))")
        path = write_audio(wav_path, result.wave, result.sample_rate)
        if alignment_path is not None:
            from .plots import save_attention_png  # matplotlib: imported when first needed

            save_attention_png(result.alignment, alignment_path,
                               f"{result.text[:50]} ({'stopped' if result.stopped else 'no stop'})")
        return path


def _as_vocoder(vocoder: str | Path | Vocoder | None, device: torch.device) -> Vocoder | None:
    if vocoder is None or isinstance(vocoder, Vocoder):
        return vocoder
    return load_vocoder(vocoder, device)


def speak_item(model: KokoroTTS, processor: RussianPhonemeProcessor, audio_config: AudioConfig,
               item) -> SynthesisResult:
    """A corpus item's text spoken free-running (as in real use), with a step limit of twice
    its recording's length: what training listens to after each validation."""
    steps = 2 * -(-item.frames // model.config.reduction) + 10
    return Synthesizer.from_parts(model, processor, audio_config).synthesize(item.text,
                                                                             max_steps=steps)
