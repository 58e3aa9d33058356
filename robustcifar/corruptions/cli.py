"""Command-line plumbing shared by ``python -m robustcifar.corruptions``, ``... .grid`` and
``... .speed``: errors as one line on stderr with a non-zero exit (never a traceback), checked .npy
inputs, and the corruptions that --names or --family choose."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np

from robustcifar.corruptions.registry import CorruptionError, lookup, select

EXIT_BAD_ARGUMENTS = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line ("<prog>: error: ...") instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, message)


def fail(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(EXIT_BAD_ARGUMENTS)


def load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise CorruptionError(f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise CorruptionError(f"cannot read {what} file {path} as a .npy array: {error}") from None


def load_images(path: Path) -> np.ndarray:
    """uint8 (N, 32, 32, 3) images from a .npy file, or a CorruptionError saying what is wrong."""
    images = load_npy(path, "images")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise CorruptionError(
            f"{path} must hold uint8 RGB images of shape (N, 32, 32, 3), channels last; "
            f"got {images.dtype} {images.shape}"
        )
    return images


def chosen_names(names: list[str] | None, family: str | None) -> list[str]:
    """The corruptions of --names (split at commas too) or of --family (default cifar10c)."""
    if names is not None and family is not None:
        raise CorruptionError("--names and --family both choose the corruptions: give one of them")
    if names is None:
        return list(select(family or "cifar10c"))
    chosen = [part for item in names for part in item.split(",") if part]
    if not chosen:
        raise CorruptionError("--names needs at least one corruption name")
    for name in chosen:
        lookup(name)
    return chosen
