"""CIFAR-10 readers: the official python archive, an image-folder directory, or its tarball.

`load_cifar10` picks the source, decodes it once into uint8 arrays and caches them, so every later
run starts in a fraction of a second.
"""

from .arrays import CifarArrays
from .loader import DataSourceError, load_cifar10, resolve_source
from .split import (
    balanced_subset,
    balanced_train_val_split,
    capped_balanced_indices,
    chosen_indices,
    training_selection,
)

__all__ = [
    "CifarArrays",
    "DataSourceError",
    "balanced_subset",
    "balanced_train_val_split",
    "capped_balanced_indices",
    "chosen_indices",
    "load_cifar10",
    "resolve_source",
    "training_selection",
]
