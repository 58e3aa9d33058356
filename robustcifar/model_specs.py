"""The four models the product trains and serves, what distinguishes them, and how their runs are named.

A *run* is one training of one of the four models: with a training seed, and at the profile's
budget or another one. Every part (training, export, serving, benchmark, report) names a run the
same way, through `run_name` and `RunName.parse`:

    ce_clean                 seed 0 at the profile's budget (the plain name, as before seeds existed)
    ce_clean-seed1           seed 1
    ce_clean-ep20            seed 0, trained for 20 epochs instead of the profile's number
    ce_clean-seed2-ep20      both
    ce_clean_int8            a run's int8 copy (`python -m export quantize`), any of the above + _int8

The names are valid TorchServe model names and URL path segments (`/predictions/ce_clean-seed1`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "classifier" (softmax head) or "embedder" (128-d unit vectors, labels by kNN)
    trained_on_corrupted: bool
    augmix: bool = False  # trained on AugMix mixtures (training/augmix.py), none of them a test corruption
    # AugMix's Jensen-Shannon consistency between the clean image and two mixes (classifiers only)
    consistency_loss: bool = False


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("ce_clean", "classifier", trained_on_corrupted=False),
        ModelSpec("ce_corrupted", "classifier", trained_on_corrupted=True),
        ModelSpec("angular", "embedder", trained_on_corrupted=False),
        ModelSpec("angular_corrupted", "embedder", trained_on_corrupted=True),
        ModelSpec("ce_augmix", "classifier", trained_on_corrupted=False, augmix=True),
        ModelSpec("angular_augmix", "embedder", trained_on_corrupted=False, augmix=True),
        ModelSpec("ce_augmix_jsd", "classifier", trained_on_corrupted=False, augmix=True, consistency_loss=True),
    )
}
# 'all': the four of the original studies; the AugMix pair is trained by name (MODELS=ce_augmix,...)
MODEL_NAMES: tuple[str, ...] = ("ce_clean", "ce_corrupted", "angular", "angular_corrupted")
# ce_augmix_jsd: the paper's full method; three forward passes per image, so not in the study by default
AUGMIX_MODELS: tuple[str, ...] = ("ce_augmix", "angular_augmix", "ce_augmix_jsd")

_RUN_PATTERN = re.compile(r"^(?P<model>[a-z_]+?)(?:-seed(?P<seed>\d+))?(?:-ep(?P<epochs>\d+))?(?P<int8>_int8)?$")
INT8_SUFFIX = "_int8"


@dataclass(frozen=True, order=True)
class RunName:
    """One training run of one of our models: (model, training seed, epochs or None for the profile's)."""

    model: str
    seed: int = 0
    epochs: int | None = None
    int8: bool = False  # the run's int8 copy

    def __str__(self) -> str:
        return run_name(self.model, self.seed, self.epochs) + (INT8_SUFFIX if self.int8 else "")

    @property
    def float_run(self) -> RunName:
        """The float32 run an int8 copy was made from (itself for a float32 run)."""
        return RunName(self.model, self.seed, self.epochs)

    @classmethod
    def parse(cls, name: str) -> RunName | None:
        """The run a name stands for, or None when it is not one of ours (an imported model, a typo)."""
        match = _RUN_PATTERN.match(name)
        if not match or match["model"] not in MODEL_SPECS:
            return None
        if (match["seed"] and match["seed"] != str(int(match["seed"]))) or (
                match["epochs"] and (match["epochs"] != str(int(match["epochs"])) or int(match["epochs"]) < 1)):
            return None  # one spelling per run: no leading zeros, no zero epochs
        return cls(match["model"], int(match["seed"] or 0), int(match["epochs"]) if match["epochs"] else None,
                   bool(match["int8"]))


def run_name(model: str, seed: int = 0, epochs: int | None = None) -> str:
    """The one name of a run; seed 0 and the profile's budget add nothing to the model's name."""
    if model not in MODEL_SPECS:
        raise UsageError(f"unknown model {model!r}; expected one of {', '.join(MODEL_SPECS)}")
    if seed < 0:
        raise UsageError(f"training seeds are non-negative integers, got {seed}")
    return model + (f"-seed{seed}" if seed else "") + (f"-ep{epochs}" if epochs is not None else "")


def get_spec(name: str) -> ModelSpec:
    """The spec of a model, or of the model a run name stands for."""
    run = RunName.parse(name)
    if run is None:
        raise UsageError(f"unknown model {name!r}; expected one of {', '.join(MODEL_SPECS)}, optionally with "
                         "-seed<N> and/or -ep<N> (e.g. ce_clean-seed1)")
    return MODEL_SPECS[run.model]


def parse_int_list(text: str | Iterable[int], what: str) -> tuple[int, ...]:
    """'0,1,2' (or a sequence of ints) -> (0, 1, 2), for --seeds and --budgets; duplicates are dropped."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise UsageError(f"{what} must be comma-separated integers, got {text!r}") from None
    else:
        values = [int(v) for v in text]
    if any(v < 0 for v in values):
        raise UsageError(f"{what} must be non-negative, got {text!r}")
    return tuple(dict.fromkeys(values))


def resolve_model_names(names: str | list[str] | tuple[str, ...], imported: Sequence[str] = (),
                        seeds: str | Sequence[int] = "") -> list[str]:
    """'all', a comma-separated string or a list -> validated model or run names: ours in canonical
    order, then the `imported` ones asked for (serving and benchmarking take those too; 'all' is
    ours). With `seeds` ('0,1,2'), each of our plain names stands for its run with each seed."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names or list(names) == ["all"]:
        names = list(MODEL_NAMES)
    for name in names:
        if RunName.parse(name) is None and name not in imported:
            known = ", ".join([*MODEL_SPECS, *imported])
            raise UsageError(f"unknown model {name!r}; expected one of {known}, optionally with -seed<N> and/or "
                             "-ep<N> (a classifier of your own is served and benchmarked after "
                             "`python -m export import --onnx FILE --name NAME`)")
    seed_list = parse_int_list(seeds, "seeds") if seeds not in ("", ()) else ()
    runs, others = [], []
    for name in dict.fromkeys(names):
        run = RunName.parse(name)
        if run is None:
            others.append(name)
        elif seed_list and name in MODEL_SPECS:
            runs.extend(RunName(run.model, s, run.epochs) for s in seed_list)
        else:
            runs.append(run)
    # ours grouped by model in canonical order, then seed, then budget (the plain budget first)
    order = {m: i for i, m in enumerate(MODEL_SPECS)}
    runs.sort(key=lambda r: (order[r.model], r.seed, r.epochs or 0, r.int8))
    return list(dict.fromkeys(str(r) for r in runs)) + [n for n in imported if n in others]
