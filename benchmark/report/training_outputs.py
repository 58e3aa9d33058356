"""What training left for each model (artifacts/<model>/train/): final metrics, curves and UMAP plots.

The report copies the pictures into its own folder, so it stays complete when artifacts/ is
cleaned or retrained, and notes when the model files changed since the benchmark run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.artifacts import ModelArtifacts, ModelMeta

PICTURES = ("curves.png", "umap.png")


@dataclass
class TrainingOutputs:
    model: str
    final: dict = field(default_factory=dict)  # metrics.json "final": val_accuracy, test_accuracy, ...
    pictures: dict[str, str] = field(default_factory=dict)  # "curves.png" -> path relative to the report folder
    changed_since_run: bool = False  # meta.json's onnx hash differs from the one the run recorded


def collect_training_outputs(model: str, report_folder: Path, artifacts_root: Path | None,
                             recorded_onnx_sha256: str | None) -> TrainingOutputs:
    files = ModelArtifacts.for_model(model, artifacts_root)
    outputs = TrainingOutputs(model)
    metrics = files.train_dir / "metrics.json"
    if metrics.is_file():
        outputs.final = json.loads(metrics.read_text()).get("final") or {}
    for name in PICTURES:
        source = files.train_dir / name
        if source.is_file():
            target = report_folder / "training" / model / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            outputs.pictures[name] = target.relative_to(report_folder).as_posix()
    if files.meta.is_file() and recorded_onnx_sha256:
        outputs.changed_since_run = ModelMeta.load(files.meta).onnx_sha256 != recorded_onnx_sha256
    return outputs
