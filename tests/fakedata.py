"""Small synthetic CIFAR-like data, written in the formats the dataset readers accept."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from robustcifar.classes import CLASS_NAMES


def synthetic_images(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images whose mean colour and a stripe position depend on the class: learnable, small."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(len(CLASS_NAMES)):
        colour = rng.integers(40, 216, size=3)
        for _ in range(n_per_class):
            image = np.clip(colour + rng.normal(0, 25, (32, 32, 3)), 0, 255)
            image[:, 3 * label : 3 * label + 3] = 255
            images.append(image.astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def write_image_folder(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = synthetic_images(n, seed + (split == "test"))
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:04d}.png")
    return root


def write_official_archive(path: Path, n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tiny cifar-10-python.tar.gz in the real format: pickled dicts of planar uint8 rows."""
    images, labels = synthetic_images(n_per_class, seed)
    planar = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batches = {f"data_batch_{i}": slice(i - 1, None, 6) for i in range(1, 6)}
    batches["test_batch"] = slice(5, None, 6)
    with tarfile.open(path, "w:gz") as tar:
        for name, rows in batches.items():
            payload = pickle.dumps({b"data": planar[rows], b"labels": labels[rows].tolist()})
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            member.size = len(payload)
            tar.addfile(member, io.BytesIO(payload))
    return images, labels
