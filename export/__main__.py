"""`python -m export [--models all]`: model.pt -> model.onnx (+ gallery.npz) + meta.json, checked.

`python -m export import --onnx FILE --name NAME [--layout ... --mean ... --std ...]` brings a
CIFAR-10 classifier of your own into artifacts/NAME/ in the same form (see export/importer.py;
`python -m export import --help` lists the options).

`python -m export quantize [--models ...]` writes an int8 copy of each, artifacts/<name>_int8/
(export/quantize.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.artifacts import ModelArtifacts, ModelMeta, imported_models, sha256_file
from robustcifar.checkpoint import load_checkpoint
from robustcifar.classes import CLASS_NAMES
from robustcifar.config import SHARED_FIELDS, parse_config, shared_field
from robustcifar.datasets import DataSourceError, balanced_subset, load_cifar10
from robustcifar.errors import UsageError
from robustcifar.model_specs import INT8_SUFFIX, RunName, get_spec, resolve_model_names
from robustcifar.onnx_model import OnnxModel
from robustcifar.provenance import git_commit, portable

from .gallery_builder import build_gallery
from .importer import ImportConfig, ModelImportError, import_model
from .importer import __doc__ as importer_doc
from .onnx_export import OPSET, export_onnx
from .parity import MAX_ABS_DIFF, check_parity
from .quantize import QuantizeConfig, quantize_main
from .quantize import __doc__ as quantize_doc


@dataclass
class ExportConfig:
    models: str = shared_field("models")
    seeds: str = shared_field("seeds")
    artifacts: Path | None = shared_field("artifacts")
    data: str = shared_field("data", help="CIFAR-10 source for the checks and the gallery: " + SHARED_FIELDS["data"][1])
    data_dir: Path | None = shared_field("data_dir")
    parity_images: int = field(default=100, metadata={"help": "test images compared between PyTorch and ONNX"})
    progress: bool = shared_field("progress")


class ExportError(RuntimeError):
    pass


def require_checkpoint(name: str, artifacts: ModelArtifacts) -> None:
    if not artifacts.checkpoint.is_file():
        raise ExportError(f"{artifacts.checkpoint} does not exist: train {name} first (make train MODEL={name})")


def export_model(name: str, config: ExportConfig, data) -> ModelMeta:
    artifacts = ModelArtifacts.for_model(name, config.artifacts)
    require_checkpoint(name, artifacts)
    model, info = load_checkpoint(artifacts.checkpoint)
    export_onnx(model, artifacts.onnx)
    onnx_model = OnnxModel(artifacts.onnx)
    picks = balanced_subset(data.test_labels, max(1, config.parity_images // len(CLASS_NAMES)), seed=0)
    parity = check_parity(model, onnx_model, data.test_images[picks])
    print(f"[export] {name}: ONNX vs PyTorch on {parity.n_images} test images: max |diff| "
          f"{parity.max_abs_diff:.2e} (limit {MAX_ABS_DIFF:.0e}), argmax agreement {parity.argmax_agreement:.3f}")
    if not parity.ok:
        raise ExportError(f"{name}: ONNX output differs from PyTorch by {parity.max_abs_diff:.2e}")
    selection = info["extra"]["selection"]
    meta = ModelMeta(
        name=name, kind=model.kind, class_names=list(CLASS_NAMES), output_name=model.output_name,
        onnx_sha256=sha256_file(artifacts.onnx), opset=OPSET, git_commit=git_commit(),
        data_source_kind=data.source_kind, trained_on_corrupted=get_spec(name).trained_on_corrupted,
        training_metrics=info["extra"].get("metrics", {}), selection=dict(selection),
    )
    if model.kind == "embedder":
        gallery = build_gallery(onnx_model, data, selection, config.progress)
        gallery.save(artifacts.gallery)
        meta.embedding_dim, meta.knn_k, meta.gallery_size = gallery.embeddings.shape[1], selection["knn_k"], len(gallery.labels)
        print(f"[export] {name}: gallery of {len(gallery.labels)} training images, k={meta.knn_k}")
    meta.save(artifacts.meta)
    return meta


def import_main(argv: list[str]) -> int:
    config = parse_config(ImportConfig, argv, importer_doc.split("\n\n")[0])
    try:
        report = import_model(config)
    except (ModelImportError, DataSourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    artifacts = ModelArtifacts.for_model(report.name, config.artifacts)
    print(f"[import] {report.name}: {100 * report.accuracy:.1f}% on {report.n_images} clean test images; the wrapped "
          f"model answers as the original file with numpy preprocessing (max |diff| {report.max_abs_diff:.1e})")
    print(f"[import] wrote {portable(str(artifacts.onnx))} and meta.json; serve it with `make serve MODELS=ce_clean,{report.name}` "
          f"and measure it with `make benchmark MODELS=ce_clean,{report.name}`")
    return 0


def quantize_command(argv: list[str]) -> int:
    config = parse_config(QuantizeConfig, argv, quantize_doc.split("\n\n")[0])
    try:
        names = [n for n in resolve_model_names(config.models, imported_models(config.artifacts), config.seeds)
                 if not n.endswith(INT8_SUFFIX)]
        quantize_main(config, names, load_cifar10(config.data, config.data_dir, progress=config.progress))
    except (UsageError, DataSourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["import"]:
        return import_main(argv[1:])
    if argv[:1] == ["quantize"]:
        return quantize_command(argv[1:])
    config = parse_config(ExportConfig, argv, __doc__)
    try:
        # imported models are already in their exported form
        names = [n for n in resolve_model_names(config.models, imported_models(config.artifacts), config.seeds)
                 if (run := RunName.parse(n)) is not None and not run.int8]
        for name in names:  # before minutes of data decoding
            require_checkpoint(name, ModelArtifacts.for_model(name, config.artifacts))
        data = load_cifar10(config.data, config.data_dir, progress=config.progress)
        for name in names:
            meta = export_model(name, config, data)
            size_mb = ModelArtifacts.for_model(name, config.artifacts).onnx.stat().st_size / 1e6
            print(f"[export] {name}: wrote model.onnx ({size_mb:.1f} MB, sha256 {meta.onnx_sha256[:12]}) and meta.json")
    except (UsageError, ExportError, DataSourceError) as exc:  # a bug keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
