"""The command line, run as a user runs it: a real subprocess."""

import json
import subprocess
import sys



def run_cli(*args, check=True):
    return subprocess.run([sys.executable, "-m", "kokoro_nb", *args], capture_output=True,
                          text=True, check=check, timeout=600)


def test_demo_trains_and_speaks(tmp_path):
    out_dir = tmp_path / "demo"
    out = run_cli("demo", "--minutes", "0.05", "--output", str(out_dir), "--no-progress").stdout
    assert "/prʲivʲet/" in out and "stress: syllable 1" in out
    assert "Speaking a sentence the model has never heard" in out
    assert (out_dir / "demo.wav").stat().st_size > 1000
    assert (out_dir / "demo_alignment.png").exists()
    assert (out_dir / "kokoro_russian_final.pth").exists()


def test_g2p_json():
    out = run_cli("g2p", "--json", "Привет,", "мир!").stdout
    data = json.loads(out)
    assert [w["word"] for w in data["words"]] == ["привет", "мир"]
    assert data["ipa"] == "prʲivʲet, mʲir!"


def test_g2p_bad_stress_dict_is_a_clear_error(tmp_path):
    bad = tmp_path / "d.tsv"
    bad.write_text("слово\tx\n", encoding="utf-8")
    result = run_cli("g2p", "--stress-dict", str(bad), "слово", check=False)
    assert result.returncode == 2
    assert f"{bad}:1" in result.stderr


def test_bench_g2p_reports_speeds():
    out = run_cli("bench", "--only", "g2p", "--json").stdout
    data = json.loads(out)
    g2p = data["g2p"]
    assert g2p["uncached_words_per_s"] > 0 and g2p["cached_words_per_s"] > g2p["uncached_words_per_s"]
    assert g2p["lexicon_entries"] >= 100_000
    assert g2p["sentences"] == 300 and g2p["uncached_sentence_words_per_s"] > 0
    assert data["machine"]["cpu_count"] >= 1


def test_bench_training_and_synthesis_report_speed_and_memory():
    out = run_cli("bench", "--only", "training", "--only", "synthesis", "--preset", "demo",
                  "--batch-size", "2", "--repeats", "2", "--device", "cpu", "--json").stdout
    data = json.loads(out)
    (run,) = data["training"]["runs"]
    assert (run["preset"], run["batch_size"], run["precision"]) == ("demo", 2, "fp32")
    assert 0 < run["min_step_s"] <= run["median_step_s"]
    # What was measured is the demo model on two demo-corpus clips, whatever the cwd holds.
    from kokoro_nb.config import model_config
    from kokoro_nb.corpus import demo_corpus_dir, validate_corpus
    from kokoro_nb.model import KokoroTTS, count_parameters
    from kokoro_nb.text import RussianPhonemeProcessor

    vocab = RussianPhonemeProcessor().get_vocab_size()
    assert run["parameters"] == count_parameters(KokoroTTS(model_config("demo", vocab)))
    frames = sorted(item.frames for item in validate_corpus(demo_corpus_dir()).items)
    assert 2 * frames[0] <= run["mel_frames_per_batch"] <= 2 * frames[-1]
    assert run["decoder_steps"] * 3 >= run["mel_frames_per_batch"] / 2  # r = 3 covers each clip
    assert run["peak_rss_mb"] > 100  # torch alone needs more than that
    assert "mixed precision" in data["training"]["amp_note"]
    (synth,) = data["synthesis"]["runs"]
    assert synth["audio_seconds"] > 0.5 and synth["model_rtf"] > 0 and synth["griffin_lim_rtf"] > 0


def test_bench_profile_names_the_dominant_ops():
    data = json.loads(run_cli("bench", "--only", "profile", "--preset", "demo", "--batch-size", "2",
                              "--device", "cpu", "--json").stdout)
    (run,) = data["profile"]["runs"]
    ops = [op["op"] for op in run["top_ops"]]
    assert "aten::mm" in ops or "aten::addmm" in ops
    shares = [op["share"] for op in run["top_ops"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1


def test_inspect_reports_a_corpus(tmp_path):
    import numpy as np
    import soundfile as sf

    root = tmp_path / "corpus"
    (root / "wavs").mkdir(parents=True)
    t = np.arange(22_050) / 22_050
    sf.write(str(root / "wavs" / "a.wav"), 0.5 * np.sin(2 * np.pi * 220 * t), 22_050)
    (root / "metadata_RUSLAN_22200.csv").write_text("a|Мама мыла раму.\nb|Нет файла.\nплохая строка\n",
                                                   encoding="utf-8")
    result = run_cli("inspect", "--corpus", str(root), "--json")
    report = json.loads(result.stdout)
    assert report["usable"] is True
    assert report["issue_counts"] == {"missing_audio": 1, "malformed_line": 1}
    assert report["statistics"]["usable_items"] == 1
    text = run_cli("inspect", "--corpus", str(root)).stdout
    assert "SKIP [missing_audio] line 2 (b)" in text


def test_inspect_fails_on_unusable_corpus(tmp_path):
    (tmp_path / "empty").mkdir()
    assert run_cli("inspect", "--corpus", str(tmp_path / "empty"), check=False).returncode == 1
    missing = run_cli("inspect", "--corpus", str(tmp_path / "nope"), check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_bench_features_cached_epoch_is_faster():
    data = json.loads(run_cli("bench", "--only", "features", "--json").stdout)["features"]
    assert data["clips"] > 100 and data["mel_audio_seconds_per_s"] > 0
    assert data["epoch_cached_s"] < data["epoch_cold_s"]


def test_preprocess_fills_the_feature_cache_once(tmp_path):
    from conftest import write_tone_corpus

    corpus = write_tone_corpus(tmp_path / "corpus")
    cache = tmp_path / "cache"
    args = ("preprocess", "--corpus", str(corpus), "--workers", "2", "--cache-dir", str(cache))
    first = json.loads(run_cli(*args, "--json").stdout)
    assert (first["usable_items"], first["skipped_items"], first["workers"]) == (12, 0, 2)
    assert (first["features_computed"], first["features_cached"]) == (12, 0)
    assert len(list(cache.rglob("*.feat"))) == 12 and len(list(cache.glob("reports/*.json"))) == 1
    second = json.loads(run_cli(*args, "--json").stdout)
    assert (second["items_checked"], second["features_computed"], second["features_cached"]) == (
        0, 0, 12)
    text = run_cli(*args).stdout
    assert "12 usable items of 12 metadata lines" in text and "0 computed, 12 already cached" in text


def test_bench_startup_times_preprocess_and_a_warm_resume():
    """The startup section on a small corpus (the command line's runs RUSLAN's 22,200)."""
    from kokoro_nb.bench import DEFAULT_SECTIONS, run_bench
    from kokoro_nb.cli import build_parser

    assert build_parser().parse_args(["bench", "--only", "startup"]).only == ["startup"]
    assert "startup" not in DEFAULT_SECTIONS  # minutes long: only when asked for
    data = run_bench(only=["startup"], startup_items=40)["startup"]
    assert data["metadata_lines"] == 40 and data["usable_items"] == 36
    assert sorted(data["cold_preprocess"]) == sorted({"workers_1", f"workers_{data['cpu_count']}"})
    for run in data["cold_preprocess"].values():
        assert run["features_computed"] == 36 and run["skipped_items"] == 3
    assert 0 < data["new_run_to_first_step_s"] and 0 < data["resume_to_first_step_s"]
    assert data["resume_to_first_step_s"] <= data["resume_exit_s"]
