"""The bundled demo corpus is a clean RUSLAN-layout corpus that fits the size budget."""

from kokoro_nb.config import AudioConfig
from kokoro_nb.corpus import METADATA_NAME, demo_corpus_dir, validate_corpus


def test_demo_corpus_is_clean_and_small():
    root = demo_corpus_dir()
    assert (root / METADATA_NAME).is_file() and (root / "README.md").is_file()
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 12 * 1024 * 1024
    report = validate_corpus(root, AudioConfig())
    assert report.usable
    assert report.issues == []
    assert len(report.items) >= 200
    stats = report.statistics()
    assert 5 < stats["total_hours"] * 60 < 15  # minutes of audio
    assert all(p.suffix == ".flac" for p in (root / "wavs").iterdir())
