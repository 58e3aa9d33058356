import numpy as np
import pytest

from benchmark.config import PRESETS, BenchmarkConfig
from benchmark.testsets import iter_cells
from robustcifar.config import parse_config
from robustcifar.datasets import CifarArrays


def fake_test_set(per_class: int) -> CifarArrays:
    rng = np.random.default_rng(0)
    n = 10 * per_class
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(10), per_class)
    return CifarArrays(images[:10], labels[:10], images, labels, "fake", "image_folder")


def test_study_cells_pair_every_corrupted_image_with_its_clean_original():
    data = fake_test_set(100)
    cells = list(iter_cells(data, ["gaussian_noise", "fog"], [1, 5], per_class=30, seed=0, clean_per_class=0))
    clean, corrupted = cells[0], cells[1:]
    assert len(clean.labels) == 1000 and len(corrupted) == 4
    assert all(len(c.labels) == 300 for c in corrupted)
    assert np.bincount(corrupted[0].labels).tolist() == [30] * 10  # class-balanced
    # the shared positions point at the same clean images the corrupted cells were made from
    originals = clean.images[clean.shared_positions]
    assert np.array_equal(clean.labels[clean.shared_positions], corrupted[0].labels)
    same = next(iter_cells(data, [], [], per_class=30, seed=0))  # the grid's own clean cell
    assert np.array_equal(originals, same.images)
    # and the cells are the same images in every cell: corrupting the originals again gives them
    from robustcifar.corruptions import corrupt
    assert np.array_equal(corrupt(originals, "fog", 5, seed=0), corrupted[3].images)


def test_clean_cell_must_hold_the_corrupted_cells_images():
    data = fake_test_set(100)
    with pytest.raises(ValueError, match="clean-per-class"):
        list(iter_cells(data, ["fog"], [1], per_class=30, seed=0, clean_per_class=20))
    same = list(iter_cells(data, ["fog"], [1], per_class=30, seed=0, clean_per_class=30))
    assert same[0].shared_positions is None


def test_study_preset_sizes():
    config = parse_config(BenchmarkConfig, ["--profile", "study"], presets=PRESETS)
    assert (config.per_class, config.clean_per_class) == (30, 0)  # 300 images per cell, all 10,000 clean
    assert config.concurrency >= 16  # two server batches of 8 in flight
