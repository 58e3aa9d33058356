"""torchrun with 2 CPU processes (gloo) trains like one process, up to BatchNorm noise: for
cross-entropy (a mean over images) and for the angular loss (over pairs, which span processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from robustcifar.model import RobustCifarNet

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def train(tiny_image_folder: Path, out: Path, processes: int, model: str) -> dict:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [*launcher, "-m", "training"] if processes > 1 else [sys.executable, "-m", "training"]
    args = ["--models", model, "--profile", "quick", "--data", str(tiny_image_folder),
            "--data-dir", str(out / "data"), "--artifacts", str(out / "artifacts"), "--epochs", "2",
            "--batch-size", "150", "--train-fraction", "1.0", "--lr", "0.01", "--eval-max-images", "100", "--umap-points", "0", "--num-threads", "1",
            "--no-progress"]
    result = subprocess.run(command + args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    metrics = json.loads((out / "artifacts" / model / "train" / "metrics.json").read_text())
    weights = torch.load(out / "artifacts" / model / "model.pt", weights_only=True)["state_dict"]
    return {"metrics": metrics, "weights": weights, "stdout": result.stdout}


@pytest.mark.parametrize(("model", "kind"), [("ce_clean", "classifier"), ("angular", "embedder")])
def test_two_processes_match_one(model, kind, tiny_image_folder, tmp_path):
    single = train(tiny_image_folder, tmp_path / "single", 1, model)
    double = train(tiny_image_folder, tmp_path / "double", 2, model)
    assert "2 process(es)" in double["stdout"]
    assert double["stdout"].count(f"[train] {model}:") == 1  # only rank 0 reports and writes
    for a, b in zip(single["metrics"]["history"], double["metrics"]["history"]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
    # Same images, averaged gradients: both runs move the weights by the same amount in nearly the
    # same direction (BatchNorm statistics per process are the only difference). Without gradient
    # averaging the step would double; without synchronisation the directions would drift apart.
    update_single, update_double = update(single["weights"], kind), update(double["weights"], kind)
    assert float(update_double.norm()) == pytest.approx(float(update_single.norm()), rel=0.05)
    assert float(torch.nn.functional.cosine_similarity(update_single, update_double, dim=0)) > 0.8


def update(weights: dict, kind: str) -> torch.Tensor:
    """Trained minus initial weights (training seeds torch with 0 before building the model)."""
    torch.manual_seed(0)
    initial = RobustCifarNet(kind).state_dict()
    keys = [k for k in weights if weights[k].dtype.is_floating_point and "running" not in k]
    return torch.cat([(weights[k] - initial[k]).flatten() for k in keys])
