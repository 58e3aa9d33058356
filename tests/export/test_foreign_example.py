"""`python -m export.foreign_example`: bad input is one line and exit status 2; a classifier is
written as a float32 NCHW model that answers as ours does on normalised pixels."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from export.foreign_example import main
from robustcifar.checkpoint import save_checkpoint
from robustcifar.model import CIFAR10_MEAN, CIFAR10_STD, RobustCifarNet


def test_missing_options_and_files_are_one_line_errors(tmp_path, capsys):
    assert main(["--artifacts", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: --out FILE is required"
    assert main(["--artifacts", str(tmp_path), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_embedder_is_refused_and_a_classifier_written(tmp_path, capsys):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "angular" / "model.pt", RobustCifarNet("embedder"), "angular")
    assert main(["--artifacts", str(tmp_path), "--model", "angular", "--out", str(tmp_path / "a.onnx")]) == 2
    assert "is an embedder" in capsys.readouterr().err
    model = RobustCifarNet("classifier").eval()
    save_checkpoint(tmp_path / "ce_clean" / "model.pt", model, "ce_clean")
    out = tmp_path / "theirs.onnx"
    assert main(["--artifacts", str(tmp_path), "--out", str(out)]) == 0
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    normalised = ((pixels / 255.0 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)).transpose(0, 3, 1, 2)
    theirs = ort.InferenceSession(str(out)).run(None, {"input": normalised.astype(np.float32)})[0]
    with torch.no_grad():
        ours = model(torch.from_numpy(pixels)).numpy()
    assert theirs == pytest.approx(ours, abs=1e-3)
