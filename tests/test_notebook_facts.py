"""Numbers the notebooks' prose quotes from the configs must be the code's numbers.

Two checks over the markdown cells of every notebook:

- every ```Config.field` = N`` or ```field` = N`` naming a setting of `AudioConfig`,
  `TrainConfig`, `VocoderTrainConfig` or `ModelConfig` (a field the presets do not change)
  must give that setting's default;
- the phrases in `CLAIMS` (warm-up length, loss weights, thresholds, schedule) must give
  the value their function returns, and each must still be found somewhere, so rewording
  a sentence does not silently drop its check.
"""

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from kokoro_nb.config import (
    MODEL_PRESETS,
    PRESET_TRAINING,
    AudioConfig,
    ModelConfig,
    TrainConfig,
    VocoderTrainConfig,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
NUMBER = r"(\d+(?:[  ,]\d{3})*(?:\.\d+)?)"  # 20 000, 20,000, 0.5


def prose(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def as_number(text: str) -> float:
    return float(re.sub(r"[  ,]", "", text))


def config_defaults() -> dict[str, float]:
    """Numeric defaults of the settings, by field name; fields whose value depends on the
    model or training preset are left out."""
    values: dict[str, float] = {}
    by_preset = {name for table in MODEL_PRESETS.values() for name in table}
    by_preset |= {name for table in PRESET_TRAINING.values() for name in table}
    for cls in (AudioConfig, TrainConfig, VocoderTrainConfig, ModelConfig):
        for spec in fields(cls):
            default = spec.default
            if spec.name in by_preset or isinstance(default, bool):
                continue
            if isinstance(default, (int, float)):
                values.setdefault(spec.name, float(default))
    return values


# (regular expression with one number group, where the number comes from)
CLAIMS = [
    (r"warm-up over the first " + NUMBER + " steps", lambda: TrainConfig().warmup_steps),
    (r"rises linearly over the first " + NUMBER + " steps", lambda: TrainConfig().warmup_steps),
    (r"half-life " + NUMBER + " steps", lambda: TrainConfig().lr_half_life_steps),
    (r"`guided` \(before its weight of " + NUMBER, lambda: TrainConfig().guided_attention_weight),
    (r"guided attention loss with\s+its weight of " + NUMBER,
     lambda: TrainConfig().guided_attention_weight),
    (r"mel \+ postnet \+ stop \+ " + NUMBER + r" × guided",
     lambda: TrainConfig().guided_attention_weight),
    (r"positive weight of " + NUMBER, lambda: TrainConfig().stop_pos_weight),
    (r"weighs the stop frames `stop_pos_weight` = " + NUMBER, lambda: TrainConfig().stop_pos_weight),
    (r"stop frames weigh " + NUMBER + " times", lambda: TrainConfig().stop_pos_weight),
    (r"before its weight:\s+" + NUMBER + r" for the demo preset",
     lambda: PRESET_TRAINING["demo"]["attention_entropy_weight"]),
    (r"for the demo preset from step " + NUMBER, lambda: TrainConfig().attention_entropy_start),
    (r"`stop_threshold` \(" + NUMBER + r"\)", lambda: ModelConfig.stop_threshold),
    (r"clip the gradient norm at " + NUMBER, lambda: TrainConfig().grad_clip),
    (r"the newest three", lambda: 3 if TrainConfig().keep_last == 3 else None),
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_quoted_settings_match_their_defaults(path):
    defaults = config_defaults()
    text = prose(path)
    for match in re.finditer(r"`(?:\w+Config\.)?(\w+)`\s*=\s*" + NUMBER, text):
        name, value = match.group(1), as_number(match.group(2))
        if name in defaults:
            assert value == defaults[name], f"{path.name}: {match.group(0)!r}, code has {defaults[name]:g}"


def test_claims_match_the_code_and_are_all_still_made():
    text = {path.name: prose(path) for path in NOTEBOOKS}
    for pattern, source in CLAIMS:
        found = [(name, m) for name, body in text.items() for m in re.finditer(pattern, body)]
        assert found, f"no notebook says {pattern!r} any more: update CLAIMS"
        expected = source()
        assert expected is not None, pattern
        for name, match in found:
            if match.groups():
                assert as_number(match.group(1)) == float(expected), (
                    f"{name}: {match.group(0)!r}, code has {expected}")


def test_the_check_catches_a_wrong_number():
    wrong = "a linear warm-up over the first 200 steps"
    match = re.search(CLAIMS[0][0], wrong)
    assert match and as_number(match.group(1)) != TrainConfig().warmup_steps
