"""CIFAR-10-C folders: writing ours, reading ours or the official release.

The same layout serves CIFAR-10-C-bar (its make_cifar10_c_bar.py writes it so too), and a folder
may hold corruptions of both; the record says which family each file belongs to.

The layout is the released one (spec, "Released layout"): one file per corruption named after it,
``<name>.npy``, uint8 (N * 5, 32, 32, 3), rows 0..N-1 severity 1 of all N test images in order,
rows N..2N-1 severity 2, and so on; ``labels.npy``, uint8 (N * 5,), the labels repeated once per
severity. A folder we write also holds ``cifar10c.json``, which records the severities, image
count, seed and family (registry.FAMILIES: cifar10c_benchmark, cifar10c_extra or cbar) of every
file, so that a file written with only some severities reads back correctly, and what the folder
was made from (``source``: the digest of the test images, the code version), so
that a reader can tell whether its rows pair with a given copy of the test set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from robustcifar.corruptions import batch, seeding
from robustcifar.corruptions.api import corrupt
from robustcifar.corruptions.registry import (
    ALL_CORRUPTIONS,
    KNOWN_CORRUPTIONS,
    SEVERITIES,
    CorruptionError,
    check_severity,
    family_of,
    lookup,
)

META_FILE = "cifar10c.json"
LABELS_FILE = "labels.npy"


def write_cifar10c(
    images,
    out_dir: str | os.PathLike,
    names: Sequence[str] = ALL_CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
    device: str | torch.device = "cpu",
    labels=None,
    progress: bool = True,
    source: dict | None = None,
) -> Path:
    """Corrupt ``images`` with every (name, severity) and write them in the CIFAR-10-C layout.

    images: uint8 (N, 32, 32, 3) RGB test images (numpy or torch), in test-set order.
    names: corruptions to write, one ``<name>.npy`` each (others already in ``out_dir`` stay):
        any of KNOWN_CORRUPTIONS, CIFAR-10-C's by default.
    severities: the severities in every file. Rows come in blocks of N, one block per severity in
        ascending order; with all five this is exactly the released layout, with fewer the file
        holds only those blocks (e.g. severities (2, 5): rows 0..N-1 severity 2, N..2N-1 severity
        5), and ``cifar10c.json`` records which, for open_cifar10c.
    seed: images are ``corrupt(images, name, severity, seed)``: each cell has its own random
        stream derived from (seed, name, severity); the same arguments give the same files.
    device: where to compute ("cpu", "cuda"); the random numbers are drawn on the CPU either way.
    labels: optional (N,) integer labels; ``labels.npy`` gets them once per severity, as uint8.
    progress: show a tqdm progress bar (one step per (name, severity)) on stderr.
    source: what the images are (e.g. {"test_set_digest": ..., "git_commit": ...}), recorded in
        ``cifar10c.json``; a folder written from other images is refused rather than mixed.

    Each file is written under a temporary name and renamed when complete. Returns ``out_dir``.
    Raises CorruptionError on bad arguments.
    """
    names = _unique([lookup(name).name for name in _as_list(names, "names")], "names")
    levels = sorted(
        _unique([check_severity(s) for s in _as_list(severities, "severities")], "severities")
    )
    seed = seeding.check_seed(seed)
    source_record = source
    source = batch.as_uint8_tensor(images).to(batch.resolve_device(device))
    labels = None if labels is None else _check_labels(labels, len(source))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    count = len(source)
    if source_record is not None:
        previous = read_source(out_dir)
        if previous and previous.get("test_set_digest") != source_record.get("test_set_digest"):
            raise CorruptionError(f"{out_dir} holds CIFAR-10-C files made from other test images; write to an "
                                  "empty folder or remove the old one")
    written = {}
    with tqdm(total=len(names) * len(levels), disable=not progress, unit="cell") as bar:
        for name in names:
            with _atomic_array(out_dir / f"{name}.npy", count * len(levels)) as rows:
                for block, severity in enumerate(levels):
                    bar.set_description(f"{name} s{severity}")
                    corrupted = corrupt(source, name, severity, seed)
                    rows[block * count : (block + 1) * count] = corrupted.cpu().numpy()
                    bar.update()
            written[f"{name}.npy"] = {
                "severities": levels,
                "images_per_severity": count,
                "seed": seed,
                "family": family_of(name),
            }
    if labels is not None:
        np.save(out_dir / LABELS_FILE, np.tile(labels, len(levels)))
        written[LABELS_FILE] = {"severities": levels, "images_per_severity": count}
    _update_meta(out_dir, written, source_record)
    return out_dir


class CIFAR10C:
    """A CIFAR-10-C folder opened by open_cifar10c."""

    def __init__(self, folder: Path, files: dict[str, tuple[int, ...]], count: dict[str, int]):
        self.folder = folder
        self._severities = files  # name -> severities in the file, in row-block order
        self._count = count  # name -> images per severity
        self.names: tuple[str, ...] = tuple(name for name in KNOWN_CORRUPTIONS if name in files)

    def images_per_severity(self, name: str) -> int:
        return self._count[self._check_name(name)]

    def severities(self, name: str) -> tuple[int, ...]:
        """The severities stored for ``name`` (all five in the official release)."""
        return self._severities[self._check_name(name)]

    def images(self, name: str, severity: int) -> np.ndarray:
        """uint8 (N, 32, 32, 3) images of ``name`` at ``severity``, in test-set order."""
        name = self._check_name(name)
        severity = check_severity(severity)
        if severity not in self._severities[name]:
            raise CorruptionError(
                f"{name}.npy in {self.folder} holds severities {list(self._severities[name])}, "
                f"not {severity}"
            )
        block = self._severities[name].index(severity)
        count = self._count[name]
        stored = np.load(self.folder / f"{name}.npy", mmap_mode="r")
        return np.array(stored[block * count : (block + 1) * count])

    @property
    def labels(self) -> np.ndarray:
        """uint8 labels from labels.npy: the test labels once per severity (50,000 officially)."""
        path = self.folder / LABELS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {LABELS_FILE} in {self.folder} (written without labels?)")
        labels = np.load(path)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise CorruptionError(
                f"{path} must hold a 1-D integer array, got {labels.dtype} {labels.shape}"
            )
        return labels.astype(np.uint8)

    def _check_name(self, name: str) -> str:
        if name not in self._severities:
            lookup(name)  # an unknown name gets the message that lists all names
            raise CorruptionError(
                f"{name}.npy is not in {self.folder}; available: {', '.join(self.names)}"
            )
        return name


def open_cifar10c(folder: str | os.PathLike) -> CIFAR10C:
    """Open a CIFAR-10-C folder: one written by write_cifar10c, or the official release.

    The reader has ``.names`` (the corruptions present, in KNOWN_CORRUPTIONS order: CIFAR-10-C's,
    then CIFAR-10-C-bar's), ``.labels``
    (uint8, from labels.npy) and ``.images(name, severity)`` (uint8 (N, 32, 32, 3)). Files are
    checked on opening (uint8, (rows, 32, 32, 3), rows a multiple of the severity count); files
    without an entry in cifar10c.json (the official ones) hold all five severities.
    Raises FileNotFoundError when the folder or all its corruption files are missing, and
    CorruptionError when a file does not have the layout.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"CIFAR-10-C folder not found: {folder}")
    meta = _read_meta(folder)
    files, count = {}, {}
    for name in KNOWN_CORRUPTIONS:
        path = folder / f"{name}.npy"
        if path.is_file():
            levels = tuple(meta.get(path.name, {}).get("severities", SEVERITIES))
            files[name], count[name] = levels, _check_file(path, len(levels))
    if not files:
        raise FileNotFoundError(
            f"no CIFAR-10-C files in {folder}: expected some of {', '.join(KNOWN_CORRUPTIONS)} "
            "(.npy)"
        )
    return CIFAR10C(folder, files, count)


