"""Model archives (.mar) for TorchServe: model.onnx, meta.json, gallery.npz, this folder's handler,
and a model-config.yaml with the batching and worker settings."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

import yaml
from model_archiver.model_archiver import ModelArchiver
from model_archiver.model_archiver_config import ModelArchiverConfig

from robustcifar.artifacts import ModelArtifacts, ModelMeta, model_store_dir

from .config import ServeConfig

HANDLER = Path(__file__).with_name("handler.py")
MANIFEST = "MAR-INF/MANIFEST.json"  # holds the archive's creation time: left out of its identity


class ArchiveError(RuntimeError):
    pass


def model_config(config: ServeConfig) -> dict:
    if config.max_batch_images < 1:
        raise ArchiveError(f"--max-batch-images must be at least 1 (got {config.max_batch_images})")
    if config.batch_size < 1 or config.max_batch_delay_ms < 1:
        # TorchServe silently replaces a maxBatchDelay of 0 with 100 ms.
        raise ArchiveError(f"batch size and batch delay must be at least 1 (got {config.batch_size} and "
                           f"{config.max_batch_delay_ms} ms)")
    return {
        "minWorkers": config.workers_per_model,
        "maxWorkers": config.workers_per_model,
        "batchSize": config.batch_size,
        "maxBatchDelay": config.max_batch_delay_ms,
        "responseTimeout": config.response_timeout_s,
        # read by our handler (context.model_yaml_config)
        "robustcifar": {"max_batch_images": config.max_batch_images},
    }


def build_archive(name: str, config: ServeConfig) -> Path:
    artifacts = ModelArtifacts.for_model(name, config.artifacts)
    files = [artifacts.onnx, artifacts.meta]
    if artifacts.meta.is_file() and ModelMeta.load(artifacts.meta).kind == "embedder":
        files.append(artifacts.gallery)
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise ArchiveError(f"{name}: missing {', '.join(missing)}; run `make export` first")
    store = model_store_dir(config.artifacts)
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        yaml_path = Path(tmp) / "model-config.yaml"
        yaml_path.write_text(yaml.safe_dump(model_config(config)))
        ModelArchiver.generate_model_archive(ModelArchiverConfig(
            model_name=name,
            handler=str(HANDLER),
            version="1.0",
            serialized_file=str(artifacts.onnx),
            extra_files=",".join(str(p) for p in files[1:]),
            export_path=str(store),
            config_file=str(yaml_path),
            force=True,
        ))
    return store / f"{name}.mar"


def archive_identity(path: Path) -> str:
    """What an archive serves, as one hash: the contents of every file in it but its manifest (whose
    creation time changes at every build), so rebuilding unchanged files gives the same identity,
    while a new model.onnx, gallery, meta.json, handler or batching setting gives another."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name in sorted(n for n in archive.namelist() if n != MANIFEST):
            digest.update(name.encode() + b"\0")
            with archive.open(name) as member:
                digest.update(hashlib.file_digest(member, "sha256").digest())
    return digest.hexdigest()
