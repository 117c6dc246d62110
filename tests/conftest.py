"""Shared fixtures: a small RUSLAN-layout corpus of tones, written once per test session."""

import numpy as np
import pytest
import soundfile as sf

TONE_SENTENCES = [
    "Мама мыла раму.", "Папа читал газету.", "Кот спит на окне.", "Идёт тихий дождь.",
    "Мы пьём чай.", "Дети играют во дворе.", "Солнце светит ярко.", "Собака лает громко.",
    "Вода очень холодная.", "Завтра будет праздник.", "Ветер шумит в лесу.", "Поезд пришёл рано.",
]


def write_tone_corpus(root, sentences=TONE_SENTENCES, rate=22_050):
    """A corpus whose clips are tones, one 0.25 s pitch per word (enough to train on)."""
    (root / "wavs").mkdir(parents=True)
    lines = []
    for i, text in enumerate(sentences):
        t = np.arange(int(0.25 * rate)) / rate
        pieces = [0.4 * np.sin(2 * np.pi * (180 + 40 * ((i + j) % 5)) * t)
                  for j, _ in enumerate(text.split())]
        sf.write(str(root / "wavs" / f"item{i:02d}.wav"), np.concatenate(pieces), rate)
        lines.append(f"item{i:02d}|{text}")
    (root / "metadata_RUSLAN_22200.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tone_corpus(tmp_path_factory):
    return write_tone_corpus(tmp_path_factory.mktemp("tone_corpus"))
