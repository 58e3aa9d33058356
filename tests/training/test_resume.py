"""Training runs named per seed and budget, and runs that survive being stopped: a real signal to the
real process part way, then the same command again, must end with the weights of an uninterrupted
run (bit-identical on the CPU), and a finished run is not trained twice."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from robustcifar.config import parse_config
from robustcifar.datasets import CifarArrays
from robustcifar.errors import UsageError
from training.__main__ import main, planned_runs
from training.config import PRESETS, TrainConfig
from training.datasets import prepare_sets

ROOT = Path(__file__).resolve().parents[2]


def test_runs_are_named_per_seed_and_budget():
    config = TrainConfig(models="ce_clean,angular", seeds="0,2", budgets="5,20", epochs=5)
    runs = [(str(run), c.seed, c.epochs) for run, c in planned_runs(config)]
    assert runs == [("ce_clean", 0, 5), ("ce_clean-ep20", 0, 20), ("ce_clean-seed2", 2, 5),
                    ("ce_clean-seed2-ep20", 2, 20), ("angular", 0, 5), ("angular-ep20", 0, 20),
                    ("angular-seed2", 2, 5), ("angular-seed2-ep20", 2, 20)]
    single = [(str(run), c.seed) for run, c in planned_runs(TrainConfig(models="ce_clean", seed=3))]
    assert single == [("ce_clean-seed3", 3)]


def test_runs_named_in_full_are_trained_alone():
    config = TrainConfig(models="angular-seed1,angular_corrupted,ce_clean-ep5,ce_clean-seed2-ep20,angular-seed1",
                         epochs=5)
    runs = [(str(run), c.seed, c.epochs) for run, c in planned_runs(config)]
    # ce_clean-ep5 is the profile's budget: one spelling per run, the plain one
    assert runs == [("ce_clean", 0, 5), ("ce_clean-seed2-ep20", 2, 20), ("angular-seed1", 1, 5),
                    ("angular_corrupted", 0, 5)]


@pytest.mark.parametrize("bad", [{"seeds": "1,x"}, {"budgets": "0"}, {"seeds": "-1"}, {"models": "resnet"},
                                 {"models": "ce_clean_int8"}])
def test_bad_seeds_budgets_and_models_are_usage_errors(bad):
    with pytest.raises(UsageError):
        planned_runs(TrainConfig(**bad))


def tiny_args(data: Path, out: Path, epochs: int = 4) -> list[str]:
    return ["--models", "ce_clean", "--profile", "quick", "--data", str(data), "--data-dir", str(out / "data"),
            "--artifacts", str(out / "artifacts"), "--epochs", str(epochs), "--batch-size", "30",
            "--train-fraction", "1.0", "--eval-max-images", "30", "--final-eval-images", "50", "--umap-points", "0",
            "--num-threads", "1", "--no-progress"]


def train_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "artifacts" / "ce_clean" / "model.pt", weights_only=True)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), f"{key} differs"


@pytest.fixture(scope="module")
def uninterrupted(tiny_image_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    result = train_cli(tiny_args(tiny_image_folder, out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


def stop_after_first_epoch(args: list[str], out: Path, signum: int) -> subprocess.CompletedProcess:
    """Start the run, wait until its first epoch is on disk, send `signum` to the process."""
    # SIGINT as a terminal's Ctrl-C delivers it: a shell's background job (CI started with `&`) inherits
    # SIGINT ignored, and Python then never turns it into KeyboardInterrupt
    process = subprocess.Popen([sys.executable, "-m", "training", *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509 (no threads yet)
    curve = out / "artifacts" / "ce_clean" / "train" / "metrics.csv"
    deadline = time.monotonic() + 300
    while not (curve.is_file() and len(curve.read_text().splitlines()) >= 2):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first epoch never finished"
        time.sleep(0.05)
    os.kill(process.pid, signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 143),
                                              (signal.SIGINT, 130)])
def test_a_stopped_run_resumes_to_the_uninterrupted_weights(signum, code, uninterrupted, tiny_image_folder, tmp_path):
    args = tiny_args(tiny_image_folder, tmp_path)
    stopped = stop_after_first_epoch(args, tmp_path, signum)
    assert stopped.returncode == code, stopped.stderr[-2000:]
    if signum != signal.SIGKILL:
        assert "the same command resumes it" in stopped.stderr and "Traceback" not in stopped.stderr
    train_dir = tmp_path / "artifacts" / "ce_clean" / "train"
    assert (train_dir / "resume.pt").is_file() and not (train_dir / "metrics.json").exists()
    resumed = train_cli(args)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert "resuming after epoch" in resumed.stdout
    assert_same_weights(weights(uninterrupted), weights(tmp_path))
    metrics = json.loads((train_dir / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4] and metrics["resumed_after_epochs"]
    assert not (train_dir / "resume.pt").exists()
    # run once more: finished with this configuration, so not trained again
    again = train_cli(args)
    assert again.returncode == 0 and "already trained with this configuration" in again.stdout
    assert_same_weights(weights(uninterrupted), weights(tmp_path))


@pytest.mark.slow
def test_another_configuration_never_continues_a_stopped_run(tiny_image_folder, tmp_path):
    args = tiny_args(tiny_image_folder, tmp_path)
    stop_after_first_epoch(args, tmp_path, signal.SIGKILL)
    other = train_cli([*args, "--lr", "0.01"])
    assert other.returncode == 2 and "another configuration (differs in: lr)" in other.stderr
    assert "Traceback" not in other.stderr
    fresh = train_cli([*args, "--lr", "0.01", "--no-resume"])
    assert fresh.returncode == 0 and "resuming" not in fresh.stdout


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_a_message_and_it_resumes(uninterrupted, tiny_image_folder, tmp_path,
                                                                  monkeypatch, capsys):
    from training import resume

    real_save, calls = resume.save_atomically, []

    def full_disk_at_epoch_2(path, payload):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(path, payload)

    monkeypatch.setattr(resume, "save_atomically", full_disk_at_epoch_2)
    args = tiny_args(tiny_image_folder, tmp_path)
    assert main(args) == 1
    assert "the disk is full" in capsys.readouterr().err
    train_dir = tmp_path / "artifacts" / "ce_clean" / "train"
    saved = torch.load(train_dir / "resume.pt", weights_only=True)
    assert saved["epoch"] == 1 and not list(train_dir.glob("*.tmp"))
    monkeypatch.setattr(resume, "save_atomically", real_save)
    assert main(args) == 0
    assert_same_weights(weights(uninterrupted), weights(tmp_path))


def test_the_data_selection_does_not_depend_on_the_training_seed():
    """Every training seed trains on, and is scored on, the same images (split_seed owns the selection)."""
    rng = np.random.default_rng(0)
    data = CifarArrays(rng.integers(0, 256, (2000, 32, 32, 3), dtype=np.uint8), np.repeat(np.arange(10), 200),
                       rng.integers(0, 256, (500, 32, 32, 3), dtype=np.uint8), np.repeat(np.arange(10), 50),
                       "synthetic", "image_folder")
    config = parse_config(TrainConfig, ["--profile", "study", "--final-eval-images", "100"], presets=PRESETS)
    seed0 = prepare_sets(dataclasses.replace(config, seed=0), data, torch.device("cpu"))
    seed1 = prepare_sets(dataclasses.replace(config, seed=1), data, torch.device("cpu"))
    other_split = prepare_sets(dataclasses.replace(config, split_seed=1), data, torch.device("cpu"))
    for part in ("train", "val", "corrupted_val", "test", "corrupted_test", "gallery"):
        a, b = getattr(seed0, part), getattr(seed1, part)
        assert np.array_equal(a.source_index, b.source_index) and torch.equal(a.images, b.images), part
    assert np.array_equal(seed0.corrupted_test.corruption, seed1.corrupted_test.corruption)
    assert not np.array_equal(seed0.train.source_index, other_split.train.source_index)