def _check_file(path: Path, blocks: int) -> int:
    """Images per severity in a corruption file, after checking its dtype and shape."""
    try:
        stored = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as error:
        raise CorruptionError(f"cannot read {path} as a .npy array: {error}") from None
    shape = stored.shape
    if stored.dtype != np.uint8 or len(shape) != 4 or shape[1:] != (32, 32, 3) or shape[0] % blocks:
        raise CorruptionError(
            f"{path} is not a CIFAR-10-C file: expected uint8 (N * {blocks}, 32, 32, 3), "
            f"got {stored.dtype} {shape}"
        )
    return shape[0] // blocks


class _atomic_array:
    """A uint8 (rows, 32, 32, 3) .npy memory map, renamed into place only when complete."""

    def __init__(self, path: Path, rows: int):
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.rows = rows

    def __enter__(self) -> np.memmap:
        shape = (self.rows, 32, 32, 3)
        self.array = np.lib.format.open_memmap(self.partial, "w+", np.uint8, shape)
        return self.array

    def __exit__(self, error_type, error, traceback) -> None:
        self.array.flush()
        del self.array
        if error_type is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


def _read_meta(folder: Path) -> dict:
    path = folder / META_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("files", {})


def read_source(folder: str | os.PathLike) -> dict:
    """What a folder we wrote was made from (empty for the official release and older folders)."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("source", {})


def _update_meta(folder: Path, written: dict, source: dict | None = None) -> None:
    files = _read_meta(folder)
    files.update(written)
    meta = {
        "generator": "robustcifar.corruptions (values rounded to nearest, not truncated)",
        "files": dict(sorted(files.items())),
    }
    source = source if source is not None else read_source(folder)
    if source:
        meta["source"] = source
    (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")


def _check_labels(labels, count: int) -> np.ndarray:
    labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise CorruptionError(
            f"labels must be integers of shape ({count},), one per image; "
            f"got {labels.dtype} {labels.shape}"
        )
    if count and (labels.min() < 0 or labels.max() > 255):
        raise CorruptionError("labels must lie in 0-255 to be stored as uint8")
    return labels.astype(np.uint8)


def _as_list(values: object, what: str) -> list:
    if isinstance(values, (str, bytes)):
        values = [values]
    try:
        values = list(values)
    except TypeError:
        raise CorruptionError(f"{what} must be a list, got {values!r}") from None
    if not values:
        raise CorruptionError(f"{what} must not be empty")
    return values


def _unique(values: list, what: str) -> list:
    if len(set(values)) != len(values):
        raise CorruptionError(f"{what} must not repeat: {values}")
    return values
