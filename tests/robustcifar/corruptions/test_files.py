"""write_cifar10c and open_cifar10c: our folders, the official layout, and bad folders."""

import json

import numpy as np
import pytest
import torch

from robustcifar.corruptions import (
    ALL_CORRUPTIONS,
    CorruptionError,
    corrupt,
    open_cifar10c,
    write_cifar10c,
)


def test_written_folder_reads_back(images, tmp_path):
    labels = np.arange(len(images)) % 10
    names = ["gaussian_noise", "contrast"]
    write_cifar10c(images, tmp_path, names=names, seed=3, labels=labels, progress=False)
    stored = np.load(tmp_path / "gaussian_noise.npy")
    assert stored.dtype == np.uint8 and stored.shape == (5 * len(images), 32, 32, 3)
    for severity in range(1, 6):  # severity-major: block s - 1 is severity s
        block = stored[(severity - 1) * len(images) : severity * len(images)]
        assert np.array_equal(block, corrupt(images, "gaussian_noise", severity, seed=3))
    assert np.array_equal(np.load(tmp_path / "labels.npy"), np.tile(labels, 5).astype(np.uint8))

    reader = open_cifar10c(tmp_path)
    assert reader.names == ("gaussian_noise", "contrast")
    assert reader.labels.dtype == np.uint8 and len(reader.labels) == 5 * len(images)
    assert np.array_equal(reader.images("contrast", 4), corrupt(images, "contrast", 4))
    assert not any(path.name.endswith(".partial") for path in tmp_path.iterdir())


def test_some_severities_only(images, tmp_path):
    write_cifar10c(
        torch.from_numpy(images), tmp_path, names=["fog"], severities=[5, 2], progress=False
    )
    assert np.load(tmp_path / "fog.npy").shape == (2 * len(images), 32, 32, 3)
    meta = json.loads((tmp_path / "cifar10c.json").read_text())
    assert meta["files"]["fog.npy"]["severities"] == [2, 5]  # ascending, whatever the order asked
    reader = open_cifar10c(tmp_path)
    assert reader.severities("fog") == (2, 5)
    assert np.array_equal(reader.images("fog", 5), corrupt(images, "fog", 5))
    with pytest.raises(CorruptionError, match=r"holds severities \[2, 5\], not 3"):
        reader.images("fog", 3)
    with pytest.raises(FileNotFoundError, match="labels.npy"):
        _ = reader.labels


def test_a_second_write_adds_files(images, tmp_path):
    write_cifar10c(images, tmp_path, names=["fog"], severities=[1], progress=False)
    write_cifar10c(images, tmp_path, names=["frost"], progress=False)
    reader = open_cifar10c(tmp_path)
    assert reader.names == ("frost", "fog")
    assert reader.severities("fog") == (1,) and reader.severities("frost") == (1, 2, 3, 4, 5)


def make_official_folder(folder, count=3, names=("gaussian_noise", "saturate")):
    """A tiny stand-in for the released CIFAR-10-C: no cifar10c.json, rows severity-major."""
    folder.mkdir()
    for name in names:
        rows = np.zeros((5 * count, 32, 32, 3), np.uint8)
        for severity in range(1, 6):
            rows[(severity - 1) * count : severity * count] = 10 * severity  # marks the block
        np.save(folder / f"{name}.npy", rows)
    np.save(folder / "labels.npy", np.tile(np.arange(count, dtype=np.uint8), 5))
    return folder


def test_official_layout(tmp_path):
    reader = open_cifar10c(make_official_folder(tmp_path / "CIFAR-10-C"))
    assert reader.names == ("gaussian_noise", "saturate")
    assert reader.severities("saturate") == (1, 2, 3, 4, 5)
    for severity in range(1, 6):
        block = reader.images("saturate", severity)
        assert block.shape == (3, 32, 32, 3) and np.all(block == 10 * severity)
    assert np.array_equal(reader.labels, np.tile([0, 1, 2], 5))


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder not found"):
        open_cifar10c(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no CIFAR-10-C files"):
        open_cifar10c(tmp_path / "empty")
    reader = open_cifar10c(make_official_folder(tmp_path / "official"))
    with pytest.raises(
        CorruptionError, match="fog.npy is not in .*available: gaussian_noise, saturate"
    ):
        reader.images("fog", 1)
    with pytest.raises(CorruptionError, match="unknown corruption"):
        reader.images("rain", 1)
    with pytest.raises(CorruptionError, match="1, 2, 3, 4, 5"):
        reader.images("saturate", 6)
    np.save(tmp_path / "official" / "snow.npy", np.zeros((7, 32, 32, 3), np.uint8))
    with pytest.raises(CorruptionError, match=r"snow.npy is not a CIFAR-10-C file"):
        open_cifar10c(tmp_path / "official")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"names": ["rain"]}, "unknown corruption 'rain'"),
        ({"names": ["fog", "fog"]}, "names must not repeat"),
        ({"severities": [0]}, "1, 2, 3, 4, 5"),
        ({"severities": []}, "severities must not be empty"),
        ({"seed": -3}, "seed"),
        ({"device": "tpu"}, "device"),
        ({"labels": np.zeros(2, np.uint8)}, r"labels must be integers of shape \(6,\)"),
        ({"labels": np.zeros(6, np.float32)}, "labels must be integers"),
        ({"labels": np.full(6, 300)}, "0-255"),
    ],
)
def test_writer_errors(images, tmp_path, arguments, message):
    with pytest.raises(CorruptionError, match=message):
        write_cifar10c(images, tmp_path, **{"names": ["fog"], **arguments}, progress=False)
    assert not list(tmp_path.glob("*.npy"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_writer_cuda_without_gpu(images, tmp_path):
    with pytest.raises(CorruptionError, match="no CUDA GPU"):
        write_cifar10c(images, tmp_path, names=["fog"], device="cuda", progress=False)


def test_default_names_are_all_19(images, tmp_path):
    write_cifar10c(images[:1], tmp_path, severities=[1], progress=False)
    assert open_cifar10c(tmp_path).names == ALL_CORRUPTIONS
