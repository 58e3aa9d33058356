"""The study's figures from the committed per-run outcomes: each model (at a budget) as the mean over
its training seeds with an interval over seeds and test images (intervals.py), the comparisons the
study asks, per-corruption differences with the false-discovery-rate adjustment, the drop under
corruption on the same images, and the budget curve."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from robustcifar.corruptions import (
    BENCHMARK_CORRUPTIONS,
    CBAR_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    SEVERITIES,
)
from robustcifar.model_specs import INT8_SUFFIX, MODEL_SPECS

from .intervals import Interval, difference_interval, fdr_adjusted, seed_image_interval
from .records import RunOutcomes, cell_name

FAMILIES = {"15 benchmark": tuple(BENCHMARK_CORRUPTIONS), "4 unseen": tuple(EXTRA_CORRUPTIONS)}
# CIFAR-10-C-bar (Mintun et al. 2021): chosen to be unlike CIFAR-10-C, so unseen by every model here;
# runs measured before it existed lack it, so it is asked for apart from FAMILIES
CBAR = "C-bar"
EVERY_FAMILY = {**FAMILIES, CBAR: tuple(CBAR_CORRUPTIONS)}
# fit (the corruptions trained on) against generalization (none of them trained on)
AUGMIX_PAIRS = (("ce_augmix", "ce_corrupted"), ("angular_augmix", "angular_corrupted"))
# The study's questions: (the model, the one it is compared with, what the comparison asks)
COMPARISONS = (
    ("ce_corrupted", "ce_clean", "corrupted vs clean training, cross-entropy"),
    ("angular_corrupted", "angular", "corrupted vs clean training, angular loss"),
    ("angular", "ce_clean", "angular vs cross-entropy, clean training"),
    ("angular_corrupted", "ce_corrupted", "angular vs cross-entropy, corrupted training"),
)
FDR_LEVEL = 0.05
# each loss's clean-trained and corrupted-trained model: the budget curve's pairs
PAIRS = {"ce": ("ce_clean", "ce_corrupted"), "angular": ("angular", "angular_corrupted")}


class StudyDataError(ValueError):
    pass


@dataclass
class Group:
    """The runs of one model at one budget (one per training seed), on the same test images."""

    model: str
    epochs: int
    runs: list[RunOutcomes] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return [r.run.seed for r in self.runs]

    def _cell(self, run: RunOutcomes, name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = run.cell_rows(name)
        if not len(rows):
            raise StudyDataError(f"{run.name} has no cell {name}")
        order = np.argsort(run.bench["test_index"][rows], kind="stable")
        return run.bench["test_index"][rows][order], run.bench["correct"][rows][order]

    def _stack(self, per_run: list[tuple[np.ndarray, np.ndarray]], what: str) -> np.ndarray:
        index = per_run[0][0]
        for (other, _), run in zip(per_run, self.runs):
            if not np.array_equal(other, index):
                raise StudyDataError(f"{run.name} measured other images than {self.runs[0].name} for {what}")
        return np.stack([values.astype(np.float64) for _, values in per_run])

    def grid_index(self) -> np.ndarray:
        """The test images of the corrupted cells (the same in every cell)."""
        return self._cell(self.runs[0], cell_name(BENCHMARK_CORRUPTIONS[0], SEVERITIES[0]))[0]

    def clean(self, same_images_as_cells: bool = False) -> np.ndarray:
        """(seeds, images) correctness on the clean cell: all its images, or those the corrupted cells hold."""
        per_run = [self._cell(run, cell_name("clean", 0)) for run in self.runs]
        if same_images_as_cells:
            keep = np.isin(per_run[0][0], self.grid_index())
            per_run = [(index[keep], values[keep]) for index, values in per_run]
        return self._stack(per_run, "the clean cell")

    def corrupted(self, corruptions: tuple[str, ...]) -> np.ndarray:
        """(seeds, images) mean correctness over the corruptions' cells at every severity."""
        cells = [cell_name(c, s) for c in corruptions for s in SEVERITIES]
        per_run = []
        for run in self.runs:
            columns = [self._cell(run, name) for name in cells]
            index = columns[0][0]
            if any(not np.array_equal(i, index) for i, _ in columns):
                raise StudyDataError(f"{run.name}: its corrupted cells hold different images")
            per_run.append((index, np.mean([v for _, v in columns], axis=0)))
        return self._stack(per_run, ", ".join(corruptions))

    def validation(self, corrupted: bool) -> np.ndarray:
        part = "corrupted_val" if corrupted else "val"
        per_run = []
        for run in self.runs:
            if f"{part}_index" not in run.held_out:
                raise StudyDataError(f"{run.name} has no {part} outcomes")
            index = run.held_out[f"{part}_index"]
            order = np.argsort(index, kind="stable")
            correct = run.held_out[f"{part}_predicted"] == run.held_out[f"{part}_label"]
            per_run.append((index[order], correct[order]))
        return self._stack(per_run, part)

    def measured_on(self, family: str) -> Group | None:
        """The runs measured on every cell of the family (C-bar came later than some runs' benchmarks, and
        only a model file that can be served again can be measured on it); None when no run was."""
        cells = [cell_name(c, s) for c in EVERY_FAMILY[family] for s in SEVERITIES]
        runs = [run for run in self.runs if all(c in run.bench_cells for c in cells)]
        return Group(self.model, self.epochs, runs) if runs else None

    def of_seeds(self, seeds: list[int]) -> Group:
        """The runs of these training seeds, in this order."""
        by_seed = {run.run.seed: run for run in self.runs}
        missing = [s for s in seeds if s not in by_seed]
        if missing:
            raise StudyDataError(f"{self.model} at {self.epochs} epochs has no run of seed(s) {missing}")
        return Group(self.model, self.epochs, [by_seed[s] for s in seeds])

    def figure(self, what: str) -> Interval:
        return seed_image_interval(self.values(what))

    def values(self, what: str) -> np.ndarray:
        if what == "clean":
            return self.clean()
        if what == "clean, same images":
            return self.clean(same_images_as_cells=True)
        if what in EVERY_FAMILY:
            return self.corrupted(EVERY_FAMILY[what])
        if what == "validation":
            return self.validation(False)
        if what == "validation, corrupted":
            return self.validation(True)
        if what.startswith("corruption:"):
            return self.corrupted((what.split(":", 1)[1],))
        raise KeyError(what)


