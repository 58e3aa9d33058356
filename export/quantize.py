"""`python -m export quantize [--models all] [--seeds ...]`: an int8 copy of each exported model.

For every model (ours, a seed's run, or an imported classifier) it writes artifacts/<name>_int8/:
model.onnx quantized statically by onnxruntime (QDQ format, int8 weights per output channel, uint8
activations, calibrated on --calibration-images class-balanced images of the model's own training
split, never test images), meta.json (the original's, with `quantized`: the method, the
calibration images, the source file's hash and the parity below), gallery.npz for an embedder
(its training images embedded by the int8 file itself, so the kNN vote compares like with like),
and parity.json: the int8 file against its float32 original on clean test images (agreement of
the predicted labels, largest difference of the probabilities or embeddings). The input contract
(uint8 RGB pixels) and the outputs are the original's, so it is served and benchmarked by name
like any model (`MODELS=ce_clean,ce_clean_int8`, `--baseline ce_clean`).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robustcifar.artifacts import ModelArtifacts, ModelMeta, sha256_file
from robustcifar.checkpoint import load_checkpoint
from robustcifar.classes import NUM_CLASSES
from robustcifar.config import shared_field
from robustcifar.datasets import (
    CifarArrays,
    balanced_subset,
    capped_balanced_indices,
    training_selection,
)
from robustcifar.errors import UsageError
from robustcifar.gallery import Gallery
from robustcifar.knn import knn_classify
from robustcifar.model_specs import INT8_SUFFIX, RunName
from robustcifar.onnx_model import OnnxModel
from robustcifar.predictions import softmax
from robustcifar.provenance import git_commit

from .gallery_builder import build_gallery

METHODS = ("minmax", "entropy", "percentile")
BATCH = 250


@dataclass
class QuantizeConfig:
    models: str = shared_field("models")
    seeds: str = shared_field("seeds")
    artifacts: Path | None = shared_field("artifacts")
    data: str = shared_field("data", help="CIFAR-10 source for calibration, the gallery and the parity check")
    data_dir: Path | None = shared_field("data_dir")
    calibration_images: int = field(default=128, metadata={
        "help": "class-balanced images of the model's training split that calibrate the activations (min-max "
                "ranges widen with more: of 128, 256 and 1,024, 128 agreed best with the study's float32 ce_clean)"})
    method: str = field(default="minmax", metadata={"help": f"calibration: {', '.join(METHODS)}"})
    parity_images: int = field(default=10000, metadata={"help": "clean test images compared with the float32 file"})
    progress: bool = shared_field("progress")


def selection_of(artifacts: ModelArtifacts, meta: ModelMeta) -> dict | None:
    """Which training images the model was trained on (and its gallery holds): from meta.json, or from
    the checkpoint for files exported before meta.json recorded it; None for an imported model."""
    if meta.selection:
        return meta.selection
    if artifacts.checkpoint.is_file():
        return load_checkpoint(artifacts.checkpoint)[1]["extra"]["selection"]
    return None


def calibration_images(data: CifarArrays, selection: dict | None, count: int) -> np.ndarray:
    """Class-balanced training images: of the model's training split when known, else of the training set."""
    if selection is None:
        index = np.arange(len(data.train_labels))
    else:
        index, _ = training_selection(data.train_labels, selection["train_fraction"], selection["max_train_images"],
                                      selection["seed"])
    keep = capped_balanced_indices(data.train_labels[index], count, 0)
    return data.train_images[index[keep]]


CALIBRATION_BATCH = 32


class _Reader:
    """onnxruntime's calibration data reader: the images in batches of one size (the histogram methods
    stack them), the ragged tail left out."""

    def __init__(self, images: np.ndarray, input_name: str) -> None:
        whole = len(images) // CALIBRATION_BATCH * CALIBRATION_BATCH
        if whole == 0:
            raise UsageError(f"calibration needs at least {CALIBRATION_BATCH} images, got {len(images)}")
        self.batches = iter([{input_name: images[i:i + CALIBRATION_BATCH]} for i in range(0, whole, CALIBRATION_BATCH)])

    def get_next(self):
        return next(self.batches, None)

    def rewind(self):  # onnxruntime asks for it with some calibration methods; one pass is enough here
        pass


def quantize_file(source: Path, target: Path, images: np.ndarray, input_name: str, method: str) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(images, input_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))  # shape inference and graph optimisation first
        quantize_static(str(prepared), str(target), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                        calibrate_method=methods[method])


