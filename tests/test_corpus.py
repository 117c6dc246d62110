"""Corpus reading and validation with real bad files, the Dataset, collate, sampler, cache."""

import logging
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from kokoro_nb.config import AudioConfig
from kokoro_nb.corpus import (
    CorpusError,
    LengthBucketSampler,
    TTSDataset,
    collate_batch,
    demo_corpus_dir,
    resolve_corpus_dir,
    split_items,
    validate_corpus,
)
from kokoro_nb.text import RussianPhonemeProcessor

SR = 22_050
TEXT = "Мама мыла раму."


def tone(seconds=1.0, sr=SR, freq=220.0, channels=1, amplitude=0.5):
    t = np.arange(int(seconds * sr)) / sr
    wave = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def write_corpus(root, lines, files):
    """lines: metadata lines (str or bytes); files: {relative path: array | bytes | 'dir'}."""
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    raw = b"".join((ln if isinstance(ln, bytes) else ln.encode("utf-8")) + b"\n" for ln in lines)
    (root / "metadata_RUSLAN_22200.csv").write_bytes(raw)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content == "dir":
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            data, sr, subtype = content
            sf.write(str(path), data, sr, subtype=subtype)
    return root


@pytest.fixture()
def messy_corpus(tmp_path):
    good = (tone(1.0), SR, "PCM_16")
    valid_wav = tmp_path / "valid.wav"
    sf.write(str(valid_wav), tone(1.0), SR, subtype="PCM_16")
    header_cut = valid_wav.read_bytes()[:30]
    lines = [
        f"good_16bit|{TEXT}",
        "good_8bit|Восьмибитный звук тоже читается.",
        "stereo_44k|Стерео на сорок четыре килогерца.",
        "good_flac|Файл во флаке.",
        "truncated|Обрезанный заголовок.",
        "zero_length|Пустой файл.",
        "no_frames|Заголовок без звука.",
        "silent|Тишина в студии.",
        "a_directory|Каталог вместо файла.",
        "no_pipe_here just text",
        "missing_audio|Файла нет.",
        f"good_16bit|{TEXT}",
        "too_long|Очень длинная запись.",
        "from_file|",
        "empty_text|",
        "latin_only|Hello world",
        "odd_chars|Привет ☃ мир",
        "../../etc/passwd|Попытка выйти из каталога.",
    ]
    lines.insert(5, "cp1251|Кодировка".encode("cp1251"))
    files = {
        "wavs/good_16bit.wav": good,
        "wavs/good_8bit.wav": (tone(1.0), SR, "PCM_U8"),
        "wavs/stereo_44k.wav": (tone(1.0, sr=44_100, channels=2), 44_100, "PCM_16"),
        "wavs/good_flac.flac": (tone(0.8), SR, "PCM_16"),
        "wavs/truncated.wav": header_cut,
        "wavs/zero_length.wav": b"",
        "wavs/no_frames.wav": (np.zeros(0, dtype=np.float32), SR, "PCM_16"),
        "wavs/silent.wav": (np.zeros(SR, dtype=np.float32), SR, "PCM_16"),
        "wavs/a_directory.wav": "dir",
        "wavs/too_long.wav": (tone(12.0), SR, "PCM_16"),
        "wavs/from_file.wav": good,
        "texts/from_file.txt": "Текст из отдельного файла.".encode(),
        "wavs/empty_text.wav": good,
        "wavs/latin_only.wav": good,
        "wavs/odd_chars.wav": good,
        "wavs/cp1251.wav": good,
    }
    return write_corpus(tmp_path / "corpus", lines, files)


