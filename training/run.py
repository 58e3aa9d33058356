"""Train one named model end to end and write everything it produces into artifacts/<model>/."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np

from robustcifar.artifacts import ModelArtifacts
from robustcifar.checkpoint import save_checkpoint
from robustcifar.config import config_to_dict
from robustcifar.datasets import CifarArrays, capped_balanced_indices
from robustcifar.model_specs import RunName, get_spec
from robustcifar.provenance import run_record, run_started, write_json

from .config import TrainConfig
from .corruption_eval import corruption_table, summarise_corruptions
from .curves import plot_curves
from .datasets import TrainingSets, prepare_sets
from .distributed import ProcessGroup
from .evaluate import Evaluator, run_model
from .resume import differences, run_fingerprint
from .trainer import HELD_OUT, evaluate_held_out, held_out_predictions, train
from .umap_plot import plot_umap


def write_history(history: list[dict], artifacts: ModelArtifacts) -> None:
    artifacts.train_dir.mkdir(parents=True, exist_ok=True)
    columns = sorted({key for record in history for key in record}, key=lambda k: (k != "epoch", k))
    with open(artifacts.train_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
    plot_curves(history, artifacts.train_dir / "curves.png", f"{artifacts.name}: training curves")


def report_epoch(name: str, history: list[dict], artifacts: ModelArtifacts) -> None:
    """One line per epoch on the console, and the metrics files and curves rewritten."""
    h = history[-1]
    accuracy = ", ".join(f"{key.replace('_accuracy', '')} {100 * h[key]:.1f}%" for key in
                         ("train_accuracy", "val_accuracy", "val_corrupted_accuracy", "test_accuracy",
                          "test_corrupted_accuracy")
                         if key in h and not math.isnan(h[key]))
    print(f"[train] {name} epoch {h['epoch']}: loss {h['train_loss']:.3f}, {accuracy}; "
          f"{h['epoch_seconds']:.1f} s, {h['images_per_second']:.0f} images/s", flush=True)
    write_history(history, artifacts)


def _json_safe(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def umap_panels(model, sets: TrainingSets, points: int, bf16: bool, seed: int) -> dict:
    def take(part):
        # class-balanced: the sets are stored in class order, so a prefix would be one or two classes
        sub = part.subset(capped_balanced_indices(part.labels.cpu().numpy(), points, seed))
        return run_model(model, sub.images, bf16, features=True).numpy(), sub.labels.cpu().numpy()

    return {"train": take(sets.train), "test": take(sets.test), "test, corrupted": take(sets.corrupted_test)}


def final_metrics(name: str, config: TrainConfig, model, sets: TrainingSets) -> tuple[dict, list, dict]:
    """The trained model scored on the whole held-out sets (the per-epoch figures use a capped share):
    (metrics, corruption rows, per-image outcomes for outcomes.npz)."""
    evaluator = Evaluator(sets.gallery.images, sets.gallery.labels, config.knn_k, config.bf16)
    predictions = held_out_predictions(model, sets, config.bf16, config.knn_k)
    held_out = evaluate_held_out(model, sets, config.bf16, config.knn_k, predictions)
    metrics = {key: value for key, value in held_out.items() if key.endswith("_accuracy")}
    metrics.update(n_train=len(sets.train), n_val=len(sets.val), n_test=len(sets.test), n_gallery=len(sets.gallery))
    rows = []
    if config.final_corruption_images_per_cell > 0:
        rows = corruption_table(model, sets.test, evaluator, config.final_corruption_images_per_cell,
                                config.split_seed, config.progress)
        metrics.update(summarise_corruptions(rows))
    if model.kind == "embedder":
        metrics["knn_k"] = config.knn_k
    return {k: _json_safe(v) for k, v in metrics.items()}, rows, held_out_outcomes(sets, predictions)


def held_out_outcomes(sets: TrainingSets, predictions: dict) -> dict:
    """Per image of every held-out set: its index in CIFAR-10's training (val) or test set, label,
    prediction and confidence, and for the corrupted copies the corruption (index into
    BENCHMARK_CORRUPTIONS) and severity. What the study's validation rows are computed from."""
    arrays = {}
    for part in HELD_OUT:
        images = getattr(sets, part)
        predicted, confidence = predictions[part]
        arrays.update({f"{part}_index": images.source_index, f"{part}_label": images.labels.cpu().numpy(),
                       f"{part}_predicted": predicted, f"{part}_confidence": confidence})
        if images.corruption is not None:
            arrays[f"{part}_corruption"], arrays[f"{part}_severity"] = images.corruption, images.severity
    return {k: v for k, v in arrays.items() if v is not None}


