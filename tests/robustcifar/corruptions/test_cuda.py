"""CPU and CUDA give the same images up to float rounding (runs only where torch sees a GPU)."""

import numpy as np
import pytest
import torch

from robustcifar.corruptions import KNOWN_CORRUPTIONS, corrupt, corrupt_random

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# These threshold float values drawn from noise; a value within float rounding of the threshold
# can fall on the other side on the GPU and change a few pixels by more than one level.
THRESHOLDED = {"snow", "spatter", "blue_noise_sample"}


@pytest.mark.parametrize("name", KNOWN_CORRUPTIONS)
def test_cuda_matches_cpu(images, name):
    for severity in (1, 3, 5):
        on_cpu = corrupt(torch.from_numpy(images), name, severity, seed=11)
        on_gpu = corrupt(torch.from_numpy(images).cuda(), name, severity, seed=11)
        assert on_gpu.device.type == "cuda" and on_gpu.dtype == torch.uint8
        difference = (on_gpu.cpu().int() - on_cpu.int()).abs()
        # The same draws on both devices: only float rounding differs.
        assert (difference > 0).float().mean() < 0.01
        if name in THRESHOLDED:
            assert (difference > 1).float().mean() < 0.001
        else:
            assert difference.max() <= 1, f"{name} {severity}: {difference.max()} levels"


def test_corrupt_random_on_cuda(images):
    pool = ["fog", "jpeg_compression"]
    out, which, severity = corrupt_random(torch.from_numpy(images).cuda(), pool, [2], seed=0)
    assert out.device.type == which.device.type == severity.device.type == "cuda"
    jpeg = (which == 1).cpu().numpy()
    expected = corrupt(images, "jpeg_compression", 2)
    assert np.array_equal(out.cpu().numpy()[jpeg], expected[jpeg])
