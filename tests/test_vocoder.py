"""The neural vocoder (kokoro_nb.vocoder, vocoder_training) and audio quality (quality.py)."""

import functools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kokoro_nb.audio import load_audio, mel_spectrogram
from kokoro_nb.config import AudioConfig, VocoderTrainConfig, vocoder_config
from kokoro_nb.corpus import demo_corpus_dir
from kokoro_nb.discriminators import (
    PERIODS,
    RESOLUTIONS,
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from kokoro_nb.quality import dtw_cost, mcd_dtw
from kokoro_nb.runlog import read_metrics
from kokoro_nb.vocoder import (
    Vocoder,
    count_parameters,
    load_vocoder,
    vocode_mel,
    vocoder_losses,
    vocoder_state,
)
from kokoro_nb.vocoder_training import (
    VocoderTrainer,
    list_vocoder_checkpoints,
)

AUDIO = AudioConfig()
ROOT = Path(__file__).resolve().parent.parent


def demo_clip(index: int = 0) -> torch.Tensor:
    paths = sorted((demo_corpus_dir() / "wavs").glob("*.flac"))
    return load_audio(paths[index], AUDIO)[0]


def test_presets_sizes_and_output_length():
    assert 1_000_000 <= count_parameters(Vocoder(vocoder_config("demo"), AUDIO)) <= 2_000_000
    assert count_parameters(Vocoder(vocoder_config("default"), AUDIO)) > 10_000_000
    model = Vocoder(vocoder_config("demo"), AUDIO)
    mel = torch.randn(2, AUDIO.n_mels, 40)
    assert model(mel).shape == (2, 39 * AUDIO.hop_length)  # as Griffin-Lim: (frames - 1) * hop
    assert model.vocode(mel[0]).abs().max() <= 1.0
    with pytest.raises(ValueError, match="log-mel of shape"):
        model(torch.randn(2, 40, 80))


def test_losses_vanish_for_the_recording_itself():
    wave = demo_clip()[: 64 * AUDIO.hop_length][None]
    same = vocoder_losses(wave, wave, AUDIO)
    assert float(same["mel"]) == 0.0 and float(same["stft"]) < 1e-6
    noisy = vocoder_losses(wave + 0.05 * torch.randn_like(wave), wave, AUDIO)
    assert float(noisy["loss"]) > 0.1


def test_state_round_trip_and_clear_errors(tmp_path):
    model = Vocoder(vocoder_config("demo"), AUDIO)
    torch.save(vocoder_state(model), tmp_path / "v.pth")
    loaded = load_vocoder(tmp_path / "v.pth")
    mel = torch.randn(1, AUDIO.n_mels, 12)
    assert torch.equal(loaded(mel), model.eval()(mel))
    torch.save({"model": {}}, tmp_path / "acoustic.pth")
    with pytest.raises(ValueError, match="not a kokoro_nb vocoder"):
        load_vocoder(tmp_path / "acoustic.pth")


def test_vocode_mel_uses_the_vocoder_or_griffin_lim():
    mel = mel_spectrogram(demo_clip()[:20000], AUDIO)
    model = Vocoder(vocoder_config("demo"), AUDIO)
    assert vocode_mel(mel, AUDIO, model).shape == vocode_mel(mel, AUDIO).shape
    other = AudioConfig(hop_length=128, win_length=512, n_fft=512)
    with pytest.raises(ValueError, match="trained for"):
        vocode_mel(mel, other, model)


def small_run(output: Path, max_steps: int, **changes) -> VocoderTrainConfig:
    settings = dict(preset="demo", batch_size=2, segment_frames=8, save_every=2, log_every=1,
                    validate_every=4, device="cpu")
    return VocoderTrainConfig(output=str(output), max_steps=max_steps, **settings | changes)


def test_resume_is_exact(tmp_path):
    """Three steps, a stop, three more from the checkpoint: the same weights and the same
    metrics as six steps in one go."""
    straight = VocoderTrainer(small_run(tmp_path / "a", 6))
    straight.train(progress=False)
    first = VocoderTrainer(small_run(tmp_path / "b", 3))
    first.train(progress=False)
    assert [p.name for p in list_vocoder_checkpoints(tmp_path / "b")] == [
        "vocoder_step_2.pth", "vocoder_step_3.pth"]
    resumed = VocoderTrainer(small_run(tmp_path / "b", 6), resume="auto")
    assert resumed.step == 3
    resumed.train(progress=False)
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    def records(run):
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in read_metrics(run)]

    assert records(tmp_path / "a") == records(tmp_path / "b")
    assert not list((tmp_path / "b").glob("*.tmp"))
    assert list((tmp_path / "b" / "tensorboard").glob("events.out.tfevents.*"))


