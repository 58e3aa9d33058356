"""The official CIFAR-10 python release (cifar-10-python.tar.gz): reading and downloading."""

from __future__ import annotations

import pickle
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..file_digest import file_digest

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# The checksum published with the release (the same one torchvision and TFDS verify against).
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_FILENAME = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def _batch_to_arrays(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    # The batches are pickled dicts written by Python 2; only plain arrays and lists inside.
    batch = pickle.loads(raw, encoding="bytes")
    planes = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return planes.transpose(0, 2, 3, 1).copy(), np.asarray(batch[b"labels"], dtype=np.int64)


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def is_official_archive(path: Path) -> bool:
    if not path.is_file() or not tarfile.is_tarfile(path):
        return False
    with tarfile.open(path) as tar:
        return any(Path(name).name == TEST_BATCH for name in tar.getnames())


def read_official_archive(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """-> train_images, train_labels, test_images, test_labels from the .tar.gz release."""
    raws: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in TRAIN_BATCHES + (TEST_BATCH,):
                raws[name] = tar.extractfile(member).read()
    missing = [n for n in TRAIN_BATCHES + (TEST_BATCH,) if n not in raws]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: not a complete CIFAR-10 python archive")
    return _split_arrays(raws)


def read_official_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same from an extracted `cifar-10-batches-py` folder."""
    raws = {n: (folder / n).read_bytes() for n in TRAIN_BATCHES + (TEST_BATCH,)}
    return _split_arrays(raws)


def _split_arrays(raws: dict[str, bytes]):
    train = _concat([_batch_to_arrays(raws[n]) for n in TRAIN_BATCHES])
    test = _batch_to_arrays(raws[TEST_BATCH])
    return train[0], train[1], test[0], test[1]


def download_official(dest_dir: Path, url: str = OFFICIAL_URL, timeout: float = 30.0) -> Path:
    """Download the release into dest_dir, verify its MD5, and return its path.

    Written to a .part file first, so an interrupted download never looks like a finished one.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / OFFICIAL_FILENAME
    part = target.with_name(target.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc="download CIFAR-10") as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))
    actual = file_digest(part, "md5")
    if actual != OFFICIAL_MD5:
        part.unlink()
        raise ValueError(f"downloaded archive has MD5 {actual}, expected {OFFICIAL_MD5}; deleted it")
    part.replace(target)
    return target
