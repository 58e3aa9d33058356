import numpy as np
import pytest

from benchmark.accuracy.testsets import check_pairing, chosen_indices, iter_cells
from benchmark.config import PRESETS, BenchmarkConfig
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
    assert (config.per_class, config.clean_per_class) == (100, 0)  # 1,000 images per cell, all 10,000 clean
    assert config.resolved_concurrency() >= 16  # two server batches of 8 in flight


def official_like_folder(folder, images, labels):
    """The released layout (no cifar10c.json): here the 'corruption' is the identity, so each row
    shows which clean image it was made from."""
    folder.mkdir()
    np.save(folder / "fog.npy", np.concatenate([images] * 5))
    np.save(folder / "labels.npy", np.tile(labels.astype(np.uint8), 5))
    return folder


def test_our_folder_made_from_these_images_pairs_row_by_row(tmp_path):
    from robustcifar.corruptions import corrupt, write_cifar10c

    data = fake_test_set(10)
    folder = write_cifar10c(data.test_images, tmp_path / "c", ["fog"], [2], labels=data.test_labels,
                            progress=False, source={"test_set_digest": data.test_set_digest()})
    pairing = check_pairing(data, folder)
    assert pairing.paired
    clean, fog = iter_cells(data, ["fog"], [2], per_class=3, seed=0, cifar10c=folder, pairing=pairing)
    rows = chosen_indices(data.test_labels, 3, 0)  # the clean cell's test images
    assert np.array_equal(clean.images, data.test_images[rows])
    assert np.array_equal(fog.images, corrupt(data.test_images, "fog", 2, seed=0)[rows])  # row i: test image i
    assert np.array_equal(fog.labels, clean.labels)


def test_a_folder_of_ours_made_from_other_images_is_refused_as_stale(tmp_path):
    from robustcifar.corruptions import CorruptionError, write_cifar10c

    data, other = fake_test_set(10), fake_test_set(10)
    other.test_images = other.test_images[::-1].copy()
    folder = write_cifar10c(other.test_images, tmp_path / "c", ["fog"], [1], labels=other.test_labels,
                            progress=False, source={"test_set_digest": other.test_set_digest()})
    with pytest.raises(CorruptionError, match="stale"):
        check_pairing(data, folder)
    with pytest.raises(CorruptionError, match="other test images"):  # and never mixed into one folder
        write_cifar10c(data.test_images, folder, ["gaussian_noise"], [1], labels=data.test_labels,
                       progress=False, source={"test_set_digest": data.test_set_digest()})


def test_the_official_release_pairs_only_with_the_test_set_in_its_order(tmp_path):
    data = fake_test_set(10)
    same_order = official_like_folder(tmp_path / "official", data.test_images, data.test_labels)
    assert check_pairing(data, same_order).paired
    order = np.random.default_rng(1).permutation(len(data.test_labels))  # the JPEG copy's own order
    shuffled = official_like_folder(tmp_path / "shuffled", data.test_images[order], data.test_labels[order])
    pairing = check_pairing(data, shuffled)
    assert not pairing.paired and "cannot be paired" in pairing.note
    _, fog = iter_cells(data, ["fog"], [1], per_class=3, seed=0, cifar10c=shuffled, pairing=pairing)
    # the corrupted cell is class-balanced by the folder's own labels, and each label is its image's
    assert np.bincount(fog.labels).tolist() == [3] * 10
    for image, label in zip(fog.images, fog.labels):
        (row,) = np.flatnonzero((data.test_images == image).all(axis=(1, 2, 3)))
        assert data.test_labels[row] == label


def test_an_unpaired_run_has_no_relative_ce():
    from benchmark.accuracy.outcomes import Outcomes
    from benchmark.accuracy.summary import summarise

    outcomes = Outcomes(["clean", "fog"], [0, 1], np.arange(4) % 10)
    rng = np.random.default_rng(0)
    for model in ("ce_clean", "ce_corrupted"):
        outcomes.correct[model] = rng.uniform(size=(2, 4)) < 0.6
        outcomes.failed[model] = np.zeros((2, 4), bool)
    paired = summarise(outcomes, resamples=50)["ce_corrupted"]
    outcomes.paired = False
    unpaired = summarise(outcomes, resamples=50)["ce_corrupted"]
    assert unpaired["relative_mce"] is None and unpaired["per_corruption"]["fog"]["relative_ce"] is None
    assert unpaired["mce"] == paired["mce"]  # a CE compares corrupted cells only: still defined