@dataclass
class Parity:
    images: int
    label_agreement: float
    max_abs_diff: float  # of the probabilities (classifier) or the embeddings (embedder)
    float_accuracy: float
    int8_accuracy: float


def labels_and_outputs(model: OnnxModel, images: np.ndarray, gallery: Gallery | None, knn_k: int | None,
                       progress: bool, what: str) -> tuple[np.ndarray, np.ndarray]:
    outputs = np.concatenate([model.run(images[i:i + BATCH]) for i in tqdm(
        range(0, len(images), BATCH), desc=what, unit="batch", disable=not progress, leave=False)])
    if gallery is None:
        probabilities = softmax(outputs.astype(np.float64))
        return probabilities.argmax(axis=1), probabilities
    return knn_classify(outputs, gallery.embeddings, gallery.labels, knn_k, NUM_CLASSES).labels, outputs


def quantize_model(name: str, config: QuantizeConfig, data: CifarArrays) -> tuple[ModelMeta, Parity]:
    source = ModelArtifacts.for_model(name, config.artifacts)
    if not source.onnx.is_file() or not source.meta.is_file():
        raise UsageError(f"{source.model_dir} holds no exported model: `make export` (or import) it first")
    meta = ModelMeta.load(source.meta)
    target = ModelArtifacts.for_model(name + INT8_SUFFIX, config.artifacts)
    selection = selection_of(source, meta)
    calibration = calibration_images(data, selection, config.calibration_images)
    quantize_file(source.onnx, target.onnx, calibration, meta.input_name, config.method)
    original, quantized = OnnxModel(source.onnx), OnnxModel(target.onnx)
    gallery = gallery_int8 = None
    if meta.kind == "embedder":
        if selection is None:
            raise UsageError(f"{name}: an embedder's int8 copy needs its training selection (its model.pt)")
        gallery = Gallery.load(source.gallery)
        gallery_int8 = build_gallery(quantized, data, selection, config.progress)
        gallery_int8.save(target.gallery)
    picks = balanced_subset(data.test_labels, max(1, config.parity_images // NUM_CLASSES), seed=0)
    images, labels = data.test_images[picks], data.test_labels[picks]
    a_labels, a_out = labels_and_outputs(original, images, gallery, meta.knn_k, config.progress, f"{name} float32")
    b_labels, b_out = labels_and_outputs(quantized, images, gallery_int8, meta.knn_k, config.progress, f"{name} int8")
    parity = Parity(len(picks), float(np.mean(a_labels == b_labels)), float(np.max(np.abs(a_out - b_out))),
                    float(np.mean(a_labels == labels)), float(np.mean(b_labels == labels)))
    quantized_meta = dataclasses.replace(
        meta, name=target.name, onnx_sha256=sha256_file(target.onnx), git_commit=git_commit(),
        quantized={"from": name, "from_sha256": meta.onnx_sha256, "format": "QDQ", "weights": "int8, per channel",
                   "activations": "uint8", "calibration": config.method,
                   "calibration_images": int(len(calibration) // CALIBRATION_BATCH * CALIBRATION_BATCH),
                   "calibration_source": "the model's training split" if selection else "the training set",
                   "parity": dataclasses.asdict(parity)})
    quantized_meta.save(target.meta)
    from robustcifar.provenance import write_json

    write_json(target.model_dir / "parity.json", {"model": target.name, "from": name, **dataclasses.asdict(parity)})
    return quantized_meta, parity


def quantize_main(config: QuantizeConfig, names: list[str], data: CifarArrays) -> None:
    if config.method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, got {config.method!r}")
    for name in names:
        run = RunName.parse(name)
        if run is not None and run.int8:
            raise UsageError(f"{name} is already an int8 copy")
        meta, parity = quantize_model(name, config, data)
        size = ModelArtifacts.for_model(meta.name, config.artifacts).onnx.stat().st_size / 1e6
        print(f"[quantize] {meta.name}: {size:.1f} MB; on {parity.images} clean test images its labels agree with "
              f"{name}'s for {100 * parity.label_agreement:.2f}% (accuracy {100 * parity.float_accuracy:.1f}% -> "
              f"{100 * parity.int8_accuracy:.1f}%), largest output difference {parity.max_abs_diff:.3g}", flush=True)
