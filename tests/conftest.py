"""Shared fixtures (the data helpers themselves are in fakedata.py, importable by tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakedata import write_image_folder


@pytest.fixture(scope="session")
def tiny_image_folder(tmp_path_factory) -> Path:
    """train/ 30 per class, test/ 10 per class, PNG files."""
    return write_image_folder(tmp_path_factory.mktemp("tiny_cifar"), n_train=30, n_test=10)
