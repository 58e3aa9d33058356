"""corrupt() on every registered corruption: types, shapes, determinism and bad arguments."""

import numpy as np
import pytest
import torch

from robustcifar.corruptions import ALL_CORRUPTIONS, CorruptionError, corrupt
from robustcifar.corruptions.registry import REGISTRY

REGISTERED = [name for name in ALL_CORRUPTIONS if name in REGISTRY]


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", REGISTERED)
def test_numpy_in_numpy_out(images, name, severity):
    out = corrupt(images, name, severity, seed=1)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.uint8 and out.shape == images.shape


@pytest.mark.parametrize("name", REGISTERED)
def test_tensor_in_tensor_out_and_deterministic(images, name):
    tensor = torch.from_numpy(images)
    first = corrupt(tensor, name, 3, seed=5)
    assert isinstance(first, torch.Tensor)
    assert first.dtype == torch.uint8 and first.device == tensor.device
    assert torch.equal(first, corrupt(tensor, name, 3, seed=5))
    assert np.array_equal(first.numpy(), corrupt(images, name, 3, seed=5))


@pytest.mark.parametrize(
    ("name", "severity", "message"),
    [
        ("fog_of_war", 1, "unknown corruption"),
        ("gaussian_noise", 0, "1, 2, 3, 4, 5"),
        ("gaussian_noise", 6, "1, 2, 3, 4, 5"),
        ("gaussian_noise", 2.0, "integer"),
    ],
)
def test_bad_name_or_severity(images, name, severity, message):
    with pytest.raises(CorruptionError, match=message):
        corrupt(images, name, severity)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 32, 32, 3), np.float32),
        np.zeros((32, 32, 3), np.uint8),
        np.zeros((2, 3, 32, 32), np.uint8),
        np.zeros((2, 28, 28, 3), np.uint8),
        [[0]],
    ],
)
def test_bad_images(bad):
    with pytest.raises(CorruptionError, match=r"\(N, 32, 32, 3\)"):
        corrupt(bad, "gaussian_noise", 1)