def test_adversarial_training_starts_at_its_step_and_resumes_exactly(tmp_path):
    """With ``adversarial_from=2`` the discriminators join at step 2 (their losses appear
    in the records from then on), and a run stopped after step 3 and resumed gives the
    weights of both networks of an uninterrupted one."""
    run = functools.partial(small_run, adversarial_from=2, validate_every=100)
    straight = VocoderTrainer(run(tmp_path / "a", 5))
    straight.train(progress=False)
    train = [r for r in read_metrics(tmp_path / "a") if r["type"] == "train"]
    assert ["discriminator" in r for r in train] == [False, False, True, True, True]
    assert all(r["adversarial"] >= 0 and r["feature"] > 0 for r in train[2:])
    VocoderTrainer(run(tmp_path / "b", 3)).train(progress=False)
    resumed = VocoderTrainer(run(tmp_path / "b", 5), resume="auto")
    resumed.train(progress=False)
    for a, b in ((straight.model, resumed.model),
                 (straight.adversary.judges, resumed.adversary.judges)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    assert "adversary" not in torch.load(tmp_path / "b" / "vocoder_final.pth", weights_only=True)


def test_presets_choose_when_adversarial_training_starts():
    assert VocoderTrainConfig(preset="default").adversarial_start() == 10_000
    assert VocoderTrainConfig(preset="demo").adversarial_start() is None
    assert VocoderTrainConfig(preset="demo", adversarial_from=0).adversarial_start() == 0
    assert VocoderTrainConfig(preset="default", adversarial_from=-1).adversarial_start() is None


def test_discriminators_judge_any_length_and_the_losses_behave():
    judges = Discriminators("demo").requires_grad_(False)
    wave = demo_clip()[:4001][None].repeat(2, 1)  # not a multiple of any period
    real = judges(wave)
    assert len(real) == len(PERIODS) + len(RESOLUTIONS)
    assert all(score.shape[0] == 2 and len(maps) >= 5 for score, maps in real)
    assert float(feature_matching_loss(real, judges(wave))) == 0.0
    fake = judges(torch.zeros_like(wave))
    assert float(feature_matching_loss(real, fake)) > 0
    assert float(discriminator_loss(real, fake)) >= 0
    assert float(generator_adversarial_loss(fake)) >= 0


def test_fine_tuning_on_teacher_forced_mels(tmp_path):
    """With an acoustic checkpoint the vocoder learns from the model's own mels: segments'
    mels are slices of its teacher-forced mel, aligned with the recording's samples, and a
    run can start from another vocoder's weights."""
    from kokoro_nb.checkpoints import training_checkpoint
    from kokoro_nb.config import TrainConfig, model_config
    from kokoro_nb.evaluation import teacher_forced_mel
    from kokoro_nb.model import KokoroTTS
    from kokoro_nb.text import RussianPhonemeProcessor
    from kokoro_nb.vocoder_training import vocoder_run_items

    processor = RussianPhonemeProcessor()
    model = KokoroTTS(model_config("demo", processor.get_vocab_size())).eval()
    torch.save(training_checkpoint(model, processor, model.config, AUDIO, TrainConfig(),
                                   {"epoch": 0, "global_step": 0}), tmp_path / "acoustic.pth")
    item = vocoder_run_items(small_run(tmp_path / "x", 1), AUDIO)[0][0]
    mel = teacher_forced_mel(model, processor, AUDIO, item, seed=3)
    recording = load_audio(item.audio_path, AUDIO)[0]
    assert mel.shape == mel_spectrogram(recording, AUDIO).shape
    assert torch.equal(mel, teacher_forced_mel(model, processor, AUDIO, item, seed=3))
    base = VocoderTrainer(small_run(tmp_path / "base", 1))
    base.train(progress=False)
    tuned = VocoderTrainer(small_run(tmp_path / "tuned", 1, init_from=str(
        tmp_path / "base" / "vocoder_final.pth"), acoustic_checkpoint=str(tmp_path / "acoustic.pth")))
    assert all(torch.equal(a, b) for a, b in zip(base.model.state_dict().values(),
                                                 tuned.model.state_dict().values(), strict=True))
    waves, mels = tuned.sampler.batch(0)
    assert mels.shape == (2, AUDIO.n_mels, 9) and waves.shape == (2, 8 * AUDIO.hop_length)
    assert not torch.allclose(mels, mel_spectrogram(waves, AUDIO), atol=1.0)
    tuned.train(progress=False)
    with pytest.raises(ValueError, match="another size"):
        VocoderTrainer(small_run(tmp_path / "c", 1, preset="default",
                                 init_from=str(tmp_path / "base" / "vocoder_final.pth")))


@pytest.mark.slow
def test_kill_9_then_resume_auto(tmp_path):
    """A run killed with SIGKILL at a random moment after its first checkpoint resumes from
    the newest checkpoint and ends with the weights of an uninterrupted run."""
    command = [sys.executable, "-m", "kokoro_nb", "train-vocoder", "--preset", "demo",
               "--batch-size", "2", "--max-steps", "12", "--save-every", "2",
               "--validate-every", "100", "--device", "cpu", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    killed = tmp_path / "killed"
    process = subprocess.Popen(command + ["--output", str(killed)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list_vocoder_checkpoints(killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.0))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list_vocoder_checkpoints(killed), "no checkpoint before the kill"
    subprocess.run(command + ["--output", str(killed), "--resume", "auto"], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    straight = tmp_path / "straight"
    subprocess.run(command + ["--output", str(straight)], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    a = torch.load(killed / "vocoder_final.pth", weights_only=True)["model"]
    b = torch.load(straight / "vocoder_final.pth", weights_only=True)["model"]
    assert all(torch.equal(a[name], b[name]) for name in a)


# ----------------------------------------------------------------------------- quality

def test_mcd_is_zero_for_the_same_clip_and_grows_with_distortion():
    wave = demo_clip()
    assert mcd_dtw(wave, wave, AUDIO) == 0.0
    slightly = mcd_dtw(wave, wave + 0.003 * torch.randn_like(wave), AUDIO)
    badly = mcd_dtw(wave, wave + 0.05 * torch.randn_like(wave), AUDIO)
    assert 0 < slightly < badly


def test_dtw_aligns_a_stretched_sequence_for_free():
    a = torch.arange(10.0)[:, None].repeat(1, 3).numpy()
    b = torch.arange(10.0).repeat_interleave(2)[:, None].repeat(1, 3).numpy()
    total, steps = dtw_cost(a, b)
    assert total == 0.0 and steps == 20


def test_bench_vocoder_reports_real_time_factors():
    from kokoro_nb.bench import bench_vocoder

    runs = bench_vocoder("cpu", repeats=1, seconds=1.0)["runs"]
    assert [r["vocoder"] for r in runs] == ["demo", "default", "griffin-lim"]
    assert all(r["rtf"] > 0 for r in runs)


def test_cli_vocode_synthesize_and_evaluate_with_a_vocoder(tmp_path):
    from kokoro_nb.cli import main
    from kokoro_nb.config import model_config
    from kokoro_nb.model import KokoroTTS
    from kokoro_nb.synthesis import Synthesizer
    from kokoro_nb.text import RussianPhonemeProcessor

    vocoder = Vocoder(vocoder_config("demo"), AUDIO)
    torch.save(vocoder_state(vocoder), tmp_path / "vocoder_final.pth")
    wav = sorted((demo_corpus_dir() / "wavs").glob("*.flac"))[0]
    for which in (str(tmp_path / "vocoder_final.pth"), "griffin-lim"):
        assert main(["vocode", "--vocoder", which, "--wav", str(wav),
                     "--out", str(tmp_path / "copy.wav")]) == 0
        assert load_audio(tmp_path / "copy.wav", AUDIO)[0].numel() > 0
    processor = RussianPhonemeProcessor()
    model = KokoroTTS(model_config("demo", processor.get_vocab_size()))
    synth = Synthesizer.from_parts(model, processor, AUDIO, vocoder=tmp_path / "vocoder_final.pth")
    result = synth.synthesize("Привет!", max_steps=4)
    assert result.wave.shape[0] == (result.mel.shape[0] - 1) * AUDIO.hop_length
    assert main(["evaluate", "--checkpoint", str(tmp_path / "missing.pth"), "--corpus",
                 str(demo_corpus_dir())]) == 2  # a clear error, not a traceback


def test_audio_quality_lists_the_copy_synthesis_rungs(tmp_path):
    from kokoro_nb.evaluation import audio_quality

    torch.save(vocoder_state(Vocoder(vocoder_config("demo"), AUDIO)), tmp_path / "v.pth")
    result = audio_quality(demo_corpus_dir(), vocoder=tmp_path / "v.pth", limit=1)
    assert list(result["rungs"]) == ["natural", "griffin_lim", "vocoder"]
    assert result["rungs"]["natural"]["mcd"] == 0.0
    assert result["rungs"]["vocoder"]["mcd"] > result["rungs"]["griffin_lim"]["mcd"]  # untrained


def test_griffin_lim_sweep_scores_each_power():
    from kokoro_nb.evaluation import griffin_lim_sweep

    rows = griffin_lim_sweep([demo_clip()], AUDIO, (1.0, 1.5))
    assert [row["power"] for row in rows] == [1.0, 1.5]
    assert rows[0]["mcd"] < rows[1]["mcd"]  # sharpening moves the spectrum away
