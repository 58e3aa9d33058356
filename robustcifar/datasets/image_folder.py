"""CIFAR-10 as one image file per picture: `<split>/<class>/<file>.jpg|png`, as a folder or tarball.

This is the layout of the offline JPEG copy in ../shared/data and of many public re-encodings.
Images are returned sorted by (class index, file name), so every run sees the same order.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from ..classes import CLASS_NAMES
from ..imaging import decode_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SPLITS = ("train", "test")


def _parse(member_path: str) -> tuple[str, int, str] | None:
    """'.../train/cat/0001.jpg' -> ('train', 3, '0001.jpg'); None for anything else."""
    parts = PurePosixPath(member_path).parts
    if len(parts) < 3 or parts[-3] not in SPLITS or parts[-2] not in CLASS_NAMES:
        return None
    if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
        return None
    return parts[-3], CLASS_NAMES.index(parts[-2]), parts[-1]


def _decode_32(data: bytes, where: str) -> np.ndarray:
    pixels = decode_image(data)
    if pixels.shape != (32, 32, 3):
        raise ValueError(f"{where}: expected a 32x32 image, got {pixels.shape[1]}x{pixels.shape[0]}")
    return pixels


def _assemble(entries: dict[str, list[tuple[int, str, np.ndarray]]]):
    out = []
    for split in SPLITS:
        rows = sorted(entries[split], key=lambda r: (r[0], r[1]))
        if not rows:
            raise ValueError(f"no {split} images found (expected {split}/<class>/<image>)")
        out += [np.stack([r[2] for r in rows]), np.array([r[0] for r in rows], dtype=np.int64)]
    return tuple(out)


def read_image_tarball(path: Path, progress: bool = True):
    """-> train_images, train_labels, test_images, test_labels from a .tar(.gz) of image files."""
    entries: dict[str, list] = {s: [] for s in SPLITS}
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and _parse(m.name)]
        for member in tqdm(members, desc=f"decode {path.name}", unit="img", mininterval=1.0, disable=not progress):
            split, label, name = _parse(member.name)
            pixels = _decode_32(tar.extractfile(member).read(), member.name)
            entries[split].append((label, name, pixels))
    return _assemble(entries)


def read_image_folder(folder: Path, progress: bool = True):
    """The same from a directory with train/ and test/ sub-folders."""
    entries: dict[str, list] = {s: [] for s in SPLITS}
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and _parse(p.relative_to(folder).as_posix())]
    for file in tqdm(files, desc=f"decode {folder.name}", unit="img", mininterval=1.0, disable=not progress):
        split, label, name = _parse(file.relative_to(folder).as_posix())
        entries[split].append((label, name, _decode_32(file.read_bytes(), str(file))))
    return _assemble(entries)


def is_image_tarball(path: Path) -> bool:
    if not path.is_file() or not tarfile.is_tarfile(path):
        return False
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and _parse(member.name):
                return True
    return False
