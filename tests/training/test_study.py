"""The study profile's arithmetic, and that a few training steps on real images really learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robustcifar.config import parse_config
from robustcifar.datasets import CifarArrays, load_cifar10
from robustcifar.model_specs import get_spec
from robustcifar.paths import shared_jpeg_tarball
from training.config import PRESETS, TrainConfig
from training.datasets import capped_sets, prepare_sets
from training.distributed import ProcessGroup
from training.trainer import train

CPU = ProcessGroup(0, 1, torch.device("cpu"))


def cifar_shaped(seed: int = 0) -> CifarArrays:
    """CIFAR-10's sizes (5,000 training and 1,000 test images per class) in shuffled order; blank images."""
    rng = np.random.default_rng(seed)
    train_labels = rng.permutation(np.repeat(np.arange(10), 5000))
    test_labels = rng.permutation(np.repeat(np.arange(10), 1000))
    return CifarArrays(np.zeros((50000, 32, 32, 3), np.uint8), train_labels, np.zeros((10000, 32, 32, 3), np.uint8),
                       test_labels, "synthetic", "image_folder")


def test_study_profile_splits_like_the_original_protocol():
    config = parse_config(TrainConfig, ["--profile", "study"], presets=PRESETS)
    sets = prepare_sets(config, cifar_shaped(), torch.device("cpu"))

    def per_class(part) -> list[int]:
        return np.bincount(part.labels.numpy(), minlength=10).tolist()

    # 20% of the training set trains, class-balanced; 5,000 of the other 40,000 validate
    assert per_class(sets.train) == [1000] * 10
    assert per_class(sets.val) == [500] * 10 and per_class(sets.corrupted_val) == [500] * 10
    assert per_class(sets.test) == [500] * 10
    assert len(sets.gallery) == 10000  # the kNN gallery is every training image
    # every epoch scores a class-balanced 1,000 of each held-out set
    epoch = capped_sets(sets, config.eval_max_images, config.seed)
    assert per_class(epoch.val) == [100] * 10 and per_class(epoch.corrupted_test) == [100] * 10
    assert torch.equal(epoch.val.labels, epoch.corrupted_val.labels)


def test_study_validation_images_were_never_trained_on():
    from robustcifar.datasets import training_selection

    data = cifar_shaped(1)
    config = parse_config(TrainConfig, ["--profile", "study"], presets=PRESETS)
    train_idx, val_idx = training_selection(data.train_labels, config.train_fraction, config.max_train_images,
                                            config.seed)
    assert len(train_idx) == 10000 and len(val_idx) == 40000
    assert not set(train_idx) & set(val_idx)


@pytest.fixture(scope="module")
def real_cifar(tmp_path_factory) -> CifarArrays:
    tarball = shared_jpeg_tarball()
    if not tarball.is_file():
        pytest.skip(f"the JPEG copy of CIFAR-10 is not at {tarball}")
    return load_cifar10(tarball, tmp_path_factory.mktemp("cifar"))


@pytest.mark.slow
def test_a_few_steps_on_real_images_learn(real_cifar):
    config = TrainConfig(models="ce_clean", train_fraction=1.0, max_train_images=1000, epochs=3, batch_size=50,
                         lr=0.05, warmup_fraction=0.2, eval_max_images=500, final_eval_images=500, progress=False,
                         device="cpu", umap_points=0)
    sets = prepare_sets(config, real_cifar, torch.device("cpu"))
    history = train(get_spec("ce_clean"), config, sets, CPU).history
    first, last = history[0], history[-1]
    # 500 held-out test images: chance is 10% (a 95% upper bound of about 13%)
    assert last["test_accuracy"] >= 0.2, history
    assert last["train_loss"] < first["train_loss"] - 0.1, history