def test_report_lists_every_problem(messy_corpus):
    report = validate_corpus(messy_corpus)
    by_kind = {}
    for issue in report.issues:
        by_kind.setdefault(issue.kind, []).append(issue)
    assert {i.id for i in by_kind["unreadable_audio"]} == {"truncated", "a_directory"}
    assert [i.id for i in by_kind["empty_audio"]] == ["zero_length", "no_frames"]
    assert [i.id for i in by_kind["silent_audio"]] == ["silent"]
    assert [i.line for i in by_kind["malformed_line"]] == [11]
    assert [i.line for i in by_kind["bad_encoding"]] == [6]
    assert [i.id for i in by_kind["missing_audio"]] == ["missing_audio"]
    assert [(i.id, i.line) for i in by_kind["duplicate_id"]] == [("good_16bit", 13)]
    assert [i.id for i in by_kind["too_long"]] == ["too_long"]
    assert [i.id for i in by_kind["empty_text"]] == ["empty_text"]
    assert [i.id for i in by_kind["no_cyrillic"]] == ["latin_only"]
    assert [i.id for i in by_kind["unknown_characters"]] == ["odd_chars"]
    assert "U+2603" in by_kind["unknown_characters"][0].message
    assert [i.line for i in by_kind["unsafe_id"]] == [19]
    assert {i.id for i in by_kind["resampled"]} == {"stereo_44k"}
    assert {i.id for i in by_kind["stereo"]} == {"stereo_44k"}
    assert [i.id for i in by_kind["text_from_file"]] == ["from_file"]
    usable = sorted(item.id for item in report.items)
    assert usable == sorted(["good_16bit", "good_8bit", "stereo_44k", "good_flac", "from_file",
                             "odd_chars"])
    assert report.usable
    text = report.summary()
    assert "SKIP" in text and "truncated" in text


def test_dataset_yields_exactly_the_good_items(messy_corpus):
    config = AudioConfig()
    report = validate_corpus(messy_corpus, config)
    dataset = TTSDataset(report.items, RussianPhonemeProcessor(), config)
    ids = [dataset[i]["id"] for i in range(len(dataset))]
    assert sorted(ids) == sorted(it.id for it in report.items)
    example = dataset[ids.index("stereo_44k")]
    assert example["mel"].shape[1] == 80
    assert example["mel"].shape[0] == pytest.approx(1 + SR // 256, abs=25)  # 1 s, trimmed a bit
    assert example["ids"].shape == example["stress"].shape
    assert example["ids"][-1].item() == dataset.processor.eos_id
    from_file = dataset[ids.index("from_file")]
    assert len(from_file["ids"]) > 10  # text came from texts/from_file.txt


def test_missing_corpus_and_metadata_are_reported(tmp_path):
    report = validate_corpus(tmp_path / "nope")
    assert not report.usable and report.issues[0].kind == "no_corpus"
    (tmp_path / "empty").mkdir()
    report = validate_corpus(tmp_path / "empty")
    assert not report.usable and report.issues[0].kind == "no_metadata"


def test_any_single_metadata_csv_is_accepted(tmp_path):
    root = write_corpus(tmp_path / "c", [f"a|{TEXT}"], {"wavs/a.wav": (tone(), SR, "PCM_16")})
    (root / "metadata_RUSLAN_22200.csv").rename(root / "metadata.csv")
    report = validate_corpus(root)
    assert [it.id for it in report.items] == ["a"]


def test_third_column_and_filename_ids(tmp_path):
    root = write_corpus(tmp_path / "c", [f"a.wav|{TEXT}|мама мыла раму"],
                        {"wavs/a.wav": (tone(), SR, "PCM_16")})
    report = validate_corpus(root)
    assert [(it.id, it.text) for it in report.items] == [("a", TEXT)]


def test_resolve_corpus_dir(tmp_path, monkeypatch, caplog):
    with pytest.raises(CorpusError, match="not found"):
        resolve_corpus_dir(tmp_path / "missing")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO, logger="kokoro_nb.corpus"):
        assert resolve_corpus_dir(None) == demo_corpus_dir()
    assert sum("bundled demo corpus" in r.message for r in caplog.records) == 1
    (tmp_path / "ruslan_corpus").mkdir()
    assert resolve_corpus_dir(None).name == "ruslan_corpus"


# ----------------------------------------------------------------------------- cache

