"""The artifact format: what each part leaves in `artifacts/<model>/` for the next one.

    artifacts/<model>/model.pt       training -> export      (see checkpoint.py)
    artifacts/<model>/model.onnx     export   -> serve, benchmark
    artifacts/<model>/meta.json      export   -> serve, benchmark (ModelMeta below)
    artifacts/<model>/gallery.npz    export   -> serve (embedders only; see gallery.py)
    artifacts/<model>/train/         training outputs: metrics, curves, UMAP plots, config
    artifacts/model-store/<model>.mar  TorchServe archives built by serve/
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .file_digest import file_digest
from .paths import artifacts_dir

INPUT_NAME = "pixels"
META_VERSION = 1


@dataclass(frozen=True)
class ModelArtifacts:
    """Paths of one model's files. Pure path arithmetic: nothing is read or created here."""

    root: Path
    name: str

    @classmethod
    def for_model(cls, name: str, root: Path | None = None) -> ModelArtifacts:
        return cls(Path(root) if root else artifacts_dir(), name)

    @property
    def model_dir(self) -> Path:
        return self.root / self.name

    @property
    def checkpoint(self) -> Path:
        return self.model_dir / "model.pt"

    @property
    def onnx(self) -> Path:
        return self.model_dir / "model.onnx"

    @property
    def meta(self) -> Path:
        return self.model_dir / "meta.json"

    @property
    def gallery(self) -> Path:
        return self.model_dir / "gallery.npz"

    @property
    def train_dir(self) -> Path:
        return self.model_dir / "train"


def imported_models(root: Path | None = None) -> list[str]:
    """Names of the models under `root` (default artifacts/) that are not runs of ours: the imported
    ones and their int8 copies, sorted."""
    base = Path(root) if root else artifacts_dir()
    metas = {path.parent.name: ModelMeta.load(path) for path in base.glob("*/meta.json")}
    imported = {name for name, meta in metas.items() if meta.imported}
    return sorted(name for name, meta in metas.items() if name in imported or meta.quantized.get("from") in imported)


def model_store_dir(root: Path | None = None) -> Path:
    return (Path(root) if root else artifacts_dir()) / "model-store"


@dataclass
class ModelMeta:
    """Everything a consumer of model.onnx needs to know, without importing the training code."""

    name: str
    kind: str  # "classifier" | "embedder"
    class_names: list[str]
    output_name: str  # "logits" | "embedding"
    onnx_sha256: str
    input_name: str = INPUT_NAME
    input_shape: list[Any] = field(default_factory=lambda: ["batch", 32, 32, 3])
    input_dtype: str = "uint8"
    embedding_dim: int | None = None
    knn_k: int | None = None
    gallery_size: int | None = None
    data_source_kind: str = ""
    trained_on_corrupted: bool = False
    opset: int | None = None
    git_commit: str = ""
    training_metrics: dict[str, Any] = field(default_factory=dict)
    # set by `python -m export import` for a model brought by the user: its source file's name and
    # hash, the declared input spec, the class order and the import's own check
    imported: dict[str, Any] = field(default_factory=dict)
    # which training images the model was trained on (the checkpoint's selection): what its gallery,
    # and an int8 copy's calibration, are drawn from
    selection: dict[str, Any] = field(default_factory=dict)
    # set by `python -m export quantize` for an int8 copy: its source, method and parity
    quantized: dict[str, Any] = field(default_factory=dict)
    version: int = META_VERSION

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ModelMeta:
        raw = json.loads(Path(path).read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


def sha256_file(path: Path) -> str:
    """The hash meta.json records for model.onnx, and the benchmark checks."""
    return file_digest(path, "sha256")
