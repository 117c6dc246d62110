"""One source of defaults: the config dataclasses, their checks, and the CLI made from them."""

import dataclasses
import re
from pathlib import Path

import pytest

from kokoro_nb.cli import build_parser
from kokoro_nb.config import (
    MODEL_PRESETS,
    PRESET_TRAINING,
    ModelConfig,
    TrainConfig,
    model_config,
    model_config_from_dict,
)
from kokoro_nb.model import KokoroTTS
from kokoro_nb.text import RussianPhonemeProcessor

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("changes, named", [
    ({"attention_heads": 3}, "attention_heads 3 must divide encoder_hidden 512"),
    ({"encoder_hidden": 255}, "encoder_hidden must be even"),
    ({"location_kernel": 30}, "location_kernel must be odd"),
    ({"postnet_kernel": 4}, "postnet_kernel must be odd"),
    ({"reduction": 0}, "reduction must be >= 1"),
    ({"attention_dim": 0}, "attention_dim must be >= 1"),
    ({"prenet_dims": ()}, "prenet_dims must be one or more positive sizes"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"stop_threshold": 1.5}, r"stop_threshold must be in \(0, 1\)"),
    ({"attention": "sideways"}, "attention must be 'location' or 'content'"),
    ({"vocab_size": 2}, "vocab_size must cover padding"),
])
def test_model_config_names_each_broken_invariant(changes, named):
    with pytest.raises(ValueError, match=named):
        model_config("default", **({"vocab_size": 67} | changes))


def test_all_problems_are_named_at_once():
    with pytest.raises(ValueError) as error:
        ModelConfig(vocab_size=67, attention_heads=3, postnet_kernel=4)
    assert "attention_heads" in str(error.value) and "postnet_kernel" in str(error.value)


def test_every_valid_head_count_builds_and_runs_a_model():
    # The invariant is exactly what the network needs: heads that divide the size work.
    import torch

    config = model_config("demo", vocab_size=20, attention_heads=4, encoder_hidden=64)
    model = KokoroTTS(config).eval()
    out = model.infer(torch.tensor([[5, 6, 7, 2]]), torch.zeros(1, 4, dtype=torch.long),
                      max_steps=3, min_steps=3)
    assert out["attention"].shape == (1, 3, 4)


def test_the_vocabulary_size_comes_from_the_processor():
    assert "vocab_size" not in MODEL_PRESETS["default"] | MODEL_PRESETS["demo"]
    with pytest.raises(TypeError):
        ModelConfig()  # no default: a model's embedding fits one front end
    processor = RussianPhonemeProcessor()
    config = model_config("demo", processor.get_vocab_size())
    assert config.vocab_size == len(processor.get_phoneme_list())
    assert model_config_from_dict(dataclasses.asdict(config)) == config


def test_train_config_checks_its_numbers():
    for changes, named in [({"batch_size": 0}, "batch_size"), ({"epochs": 0}, "epochs"),
                           ({"preset": "huge"}, "unknown preset"),
                           ({"val_fraction": 1.0}, "val_fraction")]:
        with pytest.raises(ValueError, match=named):
            TrainConfig(**changes)


def test_preset_dependent_settings_resolve_from_one_table():
    for preset, table in PRESET_TRAINING.items():
        config = TrainConfig(preset=preset)
        assert config.resolved_learning_rate() == table["learning_rate"]
        assert config.resolved_entropy_weight() == table["attention_entropy_weight"]
    assert TrainConfig(preset="demo", learning_rate=3e-4).resolved_learning_rate() == 3e-4
    assert set(PRESET_TRAINING) == set(MODEL_PRESETS)


def _train_actions():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_every_train_config_field_is_a_flag_with_its_help_and_default():
    actions = _train_actions()
    for spec in dataclasses.fields(TrainConfig):
        if spec.name == "model_changes":  # a dict: set from Python, not the command line
            assert spec.name not in actions
            continue
        action = actions[spec.name]
        assert action.option_strings[0] == "--" + spec.name.replace("_", "-")
        assert spec.metadata["help"] in action.help
        default = spec.default
        if isinstance(default, bool):
            assert f"default: {'on' if default else 'off'}" in action.help
        elif default is not None and not isinstance(default, tuple):
            assert f"default: {default}" in action.help, spec.name


def test_flags_not_given_keep_the_config_defaults_and_given_ones_win():
    parser = build_parser()
    args = parser.parse_args(["train", "-b", "3", "-lr", "5e-4", "--no-progress",
                              "--adam-betas", "0.8", "0.99", "--preset", "demo"])
    from kokoro_nb.cli import config_from_args

    config = config_from_args(TrainConfig, args)
    expected = dataclasses.replace(TrainConfig(), batch_size=3, learning_rate=5e-4,
                                   progress=False, adam_betas=(0.8, 0.99), preset="demo")
    assert config == expected
    assert config_from_args(TrainConfig, parser.parse_args(["train"])) == TrainConfig()


def test_readme_flag_table_matches_the_parser_and_the_defaults():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| flag | short | default | meaning |"):]
    table = table[: table.index("\n\n")]
    actions = {option: action for action in _train_actions().values()
               for option in action.option_strings}
    # A preset-dependent default is shown as the default preset's.
    defaults = {f"--{f.name.replace('_', '-')}": PRESET_TRAINING["default"].get(f.name, f.default)
                for f in dataclasses.fields(TrainConfig)}
    rows = [line.split("|")[1:4] for line in table.splitlines()[2:]]
    assert len(rows) >= 10
    for flags, short, default in rows:
        for flag in re.findall(r"`(--[a-z-]+)`", flags):
            assert flag in actions, flag
            if re.fullmatch(r"\s*[\d.e-]+\s*", default):
                assert float(default) == float(defaults[flag]), flag
        if short.strip():
            assert short.strip().strip("`") in actions