def finished_run(artifacts: ModelArtifacts, fingerprint: dict) -> dict | None:
    """The final metrics of a run already finished with this fingerprint, else None."""
    path = artifacts.train_dir / "metrics.json"
    if not (path.is_file() and artifacts.checkpoint.is_file()):
        return None
    record = json.loads(path.read_text())
    saved = record.get("fingerprint")
    return record["final"] if saved is not None and not differences(saved, fingerprint) else None


def train_one(run: RunName, config: TrainConfig, data: CifarArrays, group: ProcessGroup,
              data_sha256: str | None = None) -> dict | None:
    """Train one run (config.seed and config.epochs already set for it) and write its outputs into
    artifacts/<run name>/. Returns the final metrics on the main process (None elsewhere)."""
    started = run_started()
    name = str(run)
    spec = get_spec(name)
    artifacts = ModelArtifacts.for_model(name, config.artifacts)
    fingerprint = run_fingerprint(config, data, data_sha256)
    if config.resume and (done := finished_run(artifacts, fingerprint)) is not None:
        if group.is_main:
            print(f"[train] {name}: already trained with this configuration ({artifacts.train_dir}); "
                  "--no-resume trains it again", flush=True)
        return done if group.is_main else None
    sets = prepare_sets(config, data, group.device)
    resume_file = artifacts.train_dir / "resume.pt"
    result = train(spec, config, sets, group, on_epoch=lambda h: report_epoch(name, h, artifacts),
                   resume_file=resume_file, fingerprint=fingerprint)
    if not group.is_main:
        return None
    metrics, rows, outcomes = final_metrics(name, config, result.model, sets)
    metrics.update(train_seconds=round(result.train_seconds, 2), data_source_kind=data.source_kind,
                   model=run.model, seed=run.seed, epochs=config.epochs)
    save_checkpoint(artifacts.checkpoint, result.model, name, extra={
        "metrics": metrics,
        "profile": config.profile,
        # what export needs to rebuild the gallery from exactly the images trained on
        "selection": {
            "train_fraction": config.train_fraction,
            "max_train_images": config.max_train_images,
            "seed": config.split_seed,
            "knn_gallery_max": config.knn_gallery_max,
            "knn_k": config.knn_k,
            "data_source": data.source,
            "data_source_kind": data.source_kind,
        },
    })
    if config.umap_points > 0:
        plot_umap(umap_panels(result.model, sets, config.umap_points, config.bf16, config.split_seed),
                  artifacts.train_dir / "umap.png", f"{name}: UMAP of backbone features", config.split_seed)
    if rows:
        write_json(artifacts.train_dir / "corruption_accuracy.json", rows)
    np.savez_compressed(artifacts.train_dir / "outcomes.npz", **outcomes)
    write_json(artifacts.train_dir / "config.json", config_to_dict(config))
    history = [{k: _json_safe(v) for k, v in h.items()} for h in result.history]
    # metrics.json is written last: its presence (with the fingerprint) marks the run as finished
    write_json(artifacts.train_dir / "metrics.json", {
        "model": name, "run_of": dataclasses.asdict(run), "final": metrics, "history": history,
        "resumed_after_epochs": result.resumed_after_epochs, "fingerprint": fingerprint,
        "run": run_record(started=started)})
    resume_file.unlink(missing_ok=True)
    return metrics
