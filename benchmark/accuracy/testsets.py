"""The labelled image sets the benchmark sends: clean test images and every corruption x severity.

Corrupted cells come from a CIFAR-10-C folder when one is given (our generated one, or the
official release), otherwise they are generated here from the test images with a fixed seed.

Every corrupted image must be paired with its clean original, or the per-image figures (the
intervals over images, the relative CE, which compares each image's clean and corrupted answers)
are wrong. Generated cells pair by construction. A folder pairs when it says it was made from these
test images (the digest in its cifar10c.json) or, for the official release, when its labels are
the test labels in the same order; a folder of ours made from other images is refused as stale.
Otherwise (the official release next to the JPEG copy, whose test images are in another order) the
corrupted cells are drawn by the folder's own labels, the run is marked unpaired, and the summary
gives no figure that needs the pairing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robustcifar.corruptions import CorruptionError, corrupt, open_cifar10c, read_source
from robustcifar.datasets import CifarArrays, chosen_indices
from robustcifar.errors import UsageError

from .outcomes import CLEAN


@dataclass
class Cell:
    corruption: str  # "clean" or a CIFAR-10-C name
    severity: int  # 0 for clean
    images: np.ndarray  # uint8 (n, 32, 32, 3)
    labels: np.ndarray  # (n,)
    # Set when this (clean) cell holds more images than the corrupted cells: where their images
    # are among its own, so the same images can be paired across all cells.
    shared_positions: np.ndarray | None = None
    test_index: np.ndarray | None = None  # (n,) each image's index in the test set; -1: unknown (unpaired)


@dataclass
class CellPlan:
    """A cell before its images are made: what it holds, so a run can count and skip cells cheaply."""

    corruption: str
    severity: int
    labels: np.ndarray
    test_index: np.ndarray  # -1 where a folder's row cannot be traced to a test image
    shared_positions: np.ndarray | None = None
    rows: np.ndarray | None = None  # rows of a CIFAR-10-C folder's severity block

    @property
    def key(self) -> tuple[str, int]:
        return self.corruption, self.severity

    @property
    def size(self) -> int:
        return len(self.labels)


def shared_positions(clean_idx: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Positions of the cells' images `idx` within the clean cell's `clean_idx` (None when they are the same)."""
    if np.array_equal(clean_idx, idx):
        return None
    if not np.isin(idx, clean_idx).all():
        raise UsageError("the corrupted cells' test images must all be in the clean cell: use --clean-per-class 0 "
                         "(all test images) or the same number as --per-class")
    return np.searchsorted(clean_idx, idx)  # both are sorted


@dataclass
class Pairing:
    """How a CIFAR-10-C folder's rows relate to the test images."""

    paired: bool
    note: str
    # for a folder of some test images in its own order: the test image of each row
    test_indices: np.ndarray | None = None

    def rows_of(self, idx: np.ndarray) -> np.ndarray:
        """The rows (within a severity block) that hold test images `idx`."""
        if self.test_indices is None:
            return idx
        position = {int(t): row for row, t in enumerate(self.test_indices)}
        missing = [int(i) for i in idx if int(i) not in position]
        if missing:
            raise UsageError(f"the CIFAR-10-C folder holds {len(position)} of the test images, not the {len(missing)} "
                             "more that this selection needs (--per-class, --seed): write it for this selection")
        return np.array([position[int(i)] for i in idx])


def check_pairing(data: CifarArrays, cifar10c: Path | None) -> Pairing:
    if cifar10c is None:
        return Pairing(True, "corrupted on the fly from the same test images (seeded)")
    reader = open_cifar10c(cifar10c)
    n = len(data.test_labels)
    source = read_source(cifar10c)
    if source:
        if source.get("test_set_digest") != data.test_set_digest():
            raise CorruptionError(
                f"{cifar10c} was made from other test images than {Path(data.source).name} "
                f"({source.get('data_source', '?')}, commit {str(source.get('git_commit', '?'))[:12]}): it is "
                "stale; write it again with `make cifar10c`, or pass --cifar10c with a folder for this data")
        indices = source.get("test_indices")
        if indices is None:
            return Pairing(True, f"{cifar10c.name}: made from these test images (digest matches)")
        return Pairing(True, f"{cifar10c.name}: made from {len(indices)} of these test images, each row paired by "
                             "its recorded test index", np.asarray(indices, dtype=np.int64))
    counts = {reader.images_per_severity(name) for name in reader.names}
    labels = np.asarray(reader.labels, dtype=np.int64)
    if counts == {n} and len(labels) >= n and np.array_equal(labels[:n], data.test_labels):
        return Pairing(True, f"{cifar10c.name}: its labels are the test labels in order (the official release "
                             "with the official test set)")
    return Pairing(False, f"{cifar10c.name}: its images cannot be paired with these test images (another order or "
                          f"count: {sorted(counts)} per severity vs {n}); corrupted cells use the folder's own "
                          "labels, intervals are unpaired and there is no relative CE")