@dataclass
class Study:
    groups: dict[tuple[str, int], Group]
    budget: int  # the study budget: the epochs most runs were trained for

    @classmethod
    def of(cls, runs: list[RunOutcomes]) -> Study:
        if not runs:
            raise StudyDataError("no committed runs to read")
        groups: dict[tuple[str, int], Group] = {}
        for run in runs:
            label = run.run.model + (INT8_SUFFIX if run.run.int8 else "")
            groups.setdefault((label, run.epochs), Group(label, run.epochs)).runs.append(run)
        counts: dict[int, int] = {}
        for (_, epochs), group in groups.items():
            counts[epochs] = counts.get(epochs, 0) + len(group.runs)
        return cls(groups, max(counts, key=counts.get))

    def group(self, model: str, epochs: int | None = None) -> Group | None:
        return self.groups.get((model, self.budget if epochs is None else epochs))

    def models(self) -> list[str]:
        return [m for m in MODEL_SPECS if self.group(m)]

    def budgets(self, model: str) -> list[int]:
        return sorted(e for m, e in self.groups if m == model)

    def difference(self, model: str, other: str, what: str, epochs: int | None = None) -> Interval | None:
        a, b = self.group(model, epochs), self.group(other, epochs)
        if a is None or b is None:
            return None
        if model == other + INT8_SUFFIX:  # each int8 copy against the float32 run it was made from
            return self.paired_by_run(a, b, what)
        return difference_interval(a.values(what), b.values(what))

    @staticmethod
    def paired_by_run(copies: Group, originals: Group, what: str) -> Interval:
        """copy − original run by run (the same training seed), so the training variance that both share
        cancels; the interval is over the runs' differences and the images."""
        originals = originals.of_seeds(copies.seeds)
        paired = seed_image_interval(copies.values(what) - originals.values(what))
        return replace(paired, seeds=(len(copies.runs), len(originals.runs)))

    def cbar_group(self, model: str) -> Group | None:
        """The model's runs at the study budget that were measured on CIFAR-10-C-bar."""
        group = self.group(model)
        return group.measured_on(CBAR) if group else None

    def cbar_models(self) -> list[str]:
        """The models with at least one run (at the study budget) measured on CIFAR-10-C-bar."""
        return [m for m in self.models() if self.cbar_group(m)]

    def cbar_difference(self, model: str, other: str, what: str) -> Interval | None:
        """model − other over their runs measured on C-bar (for every column, so that C-bar, the 15 and
        the 4 unseen compare the same runs)."""
        a, b = self.cbar_group(model), self.cbar_group(other)
        if a is None or b is None:
            return None
        return difference_interval(a.values(what), b.values(what))

    def int8_pairs(self) -> list[tuple[str, str, int]]:
        """(int8 copy, its float32 model, epochs) for every model and budget measured in both forms."""
        return [(m + INT8_SUFFIX, m, e) for m in MODEL_SPECS for e in self.budgets(m)
                if self.group(m + INT8_SUFFIX, e)]

    def per_corruption(self, model: str, other: str, epochs: int | None = None) -> list[tuple[str, Interval, float]]:
        """(corruption, difference, FDR-adjusted p) for every corruption of every family."""
        names = [c for family in FAMILIES.values() for c in family]
        found = [(c, self.difference(model, other, f"corruption:{c}", epochs)) for c in names]
        found = [(c, d) for c, d in found if d is not None]
        adjusted = fdr_adjusted([d.p_value for _, d in found])
        return [(c, d, q) for (c, d), q in zip(found, adjusted)]