def test_a_folder_of_300_images_in_another_order_pairs_each_row_with_its_original(tmp_path):
    from robustcifar.corruptions import corrupt, open_cifar10c, write_cifar10c
    from robustcifar.errors import UsageError

    data = fake_test_set(100)
    chosen = chosen_indices(data.test_labels, 30, 0)
    order = np.random.default_rng(2).permutation(chosen)  # 300 images, not in the clean set's order
    folder = write_cifar10c(data.test_images[order], tmp_path / "c", ["fog"], [1, 3], labels=data.test_labels[order],
                            progress=False, source={"test_set_digest": data.test_set_digest(),
                                                    "test_indices": order.tolist()})
    pairing = check_pairing(data, folder)
    assert pairing.paired and "300 of these test images" in pairing.note
    clean, fog1, fog3 = iter_cells(data, ["fog"], [1, 3], per_class=30, seed=0, cifar10c=folder, pairing=pairing)
    stored = open_cifar10c(folder).images("fog", 3)
    expected = corrupt(data.test_images[order], "fog", 3, seed=0)
    assert np.array_equal(stored, expected)
    for k, test_index in enumerate(chosen):  # the k-th image of every cell is test image chosen[k]
        row = int(np.flatnonzero(order == test_index)[0])
        assert np.array_equal(fog3.images[k], expected[row])
        assert np.array_equal(clean.images[k], data.test_images[test_index])
    assert np.array_equal(fog1.labels, clean.labels)
    with pytest.raises(UsageError, match="holds 300 of the test images"):
        list(iter_cells(data, ["fog"], [1], per_class=40, seed=0, cifar10c=folder, pairing=pairing))


def test_the_default_family_is_all_29_and_a_bad_one_is_refused():
    from robustcifar.corruptions import ALL_CORRUPTIONS, CBAR_CORRUPTIONS, CorruptionError

    assert BenchmarkConfig().resolved_corruptions() == [*ALL_CORRUPTIONS, *CBAR_CORRUPTIONS]
    assert parse_config(BenchmarkConfig, ["--family", "cbar"]).resolved_corruptions() == list(CBAR_CORRUPTIONS)
    named = parse_config(BenchmarkConfig, ["--family", "cbar", "--corruptions", "fog", "ripple"])
    assert named.resolved_corruptions() == ["fog", "ripple"]  # names win over the family
    with pytest.raises(CorruptionError, match="unknown family"):
        parse_config(BenchmarkConfig, ["--family", "cifar100c"]).resolved_corruptions()
    with pytest.raises(CorruptionError, match="unknown corruption"):
        parse_config(BenchmarkConfig, ["--corruptions", "rippel"]).resolved_corruptions()


def test_c_bar_beside_a_cifar10c_folder_is_generated_from_the_same_images(tmp_path):
    """A folder of CIFAR-10-C's corruptions only: its cells come from it, C-bar's are made on the fly from
    the very test images its rows hold, so every cell stays paired with the clean one."""
    from robustcifar.corruptions import corrupt, write_cifar10c

    data = fake_test_set(10)
    folder = write_cifar10c(data.test_images, tmp_path / "c", ["fog"], [2], labels=data.test_labels,
                            progress=False, source={"test_set_digest": data.test_set_digest()})
    clean, fog, ripple = iter_cells(data, ["fog", "ripple"], [2], per_class=3, seed=0, cifar10c=folder)
    rows = chosen_indices(data.test_labels, 3, 0)
    assert np.array_equal(fog.images, corrupt(data.test_images, "fog", 2, seed=0)[rows])
    assert np.array_equal(ripple.images, corrupt(data.test_images[rows], "ripple", 2, seed=0))
    assert np.array_equal(ripple.test_index, clean.test_index) and np.array_equal(ripple.labels, clean.labels)


def test_c_bar_is_not_generated_beside_an_unpaired_folder(tmp_path):
    from robustcifar.errors import UsageError

    data = fake_test_set(10)
    shuffled = np.random.default_rng(0).permutation(len(data.test_labels))
    folder = official_like_folder(tmp_path / "c", data.test_images[shuffled], data.test_labels[shuffled])
    with pytest.raises(UsageError, match="not paired"):
        iter_cells(data, ["fog", "ripple"], [1], per_class=3, seed=0, cifar10c=folder)
