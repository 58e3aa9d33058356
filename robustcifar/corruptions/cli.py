"""Command-line plumbing shared by ``python -m robustcifar.corruptions`` and ``... .grid``:
errors as one line on stderr with a non-zero exit (never a traceback), and checked .npy inputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np

from robustcifar.corruptions.registry import CorruptionError

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
