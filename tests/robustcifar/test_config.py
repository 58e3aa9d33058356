from dataclasses import dataclass
from pathlib import Path

import pytest

from robustcifar.config import config_to_dict, parse_config


@dataclass
class Example:
    name: str = "x"
    epochs: int = 3
    lr: float = 0.1
    fast: bool = False
    sizes: tuple[int, ...] = (1, 2)
    out: Path | None = None
    profile: str = "auto"


PRESETS = {"quick": {"epochs": 1}, "full": {"epochs": 9, "lr": 0.5}}


def test_defaults_preset_then_options():
    config = parse_config(Example, ["--epochs", "5", "--fast", "--sizes", "3", "4"], presets=PRESETS,
                          resolve_preset=lambda p: "full" if p == "auto" else p)
    assert (config.epochs, config.lr, config.fast, config.sizes, config.profile) == (5, 0.5, True, (3, 4), "full")


def test_preset_by_name_and_optional_path():
    config = parse_config(Example, ["--profile", "quick", "--out", "/tmp/x"], presets=PRESETS)
    assert config.epochs == 1 and config.out == Path("/tmp/x")
    assert config_to_dict(config)["out"] == "/tmp/x"


def test_bad_values_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        parse_config(Example, ["--epochs", "many"])
    assert info.value.code == 2 and "invalid int value" in capsys.readouterr().err
