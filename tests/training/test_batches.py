import numpy as np
import pytest

from training.batches import class_balanced_batches, shuffled_batches


def test_shuffled_batches_cover_each_image_once_per_epoch():
    batches = shuffled_batches(100, 25, epoch=0, seed=0)
    assert len(batches) == 4 and sorted(np.concatenate(batches).tolist()) == list(range(100))
    assert not np.array_equal(np.concatenate(batches), np.concatenate(shuffled_batches(100, 25, 1, 0)))


def test_class_balanced_batches_hold_m_images_of_every_class():
    labels = np.repeat(np.arange(10), 40)
    batches = class_balanced_batches(labels, 50, epoch=0, seed=0)
    assert len(batches) == 8
    for batch in batches:
        assert np.bincount(labels[batch], minlength=10).tolist() == [5] * 10
    assert sorted(np.concatenate(batches).tolist()) == list(range(400))  # each image once


def test_same_seed_and_epoch_give_the_same_batches():
    labels = np.repeat(np.arange(10), 10)
    a = class_balanced_batches(labels, 20, 3, 7)
    b = class_balanced_batches(labels, 20, 3, 7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_too_small_batches_are_rejected():
    with pytest.raises(ValueError, match="fewer than 2"):
        class_balanced_batches(np.repeat(np.arange(10), 5), 10, 0, 0)