@pytest.fixture()
def small_corpus(tmp_path):
    lines = [f"item{i}|{TEXT} Номер {i}." for i in range(3)]
    files = {f"wavs/item{i}.wav": (tone(0.5 + 0.2 * i, freq=200 + 50 * i), SR, "PCM_16")
             for i in range(3)}
    return write_corpus(tmp_path / "small", lines, files)


def test_feature_cache_reuses_and_invalidates(small_corpus, tmp_path, monkeypatch):
    config = AudioConfig()
    processor = RussianPhonemeProcessor()
    items = validate_corpus(small_corpus, config, processor).items
    cache_dir = tmp_path / "cache"
    first = TTSDataset(items, processor, config, cache_dir=cache_dir)
    fresh = [first[i] for i in range(3)]
    assert first.cache.misses == 3 and first.cache.hits == 0
    second = TTSDataset(items, processor, config, cache_dir=cache_dir)
    cached = [second[i] for i in range(3)]
    assert second.cache.hits == 3 and second.cache.misses == 0
    for a, b in zip(fresh, cached, strict=True):
        assert torch.equal(a["ids"], b["ids"])
        assert torch.allclose(a["mel"], b["mel"], atol=0.01)
    # Another audio config, or other phoneme rules: new features.
    other = TTSDataset(items, processor, AudioConfig(n_mels=64), cache_dir=cache_dir)
    assert other[0]["mel"].shape[1] == 64 and other.cache.misses == 1
    academic = TTSDataset(items, RussianPhonemeProcessor(rules="academic"), config, cache_dir)
    academic[0]
    assert academic.cache.misses == 1
    # A new front-end version (its output changed): new features.
    import kokoro_nb.corpus

    monkeypatch.setattr(kokoro_nb.corpus, "G2P_VERSION", kokoro_nb.corpus.G2P_VERSION + 1)
    newer = TTSDataset(items, processor, config, cache_dir=cache_dir)
    newer[0]
    assert newer.cache.misses == 1
    # A changed audio file: new features.
    sf.write(str(items[0].audio_path), tone(0.5, freq=900), SR, subtype="PCM_16")
    changed = TTSDataset(items, processor, config, cache_dir=cache_dir)
    changed[0]
    assert changed.cache.misses == 1


