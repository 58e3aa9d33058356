"""The command lines: python -m robustcifar.corruptions and python -m robustcifar.corruptions.grid."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from robustcifar.corruptions import open_cifar10c
from robustcifar.corruptions.__main__ import main
from robustcifar.corruptions.grid import main as grid_main
from robustcifar.corruptions.grid import render_grid

ROOT = Path(__file__).resolve().parents[3]


def run(*arguments: str, module: str = "robustcifar.corruptions") -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, arguments)],
        capture_output=True, text=True, cwd=ROOT, env=environment, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def inputs(images, tmp_path):
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "labels.npy", np.arange(len(images)) % 10)
    return tmp_path


def test_writes_a_folder(inputs):
    out = inputs / "c10c"
    result = run("--images", inputs / "images.npy", "--labels", inputs / "labels.npy", "--out", out,
                 "--names", "fog", "pixelate", "--severities", "1", "5", "--seed", "4")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote 2 corruption files" in result.stdout
    reader = open_cifar10c(out)
    assert reader.names == ("fog", "pixelate") and reader.severities("fog") == (1, 5)
    assert len(reader.labels) == 2 * 6


GOOD = ["--images", "{d}/images.npy", "--out", "{d}/out", "--names", "fog", "--no-progress"]
BAD = [
    (["--names", "rain"], "unknown corruption 'rain'"),
    (["--severities", "0"], "severity must be one of 1, 2, 3, 4, 5"),
    (["--severities", "two"], "invalid int value"),
    (["--seed", "-1"], "seed must be a non-negative integer"),
    (["--images", "{d}/missing.npy"], "images file not found"),
    (["--images", "{d}/labels.npy"], "must hold uint8 RGB images of shape (N, 32, 32, 3)"),
    (["--images", "{d}/floats.npy"], "got float32 (2, 32, 32, 3)"),
    (["--images", "{d}/not_npy.npy"], "cannot read images file"),
    (["--labels", "{d}/short.npy"], "labels must be integers of shape (6,)"),
    (["--device", "tpu"], "device"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--frobnicate"], "unrecognized arguments"),
]


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_arguments_fail_in_one_line(inputs, capsys, extra, message):
    """In-process (a subprocess per case costs seconds of imports): SystemExit(2), one line on
    stderr; any other exception would surface here as a test error."""
    np.save(inputs / "floats.npy", np.zeros((2, 32, 32, 3), np.float32))
    np.save(inputs / "short.npy", np.zeros(2, np.uint8))
    (inputs / "not_npy.npy").write_text("not an array")
    argv = [a.format(d=inputs) for a in GOOD + extra]  # a later flag overrides an earlier one
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and message in stderr, stderr
    assert stderr.startswith("python -m robustcifar.corruptions: error: ")
    assert not (inputs / "out" / "fog.npy").exists()


def test_bad_argument_in_a_real_process(inputs):
    result = run("--images", inputs / "images.npy", "--out", inputs / "out", "--severities", "6")
    assert result.returncode == 2
    assert result.stderr == (
        "python -m robustcifar.corruptions: error: severity must be one of 1, 2, 3, 4, 5; got 6\n"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_fails_in_one_line(inputs, capsys):
    with pytest.raises(SystemExit, match="2"):
        main([a.format(d=inputs) for a in GOOD] + ["--device", "cuda"])
    assert capsys.readouterr().err.endswith("torch sees no CUDA GPU here\n")


def test_missing_required_argument(inputs, capsys):
    with pytest.raises(SystemExit, match="2"):
        main(["--out", str(inputs / "out")])
    stderr = capsys.readouterr().err
    assert "required: --images" in stderr and stderr.count("\n") == 1


def test_grid_picture(images, tmp_path):
    path = render_grid(images[:2], tmp_path / "grid.png", names=["fog", "snow"], scale=3)
    with Image.open(path) as picture:
        # 6 columns (clean + 5 severities) of 2 images, 32 pixels enlarged 3 times, plus labels
        assert picture.format == "PNG" and picture.width > 6 * 2 * 32 * 3
        assert 2 * 32 * 3 < picture.height < 3 * 32 * 3 + 100


@pytest.mark.slow  # a fresh process importing torch and matplotlib: about 5 s
def test_grid_command(inputs):
    result = run("--images", inputs / "images.npy", "--out", inputs / "g.png", "--indices", "0",
                 module="robustcifar.corruptions.grid")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (inputs / "g.png").stat().st_size > 0


def test_grid_command_bad_index(inputs, capsys):
    with pytest.raises(SystemExit, match="2"):
        grid_main(["--images", str(inputs / "images.npy"), "--out", str(inputs / "g.png"),
                   "--indices", "9"])  # fmt: skip
    assert capsys.readouterr().err == (
        "python -m robustcifar.corruptions.grid: error: --indices [9] outside 0..5\n"
    )
