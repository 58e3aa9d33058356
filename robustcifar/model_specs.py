"""The four models the product trains and serves, and what distinguishes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "classifier" (softmax head) or "embedder" (128-d unit vectors, labels by kNN)
    trained_on_corrupted: bool


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("ce_clean", "classifier", trained_on_corrupted=False),
        ModelSpec("ce_corrupted", "classifier", trained_on_corrupted=True),
        ModelSpec("angular", "embedder", trained_on_corrupted=False),
        ModelSpec("angular_corrupted", "embedder", trained_on_corrupted=True),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(MODEL_SPECS)


def get_spec(name: str) -> ModelSpec:
    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}") from None


def resolve_model_names(names: str | list[str] | tuple[str, ...], imported: Sequence[str] = ()) -> list[str]:
    """'all', a comma-separated string or a list -> validated model names: ours in canonical order,
    then the `imported` ones asked for (serving and benchmarking take those too; 'all' is ours)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names or list(names) == ["all"]:
        return list(MODEL_NAMES)
    for name in names:
        if name not in MODEL_SPECS and name not in imported:
            known = ", ".join([*MODEL_NAMES, *imported])
            raise UsageError(f"unknown model {name!r}; expected one of {known} (a classifier of your own is served "
                             "and benchmarked after `python -m export import --onnx FILE --name NAME`)")
    return [n for n in MODEL_NAMES if n in names] + [n for n in imported if n in names]