def _matching_counts(clean_idx: np.ndarray, labels: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Sorted indices, among `clean_idx`, with as many images of each class as `wanted` has (the grid's
    clean row for corrupted cells that cannot be paired: same size and class mix, other images)."""
    counts = np.bincount(wanted, minlength=int(labels.max()) + 1)
    chosen = [clean_idx[labels[clean_idx] == c][:count] for c, count in enumerate(counts)]
    if any(len(c) < count for c, count in zip(chosen, counts)):
        raise UsageError("the clean cell holds fewer images of a class than the CIFAR-10-C folder's cells: use "
                         "--clean-per-class 0 (all test images)")
    return np.sort(np.concatenate(chosen))


class TestCells:
    """The clean cell, then every corruption x severity: planned first (labels, test indices, sizes),
    made one at a time (`images`), so a run can say what it will send and skip what it has."""

    def __init__(self, data: CifarArrays, corruptions: list[str], severities: list[int], per_class: int, seed: int,
                 cifar10c: Path | None = None, clean_per_class: int = -1, pairing: Pairing | None = None) -> None:
        self.data, self.seed = data, seed
        self.pairing = pairing or check_pairing(data, cifar10c)
        self.reader = open_cifar10c(cifar10c) if cifar10c else None
        labels = data.test_labels
        idx = chosen_indices(labels, per_class, seed)
        clean_idx = idx if clean_per_class < 0 else chosen_indices(labels, clean_per_class, seed)
        rows, row_labels, row_index = None, labels[idx], idx
        # corruptions the folder lacks (CIFAR-10-C-bar beside a CIFAR-10-C folder) are generated on the fly
        # from the same test images, which needs a folder paired with them
        self.generated = [c for c in corruptions if self.reader is not None and c not in self.reader.names]
        if self.generated and not self.pairing.paired:
            raise UsageError(f"{cifar10c} has no {', '.join(self.generated)}, and its images are not paired with "
                             "these test images, so those cannot be generated beside it: measure them in a run "
                             "without --cifar10c, or pass --family cifar10c")
        if self.reader is not None and self.pairing.paired:
            rows = self.pairing.rows_of(idx)  # each row with its own clean original
        elif self.reader is not None:
            count = min(self.reader.images_per_severity(name) for name in corruptions) if corruptions else 0
            folder_labels = np.asarray(self.reader.labels[:count], dtype=np.int64)
            rows = chosen_indices(folder_labels, per_class, seed)
            row_labels, row_index = folder_labels[rows], np.full(len(rows), -1, np.int64)
            # the grid's clean row: as many clean images of each class as the folder's cells hold
            idx = _matching_counts(clean_idx, labels, row_labels) if len(rows) else idx[:0]
            if clean_per_class < 0:
                clean_idx = idx
        self.plan = [CellPlan(CLEAN, 0, labels[clean_idx], clean_idx, shared_positions(clean_idx, idx))]
        self.plan += [CellPlan(name, severity, labels[idx], idx) if name in self.generated
                      else CellPlan(name, severity, row_labels, row_index, rows=rows)
                      for name in corruptions for severity in severities]

    @property
    def total_images(self) -> int:
        return sum(cell.size for cell in self.plan)

    def images(self, cell: CellPlan) -> np.ndarray:
        if cell.corruption == CLEAN:
            return self.data.test_images[cell.test_index]
        if self.reader is not None and cell.corruption not in self.generated:
            return self.reader.images(cell.corruption, cell.severity)[cell.rows]
        return corrupt(self.data.test_images[cell.test_index], cell.corruption, cell.severity, seed=self.seed)

    def cell(self, plan: CellPlan) -> Cell:
        return Cell(plan.corruption, plan.severity, self.images(plan), plan.labels, plan.shared_positions,
                    plan.test_index)

    def __iter__(self) -> Iterator[Cell]:
        return (self.cell(plan) for plan in self.plan)


def iter_cells(data: CifarArrays, corruptions: list[str], severities: list[int], per_class: int, seed: int,
               cifar10c: Path | None = None, clean_per_class: int = -1,
               pairing: Pairing | None = None) -> Iterator[Cell]:
    """The clean cell, then every corruption x severity; `pairing` from check_pairing (checked here when not given)."""
    return iter(TestCells(data, corruptions, severities, per_class, seed, cifar10c, clean_per_class, pairing))
