"""Which model files a benchmark run measured: hashes from meta.json, checked against the files."""

from __future__ import annotations

from pathlib import Path

from robustcifar.artifacts import ModelArtifacts, ModelMeta, model_store_dir, sha256_file


def model_provenance(model: str, artifacts_root: Path | None = None) -> dict:
    """meta.json's onnx_sha256 and what it says about the model, the hash of model.onnx as it is
    now, and of the TorchServe archive; missing files are recorded as missing, not an error."""
    files = ModelArtifacts.for_model(model, artifacts_root)
    record: dict = {"artifacts": str(files.model_dir)}
    if files.meta.is_file():
        meta = ModelMeta.load(files.meta)
        record.update(onnx_sha256=meta.onnx_sha256, kind=meta.kind, trained_on_corrupted=meta.trained_on_corrupted,
                      export_git_commit=meta.git_commit, data_source_kind=meta.data_source_kind)
    else:
        record["onnx_sha256"] = None
    if files.onnx.is_file():
        actual = sha256_file(files.onnx)
        record["onnx_file_sha256"] = actual
        record["onnx_matches_meta"] = actual == record.get("onnx_sha256")
    archive = model_store_dir(artifacts_root) / f"{model}.mar"
    record["mar_sha256"] = sha256_file(archive) if archive.is_file() else None
    return record
