"""corrupt() and corrupt_random() on every corruption: types, shapes, values, seeding, arguments."""

import numpy as np
import pytest
import torch

from robustcifar.corruptions import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    KNOWN_CORRUPTIONS,
    SEVERITIES,
    CorruptionError,
    corrupt,
    corrupt_random,
)
from robustcifar.corruptions.batch import CHUNK_SIZE
from robustcifar.corruptions.registry import BENCHMARK, EXTRA, REGISTRY

# CIFAR-10-C's 19 here; CIFAR-10-C-bar's 10 have the same checks in test_cbar.py.
RANDOM = [name for name in ALL_CORRUPTIONS if REGISTRY[name].random]
DETERMINISTIC = [name for name in ALL_CORRUPTIONS if not REGISTRY[name].random]
# The spec: these do not get monotonically further from the clean image with severity.
NOT_MONOTONIC = {"elastic_transform", "glass_blur", "spatter", "saturate", "frost"}


def test_registry_holds_the_19_in_the_spec_order():
    assert BENCHMARK_CORRUPTIONS[:3] == ("gaussian_noise", "shot_noise", "impulse_noise")
    assert BENCHMARK_CORRUPTIONS[-1] == "jpeg_compression" and len(BENCHMARK_CORRUPTIONS) == 15
    assert EXTRA_CORRUPTIONS == ("speckle_noise", "gaussian_blur", "spatter", "saturate")
    assert ALL_CORRUPTIONS == BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
    assert SEVERITIES == (1, 2, 3, 4, 5)
    assert sorted(REGISTRY) == sorted(KNOWN_CORRUPTIONS)  # the 19 and CIFAR-10-C-bar's 10
    for name in ALL_CORRUPTIONS:
        entry = REGISTRY[name]
        assert entry.group == (BENCHMARK if name in BENCHMARK_CORRUPTIONS else EXTRA)
        assert len(entry.severities) == 5
    assert set(DETERMINISTIC) == {
        "defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate",
        "jpeg_compression", "gaussian_blur", "saturate",
    }  # fmt: skip


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_numpy_in_numpy_out(images, name, severity):
    out = corrupt(images, name, severity, seed=1)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert not np.shares_memory(out, images)
    assert not np.array_equal(out, images), "the corruption changed nothing"


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_tensor_in_tensor_out_and_deterministic(images, name):
    tensor = torch.from_numpy(images)
    first = corrupt(tensor, name, 3, seed=5)
    assert isinstance(first, torch.Tensor)
    assert first.dtype == torch.uint8 and first.device == tensor.device
    assert first.shape == tensor.shape
    assert torch.equal(first, corrupt(tensor, name, 3, seed=5))
    assert np.array_equal(first.numpy(), corrupt(images, name, 3, seed=5))
    assert torch.equal(tensor, torch.from_numpy(images)), "the input was modified"


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_empty_and_single_image_batches(images, name):
    empty = corrupt(images[:0], name, 2)
    assert empty.shape == (0, 32, 32, 3) and empty.dtype == np.uint8
    single = corrupt(images[:1], name, 2)
    assert single.shape == (1, 32, 32, 3)


@pytest.mark.parametrize("name", RANDOM)
def test_random_corruptions_depend_on_the_seed(images, name):
    for severity in SEVERITIES:
        assert not np.array_equal(
            corrupt(images, name, severity, 0), corrupt(images, name, severity, 1)
        )


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_corruptions_ignore_the_seed(images, name):
    assert np.array_equal(corrupt(images, name, 4, 0), corrupt(images, name, 4, 123))


@pytest.mark.parametrize("name", RANDOM)
def test_each_image_gets_its_own_draws(images, name):
    twins = np.stack([images[0], images[0]])
    for severity in SEVERITIES:
        first, second = corrupt(twins, name, severity, seed=2)
        assert not np.array_equal(first, second), f"severity {severity}: same draws for both"


@pytest.mark.parametrize("name", sorted(set(ALL_CORRUPTIONS) - NOT_MONOTONIC))
def test_severity_5_is_further_from_clean_than_severity_1(images, name):
    def distance(severity):
        return np.abs(corrupt(images, name, severity, 0).astype(float) - images).mean()

    assert distance(5) > distance(1)


