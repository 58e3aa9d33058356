import tarfile

import numpy as np
import pytest
from fakedata import write_image_folder, write_official_archive

from robustcifar.datasets import (
    DataSourceError,
    balanced_subset,
    balanced_train_val_split,
    load_cifar10,
    training_selection,
)


def test_balanced_split_is_class_balanced_disjoint_and_complete():
    labels = np.repeat(np.arange(10), 50)
    np.random.default_rng(0).shuffle(labels)
    train, val = balanced_train_val_split(labels, 0.2, seed=3)
    assert np.bincount(labels[train]).tolist() == [10] * 10
    assert np.bincount(labels[val]).tolist() == [40] * 10
    assert not set(train) & set(val)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(500))


def test_split_depends_on_seed_only():
    labels = np.repeat(np.arange(10), 20)
    a = balanced_train_val_split(labels, 0.5, seed=1)[0]
    b = balanced_train_val_split(labels, 0.5, seed=1)[0]
    c = balanced_train_val_split(labels, 0.5, seed=2)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_full_fraction_leaves_no_validation_and_bad_fraction_fails():
    labels = np.repeat(np.arange(10), 5)
    train, val = balanced_train_val_split(labels, 1.0)
    assert len(train) == 50 and len(val) == 0
    with pytest.raises(ValueError, match="train_fraction"):
        balanced_train_val_split(labels, 0.0)


def test_training_selection_caps_in_balance():
    labels = np.repeat(np.arange(10), 100)
    train, val = training_selection(labels, 0.5, max_train_images=100, seed=0)
    assert np.bincount(labels[train]).tolist() == [10] * 10
    assert len(val) == 500


def test_balanced_subset():
    labels = np.repeat(np.arange(10), 7)
    subset = balanced_subset(labels, 3, seed=0)
    assert np.bincount(labels[subset]).tolist() == [3] * 10


def test_official_archive_round_trip(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    images, labels = write_official_archive(archive, n_per_class=6)
    data = load_cifar10(archive, data_dir=tmp_path / "data")
    assert data.source_kind == "official"
    assert data.train_images.shape == (50, 32, 32, 3) and data.test_images.shape == (10, 32, 32, 3)
    # test_batch holds rows 5, 11, 17, ... of what was written, planes turned back into HWC
    assert np.array_equal(data.test_images, images[5::6]) and np.array_equal(data.test_labels, labels[5::6])
    assert np.array_equal(data.train_images[:10], images[0::6])


def test_image_folder_and_its_tarball_agree_and_are_cached(tmp_path):
    folder = write_image_folder(tmp_path / "folder", n_train=3, n_test=2)
    tarball = tmp_path / "cifar.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder / "train", arcname="cifar/train")
        tar.add(folder / "test", arcname="cifar/test")
    from_folder = load_cifar10(folder, data_dir=tmp_path / "data")
    from_tar = load_cifar10(tarball, data_dir=tmp_path / "data")
    assert from_folder.source_kind == from_tar.source_kind == "image_folder"
    assert np.array_equal(from_folder.train_images, from_tar.train_images)
    assert from_folder.train_labels.tolist() == sorted(from_folder.train_labels.tolist())
    assert len(list((tmp_path / "data" / "cache").glob("*.npz"))) == 2
    again = load_cifar10(tarball, data_dir=tmp_path / "data")
    assert np.array_equal(again.test_images, from_tar.test_images)


@pytest.mark.parametrize("as_tarball", [False, True])
def test_decoding_shows_its_bar_only_when_progress_is_on(tmp_path, capsys, as_tarball):
    source = write_image_folder(tmp_path / "folder", n_train=2, n_test=1)
    if as_tarball:
        with tarfile.open(tmp_path / "cifar.tar", "w") as tar:
            tar.add(source, arcname="cifar")
        source = tmp_path / "cifar.tar"
    load_cifar10(source, data_dir=tmp_path / "quiet", progress=False)
    assert "decode" not in capsys.readouterr().err
    load_cifar10(source, data_dir=tmp_path / "shown")
    assert f"decode {source.name}" in capsys.readouterr().err


def test_unusable_sources_give_clear_errors(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        load_cifar10(tmp_path / "missing.tar.gz", data_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="neither"):
        load_cifar10(tmp_path / "empty", data_dir=tmp_path)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not an archive")
    with pytest.raises(DataSourceError, match="not a CIFAR-10"):
        load_cifar10(junk, data_dir=tmp_path)


def test_no_source_and_no_network_is_a_clear_error(tmp_path, monkeypatch):
    from robustcifar.datasets import loader

    monkeypatch.setattr(loader, "shared_jpeg_tarball", lambda: tmp_path / "absent.tar.gz")

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(loader, "download_official", offline)
    with pytest.raises(DataSourceError, match="download failed"):
        load_cifar10(None, data_dir=tmp_path)
