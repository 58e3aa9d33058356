"""Runs that survive being stopped: the state after every finished epoch, and what identifies a run.

After each epoch the trainer writes `train/resume.pt` (atomically: a stop while writing leaves the
previous epoch's file): weights, optimizer state, the augmentation generator's state, the step
counter, the history so far and the run's fingerprint. Started again with the same configuration,
the run continues after the last finished epoch and ends with the weights an uninterrupted run
would have had (bit-identical on the CPU: every random draw is seeded by (seed, epoch) or by the
step, and the one stateful generator is saved with the weights).

The fingerprint is what makes two runs the same run: the resolved configuration, minus what only
changes how it is shown or where files go, plus a digest of the data trained and scored on.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robustcifar.checkpoint import save_atomically
from robustcifar.config import config_to_dict
from robustcifar.datasets import CifarArrays
from robustcifar.errors import UsageError

from .config import TrainConfig

RESUME_VERSION = 1
# Fields that do not change what a run computes (progress bars, where files go, which other models or
# seeds the same command also trains, the profile's label once its values are resolved).
NOT_IDENTITY = ("models", "seeds", "budgets", "profile", "data", "data_dir", "artifacts", "progress", "resume",
                "num_threads")


def data_digest(data: CifarArrays) -> str:
    digest = hashlib.sha256()
    for array in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def run_fingerprint(config: TrainConfig, data: CifarArrays, digest: str | None = None) -> dict[str, Any]:
    """What identifies a run: compared field by field, so a mismatch can say what differs."""
    identity = {k: v for k, v in config_to_dict(config).items() if k not in NOT_IDENTITY}
    identity["data_source_kind"] = data.source_kind
    identity["data_sha256"] = digest or data_digest(data)
    return identity


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomic: the previous epoch's file stays until this one is complete (a full disk leaves it)."""
    save_atomically(path, {"version": RESUME_VERSION, **state})


def load_state(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state of a stopped run with this fingerprint; None when there is none. A state left by
    a run with another configuration is refused (UsageError), never silently continued or discarded."""
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("version") != RESUME_VERSION:
        raise UsageError(f"{path} was written by another version of the trainer; delete it or use --no-resume")
    changed = differences(state["fingerprint"], fingerprint)
    if changed:
        raise UsageError(f"{path} holds a stopped run with another configuration (differs in: {', '.join(changed)}); "
                         "run the same command as before to finish it, or --no-resume to train from scratch")
    return state
