"""The command line, run as a user runs it: a real subprocess."""

import json
import subprocess
import sys


def run_cli(*args, check=True):
    return subprocess.run([sys.executable, "-m", "kokoro_nb", *args], capture_output=True,
                          text=True, check=check, timeout=600)


def test_demo_prints_sample_sentences():
    out = run_cli("demo").stdout
    assert "/prʲivʲet/" in out and "stress: syllable 1" in out
    assert "model input:" in out


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
    assert data["machine"]["cpu_count"] >= 1
