"""int8 copies (python -m export quantize): calibrated on training images only, answering as their float32
originals do (up to quantization), served under <name>_int8 with the same contract; embedders get a
gallery embedded by the int8 file itself."""

from __future__ import annotations

import numpy as np
import pytest
from fakedata import synthetic_images
from fakeserving import write_tiny_model

from export.__main__ import main
from export.quantize import QuantizeConfig, calibration_images, quantize_main
from robustcifar.artifacts import ModelArtifacts, ModelMeta, imported_models
from robustcifar.datasets import CifarArrays, training_selection
from robustcifar.errors import UsageError
from robustcifar.gallery import Gallery
from robustcifar.model_specs import RunName, resolve_model_names
from robustcifar.onnx_model import OnnxModel

SELECTION = {"train_fraction": 0.5, "max_train_images": 0, "seed": 0, "knn_gallery_max": 0, "knn_k": 5}


def data(per_class_train: int = 40, per_class_test: int = 20) -> CifarArrays:
    """Images whose colour depends on the class: the tiny models' embeddings are then far apart."""
    train_images, train_labels = synthetic_images(per_class_train, seed=0)
    test_images, test_labels = synthetic_images(per_class_test, seed=1)
    return CifarArrays(train_images, train_labels, test_images, test_labels, "synthetic", "image_folder")


def test_calibration_images_come_from_the_training_split_only():
    cifar = data()
    images = calibration_images(cifar, SELECTION, 100)
    train_idx, _ = training_selection(cifar.train_labels, 0.5, 0, 0)
    allowed = {cifar.train_images[i].tobytes() for i in train_idx}
    tests = {image.tobytes() for image in cifar.test_images}
    assert len(images) == 100 and all(im.tobytes() in allowed and im.tobytes() not in tests for im in images)


@pytest.fixture
def exported(tmp_path):
    """As `make export` leaves them: the embedder's gallery is its own embedding of its training split."""
    from export.gallery_builder import build_gallery

    for name, kind in (("ce_clean", "classifier"), ("angular", "embedder")):
        artifacts = write_tiny_model(tmp_path, name, kind)
        meta = ModelMeta.load(artifacts.meta)
        meta.selection = dict(SELECTION)
        meta.save(artifacts.meta)
        if kind == "embedder":
            build_gallery(OnnxModel(artifacts.onnx), data(), SELECTION, progress=False).save(artifacts.gallery)
    return tmp_path


def test_int8_copies_answer_as_their_originals(exported):
    cifar = data()
    config = QuantizeConfig(artifacts=exported, calibration_images=64, parity_images=200, progress=False)
    quantize_main(config, ["ce_clean", "angular"], cifar)
    for name in ("ce_clean", "angular"):
        target = ModelArtifacts.for_model(f"{name}_int8", exported)
        meta = ModelMeta.load(target.meta)
        assert meta.name == f"{name}_int8" and meta.quantized["from"] == name and meta.input_name == "pixels"
        assert meta.quantized["calibration_source"] == "the model's training split"
        assert meta.quantized["parity"]["label_agreement"] >= 0.9
        original = OnnxModel(ModelArtifacts.for_model(name, exported).onnx).run(cifar.test_images[:20])
        quantized = OnnxModel(target.onnx).run(cifar.test_images[:20])
        assert quantized.shape == original.shape and quantized.dtype == np.float32
        assert target.onnx.stat().st_size > 0
    assert Gallery.load(ModelArtifacts.for_model("angular_int8", exported).gallery).embeddings.shape[1] == 128
    assert RunName.parse("angular_int8").float_run == RunName("angular")
    assert resolve_model_names("ce_clean,ce_clean_int8") == ["ce_clean", "ce_clean_int8"]


def test_an_int8_copy_is_not_quantized_again(exported):
    with pytest.raises(UsageError, match="already an int8 copy"):
        quantize_main(QuantizeConfig(artifacts=exported, progress=False), ["ce_clean_int8"], data())


def test_bad_options_and_missing_models_are_usage_errors(exported, capsys):
    assert main(["quantize", "--artifacts", str(exported), "--models", "ce_corrupted", "--data", "nowhere"]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(UsageError, match="--method"):
        quantize_main(QuantizeConfig(artifacts=exported, method="magic", progress=False), ["ce_clean"], data())
    with pytest.raises(UsageError, match="holds no exported model"):
        quantize_main(QuantizeConfig(artifacts=exported, progress=False), ["ce_corrupted"], data())
    assert imported_models(exported) == []