def test_corrupt_cache_entry_is_recomputed(small_corpus, tmp_path):
    config = AudioConfig()
    processor = RussianPhonemeProcessor()
    items = validate_corpus(small_corpus, config, processor).items
    cache_dir = tmp_path / "cache"
    reference = TTSDataset(items, processor, config, cache_dir=cache_dir)[0]
    entries = list(cache_dir.rglob("*.feat"))
    assert len(entries) == 1
    good_bytes = entries[0].read_bytes()
    flipped = bytearray(good_bytes)
    flipped[len(flipped) // 2] ^= 0x40
    for damaged in (good_bytes[:100], bytes(flipped), b"", b"not a feature file at all"):
        entries[0].write_bytes(damaged)
        again = TTSDataset(items, processor, config, cache_dir=cache_dir)
        example = again[0]
        assert again.cache.recomputed == 1 and again.cache.hits == 0
        assert torch.allclose(example["mel"], reference["mel"], atol=0.01)
        assert entries[0].read_bytes() == good_bytes  # rewritten
    assert not list(cache_dir.rglob("*.tmp"))


# ----------------------------------------------------------------------------- report cache

def report_state(report):
    """Everything a report says, comparable with ==."""
    return (report.items, report.issues, report.frames, list(report.frames), report.lines,
            report.statistics(), report.to_dict())


@pytest.fixture()
def count_decodes(monkeypatch):
    """The clips validation decodes, by file name, as a list that grows."""
    import kokoro_nb.corpus

    decoded = []

    def load_audio(path, config, *args, **kwargs):
        decoded.append(path.name)
        return real_load_audio(path, config, *args, **kwargs)

    real_load_audio = kokoro_nb.corpus.load_audio
    monkeypatch.setattr(kokoro_nb.corpus, "load_audio", load_audio)
    return decoded


@pytest.mark.parametrize("read_audio_data", [True, False])
def test_report_cache_gives_the_same_report(messy_corpus, tmp_path, read_audio_data):
    uncached = validate_corpus(messy_corpus, read_audio_data=read_audio_data)
    cache_dir = tmp_path / "cache"
    cold = validate_corpus(messy_corpus, read_audio_data=read_audio_data, cache_dir=cache_dir)
    warm = validate_corpus(messy_corpus, read_audio_data=read_audio_data, cache_dir=cache_dir)
    assert report_state(cold) == report_state(uncached) == report_state(warm)
    (stored,) = (cache_dir / "reports").glob("*.json")
    assert stored.read_bytes().startswith(b"{")  # plain JSON, no pickle


def test_report_cache_rechecks_only_what_changed(small_corpus, tmp_path, count_decodes):
    import os

    cache_dir = tmp_path / "cache"
    first = validate_corpus(small_corpus, cache_dir=cache_dir)
    assert sorted(count_decodes) == ["item0.wav", "item1.wav", "item2.wav"]
    count_decodes.clear()
    assert report_state(validate_corpus(small_corpus, cache_dir=cache_dir)) == report_state(first)
    assert count_decodes == []
    # New bytes in one clip: only that clip is decoded again, and its new length reported.
    sf.write(str(small_corpus / "wavs" / "item1.wav"), tone(1.5), SR, subtype="PCM_16")
    changed = validate_corpus(small_corpus, cache_dir=cache_dir)
    assert count_decodes == ["item1.wav"]
    assert report_state(changed) == report_state(validate_corpus(small_corpus))
    assert changed.items[1].duration_s > first.items[1].duration_s
    # Only its modification time: checked again too.
    count_decodes.clear()
    clip = small_corpus / "wavs" / "item2.wav"
    os.utime(clip, ns=(clip.stat().st_atime_ns, clip.stat().st_mtime_ns + 10**9))
    validate_corpus(small_corpus, cache_dir=cache_dir)
    assert count_decodes == ["item2.wav"]
    # Another text on one metadata line: that item is checked again, with its new text.
    count_decodes.clear()
    metadata = small_corpus / "metadata_RUSLAN_22200.csv"
    metadata.write_text(metadata.read_text(encoding="utf-8").replace("Номер 0.", "Ноль."),
                        encoding="utf-8")
    retexted = validate_corpus(small_corpus, cache_dir=cache_dir)
    assert count_decodes == ["item0.wav"]
    assert retexted.items[0].text == f"{TEXT} Ноль."
    assert report_state(retexted) == report_state(validate_corpus(small_corpus))


def test_report_cache_is_keyed_by_the_audio_settings(small_corpus, tmp_path, count_decodes):
    cache_dir = tmp_path / "cache"
    validate_corpus(small_corpus, cache_dir=cache_dir)
    count_decodes.clear()
    strict = validate_corpus(small_corpus, AudioConfig(max_frames=20), cache_dir=cache_dir)
    assert len(count_decodes) == 3  # another max_frames: every clip checked again
    assert [i.kind for i in strict.issues] == ["too_long"] * 3
    count_decodes.clear()
    validate_corpus(small_corpus, cache_dir=cache_dir)  # the first settings' entries remain
    assert count_decodes == []


def test_corrupt_or_foreign_report_cache_is_ignored(small_corpus, tmp_path, count_decodes):
    import json

    cache_dir = tmp_path / "cache"
    reference = report_state(validate_corpus(small_corpus, cache_dir=cache_dir))
    (stored,) = (cache_dir / "reports").glob("*.json")
    good = json.loads(stored.read_bytes())
    entry = good["items"]["item0"]
    tampered = [
        b"", b"{not json", b"[1, 2, 3]", json.dumps({"format": "something else"}).encode(),
        json.dumps(good | {"items": {"item0": ["another key"] + entry[1:]}}).encode(),
        json.dumps(good | {"items": {"item0": entry[:2] + ["many"]}}).encode(),
        json.dumps(good | {"items": {"item0": [entry[0], [["no_such_kind", "x"]], None]}}).encode(),
        json.dumps(good | {"items": {"item0": [entry[0], [], None]}}).encode(),  # no reason
    ]
    for damaged in tampered:
        stored.write_bytes(damaged)
        count_decodes.clear()
        assert report_state(validate_corpus(small_corpus, cache_dir=cache_dir)) == reference
        assert "item0.wav" in count_decodes
        assert json.loads(stored.read_bytes()) == good  # rewritten


def test_preprocess_computes_each_feature_once(small_corpus, tmp_path, count_decodes):
    from kokoro_nb.corpus import preprocess_corpus

    cache_dir = tmp_path / "cache"
    first = preprocess_corpus(small_corpus, cache_dir=cache_dir, workers=1)
    assert (first["usable_items"], first["features_computed"], first["features_cached"]) == (3, 3, 0)
    assert sorted(count_decodes) == ["item0.wav", "item1.wav", "item2.wav"]  # once per clip
    count_decodes.clear()
    again = preprocess_corpus(small_corpus, cache_dir=cache_dir, workers=1)
    assert (again["items_checked"], again["features_computed"], again["features_cached"]) == (0, 0, 3)
    assert count_decodes == []
    config, processor = AudioConfig(), RussianPhonemeProcessor()
    report = validate_corpus(small_corpus, config, processor, cache_dir=cache_dir)
    dataset = TTSDataset(report.items, processor, config, cache_dir=cache_dir)
    fresh = TTSDataset(report.items, processor, config)
    for i in range(3):
        assert torch.equal(dataset[i]["mel"], fresh[i]["mel"].half().float())
    assert dataset.cache.hits == 3 and dataset.cache.misses == 0


def test_scale_corpus_script_links_clips_and_breaks_four(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_scale_corpus.py"
    out = tmp_path / "scale"
    subprocess.run([sys.executable, str(script), str(out), "--items", "300"], check=True,
                   capture_output=True, text=True, timeout=300)
    report = validate_corpus(out, read_audio_data=False)
    assert report.lines == 300 and len(report.items) == 296
    assert sorted(report.issue_counts()) == ["empty_audio", "malformed_line", "missing_audio",
                                             "too_long"]
    assert len({item.id for item in report.items}) == 296
    clip = report.items[0].audio_path
    assert clip.stat().st_nlink > 1  # a hard link to a demo clip, not a copy
    demo = {item.text for item in validate_corpus(demo_corpus_dir(), read_audio_data=False).items}
    assert {item.text for item in report.items} <= demo


# ----------------------------------------------------------------------------- batches

def test_collate_pads_and_masks():
    examples = [
        {"id": "a", "ids": torch.tensor([5, 6, 2]), "stress": torch.tensor([0, 1, 0]),
         "mel": torch.randn(7, 80)},
        {"id": "b", "ids": torch.tensor([5, 2]), "stress": torch.tensor([1, 0]),
         "mel": torch.randn(4, 80)},
    ]
    batch = collate_batch(examples, frames_multiple=3)
    assert batch["ids"].tolist() == [[5, 6, 2], [5, 2, 0]]
    assert batch["text_mask"].tolist() == [[True, True, True], [True, True, False]]
    assert batch["mels"].shape == (2, 9, 80)  # 7 rounded up to a multiple of 3
    assert batch["mel_lengths"].tolist() == [7, 4]
    assert batch["mel_mask"][1].tolist() == [True] * 4 + [False] * 5
    assert batch["stop_targets"][1].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert torch.equal(batch["mels"][0, :7], examples[0]["mel"])
    assert torch.all(batch["mels"][1, 4:] == math.log(1e-5))
    assert batch["item_ids"] == ["a", "b"]


def test_bucket_sampler_covers_everything_once_and_reduces_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 800, size=203).tolist()
    sampler = LengthBucketSampler(lengths, batch_size=8, seed=1, bucket_batches=8)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(203))
    sampler.set_epoch(0)
    assert list(sampler) == batches  # deterministic per (seed, epoch)
    sampler.set_epoch(1)
    assert list(sampler) != batches

    def padding(bs):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bs)

    random_batches = [list(range(i, min(i + 8, 203))) for i in range(0, 203, 8)]
    assert padding(batches) < 0.5 * padding(random_batches)