def test_batches_longer_than_a_chunk(images):
    many = np.concatenate([images] * (CHUNK_SIZE // len(images) + 2))
    assert len(many) > CHUNK_SIZE
    out = corrupt(many, "gaussian_noise", 1, seed=0)
    assert out.shape == many.shape
    # Chunks draw from different streams: the repeated images are not corrupted alike.
    assert not np.array_equal(out[: len(images)], out[CHUNK_SIZE : CHUNK_SIZE + len(images)])
    assert np.array_equal(corrupt(many, "contrast", 3)[-1], corrupt(images[-1:], "contrast", 3)[0])


def test_values_are_rounded_not_truncated():
    grey = np.full((1, 32, 32, 3), 100, np.uint8)
    # contrast keeps a flat image as it is: 100/255 -> x255 must come back as 100 exactly,
    # and brightness adds .05 * 255 = 12.75 grey levels to V, which rounds to 113.
    assert np.all(corrupt(grey, "contrast", 5) == 100)
    assert np.all(corrupt(grey, "brightness", 1) == 113)


@pytest.mark.parametrize(
    ("name", "severity", "message"),
    [
        ("fog_of_war", 1, "unknown corruption 'fog_of_war'; allowed: gaussian_noise, "),
        (3, 1, "unknown corruption"),
        ("gaussian_noise", 0, "1, 2, 3, 4, 5"),
        ("gaussian_noise", 6, "1, 2, 3, 4, 5"),
        ("gaussian_noise", 2.0, "integer in 1-5"),
        ("gaussian_noise", True, "integer in 1-5"),
    ],
)
def test_bad_name_or_severity(images, name, severity, message):
    with pytest.raises(CorruptionError, match=message):
        corrupt(images, name, severity)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_bad_seed(images, seed):
    with pytest.raises(CorruptionError, match="seed"):
        corrupt(images, "gaussian_noise", 1, seed=seed)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 32, 32, 3), np.float32),
        torch.zeros((2, 32, 32, 3), dtype=torch.float32),
        np.zeros((2, 32, 32, 3), np.int64),
        np.zeros((32, 32, 3), np.uint8),
        np.zeros((2, 3, 32, 32), np.uint8),
        np.zeros((2, 28, 28, 3), np.uint8),
        np.zeros((2, 32, 32, 4), np.uint8),
        [[0]],
    ],
)
def test_bad_images(bad):
    with pytest.raises(CorruptionError, match=r"\(N, 32, 32, 3\)"):
        corrupt(bad, "gaussian_noise", 1)
    assert issubclass(CorruptionError, ValueError)


def test_corrupt_random_draws_a_name_and_severity_per_image(images):
    pool = ["gaussian_noise", "contrast", "frost"]
    many = np.concatenate([images] * 10)
    out, which, severity = corrupt_random(many, pool, [2, 5], seed=3)
    assert out.shape == many.shape and out.dtype == np.uint8
    assert which.shape == severity.shape == (len(many),)
    assert set(which.tolist()) == {0, 1, 2} and set(severity.tolist()) == {2, 5}
    for i in range(len(many)):
        expected = corrupt(many[i : i + 1], pool[which[i]], int(severity[i]), seed=3)
        if not REGISTRY[pool[which[i]]].random:  # random ones draw per group, not per image
            assert np.array_equal(out[i], expected[0])
        assert not np.array_equal(out[i], many[i])
    again = corrupt_random(many, pool, [2, 5], seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (out, which, severity)))
    other = corrupt_random(many, pool, [2, 5], seed=4)
    assert not np.array_equal(other[1], which)


def test_corrupt_random_keeps_tensors(images):
    out, which, severity = corrupt_random(torch.from_numpy(images), ["fog"], [1, 2, 3], seed=0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8
    assert which.dtype == torch.int64 and torch.all(which == 0)
    assert severity.dtype == torch.int64 and set(severity.tolist()) <= {1, 2, 3}


@pytest.mark.parametrize(
    ("names", "severities", "message"),
    [
        ([], [1], "names must be a non-empty"),
        ("fog", [1], "names must be a non-empty"),
        (["fog", "rain"], [1], "unknown corruption 'rain'"),
        (["fog"], [0], "1, 2, 3, 4, 5"),
        (["fog"], [], "severities must be a non-empty"),
    ],
)
def test_corrupt_random_bad_arguments(images, names, severities, message):
    with pytest.raises(CorruptionError, match=message):
        corrupt_random(images, names, severities, seed=0)
