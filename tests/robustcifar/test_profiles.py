from dataclasses import dataclass

import pytest
import torch

from robustcifar.profiles import parse_profiled_config, resolve_profile


@dataclass
class Sized:
    epochs: int = 3
    profile: str = "auto"


PRESETS = {"quick": {"epochs": 1}, "full": {"epochs": 40}}


def test_explicit_profile_is_used_and_said():
    config, why = parse_profiled_config(Sized, ["--profile", "full"], "", PRESETS)
    assert (config.profile, config.epochs) == ("full", 40)
    assert "explicitly" in why


def test_auto_follows_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config, why = parse_profiled_config(Sized, [], "", PRESETS)
    assert (config.profile, config.epochs) == ("quick", 1) and "no CUDA" in why
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_profile("auto")[0] == "full"


def test_options_override_the_profile():
    config, _ = parse_profiled_config(Sized, ["--profile", "quick", "--epochs", "7"], "", PRESETS)
    assert config.epochs == 7


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_profile("medium")