def test_split_is_deterministic_disjoint_and_stable():
    from kokoro_nb.corpus import CorpusItem

    items = [CorpusItem(f"id{i:03d}", "текст", None, i) for i in range(400)]
    train, val = split_items(items, val_fraction=0.1)
    assert 20 <= len(val) <= 60 and len(train) + len(val) == 400
    assert not {i.id for i in train} & {i.id for i in val}
    _, val_reversed = split_items(list(reversed(items)), val_fraction=0.1)
    assert {i.id for i in val_reversed} == {i.id for i in val}
    # Adding items never moves an existing item between the splits.
    more = items + [CorpusItem(f"new{i}", "текст", None, i) for i in range(100)]
    _, val_more = split_items(more, val_fraction=0.1)
    assert {i.id for i in val_more if i.id.startswith("id")} == {i.id for i in val}
    # A tiny corpus still gets a validation set, and keeps a training item.
    tiny_train, tiny_val = split_items(items[:3], val_fraction=0.05, min_val=4)
    assert len(tiny_val) == 1 and len(tiny_train) == 2
    small_train, small_val = split_items(items[:40], val_fraction=0.05, min_val=4)
    assert len(small_val) == 4 and len(small_train) == 36


def test_validate_corpus_limit_checks_only_the_first_lines():
    from kokoro_nb.corpus import demo_corpus_dir

    full = validate_corpus(demo_corpus_dir(), read_audio_data=False)
    sample = validate_corpus(demo_corpus_dir(), read_audio_data=False, limit=5)
    assert [item.id for item in sample.items] == [item.id for item in full.items[:5]]


def test_report_groups_notes_flags_cut_off_wavs_and_rate_outliers(tmp_path):
    """Twelve clips resampled alike make one grouped line; a WAV cut off after its header
    was written (a broken download) is skipped with the frame counts; a clip whose text is
    far too long for its audio is flagged with its id."""
    lines = [f"clip{i:02d}|Мама мыла раму, а папа читал газету." for i in range(12)]
    lines.append("mismatch|" + "Очень длинный текст, который никак не помещается в одну "
                               "короткую секунду звука, совсем никак." * 2)
    lines.append("cut|Мама мыла раму, а папа читал газету.")
    files = {f"wavs/clip{i:02d}.wav": (tone(2.5, sr=16_000), 16_000, "PCM_16") for i in range(12)}
    files["wavs/mismatch.wav"] = (tone(2.5, sr=16_000), 16_000, "PCM_16")
    full = tmp_path / "full.wav"
    sf.write(str(full), tone(2.5), SR, subtype="PCM_16")
    files["wavs/cut.wav"] = full.read_bytes()[: 44 + 2 * SR]  # header and the first second
    report = validate_corpus(write_corpus(tmp_path / "corpus", lines, files))
    kinds = {issue.id: issue.kind for issue in report.issues if issue.kind != "resampled"}
    assert kinds == {"cut": "truncated_audio", "mismatch": "speaking_rate"}
    assert "cut" not in {item.id for item in report.items}
    assert "mismatch" in {item.id for item in report.items}  # a note: you decide
    cut = next(issue for issue in report.issues if issue.id == "cut")
    assert "22050 frames" in cut.message and "55125" in cut.message
    summary = report.summary()
    assert "[resampled] 13 clips: 16000 Hz, resampled to 22050 Hz (clip00, clip01" in summary
    assert summary.count("resampled to") == 1
