"""One model's training run: the step, the epoch loop, and what it leaves behind."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from robustcifar.corruptions import corrupt_random
from robustcifar.model import RobustCifarNet
from robustcifar.model_specs import ModelSpec

from .angular_loss import AngularLoss
from .augment import random_crop_flip
from .augmix import augment_and_mix
from .batches import class_balanced_batches, shuffled_batches
from .config import TrainConfig
from .datasets import TrainingSets, capped_sets
from .distributed import ProcessGroup
from .evaluate import Evaluator, autocast_for, classifier_metrics
from .resume import load_state, save_state
from .schedule import one_cycle_factor


@dataclass
class TrainingResult:
    model: RobustCifarNet
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    resumed_after_epochs: list[int] = field(default_factory=list)  # where a stopped run was continued


def build_model(spec: ModelSpec, config: TrainConfig, device: torch.device) -> RobustCifarNet:
    torch.manual_seed(config.seed)  # weight init: the only use of torch's global generator
    model = RobustCifarNet(spec.kind, config.embedding_dim).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on BatchNorm and biases: decaying them only fights the normalisation.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)


class StepRunner:
    """Makes one optimisation step from a batch of training-set indices."""

    def __init__(self, spec: ModelSpec, config: TrainConfig, model, optimizer, sets: TrainingSets, group: ProcessGroup):
        self.spec, self.config, self.model, self.optimizer = spec, config, model, optimizer
        self.sets, self.group = sets, group
        self.angular = AngularLoss(config.angular_alpha)
        # The same generator on every process: augmentation and corruption are drawn for the
        # whole global batch, then each process keeps its slice, so N processes see exactly the
        # images one process would.
        self.generator = torch.Generator().manual_seed(config.seed * 1_000_003)

    def inputs(self, indices: np.ndarray, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The global batch, augmented (and corrupted), then this process's slice of it."""
        idx = torch.as_tensor(indices, device=self.sets.train.labels.device)
        images = random_crop_flip(self.sets.train.images[idx], self.generator)
        if self.spec.trained_on_corrupted:
            images = self._corrupt_some(images, step)
        mine = torch.as_tensor(self.group.slice(np.arange(len(indices))), device=idx.device)
        if self.spec.augmix:
            # with the consistency loss: the clean image and two mixes of it, stacked (3 x this slice)
            views = [images] if self.spec.consistency_loss else []
            for _ in range(2 if self.spec.consistency_loss else 1):
                views.append(augment_and_mix(images, self.generator, self.config.augmix_severity,
                                             self.config.augmix_width))
            return torch.cat([view[mine] for view in views]), self.sets.train.labels[idx[mine]]
        return images[mine], self.sets.train.labels[idx[mine]]

    def _corrupt_some(self, images: torch.Tensor, step: int) -> torch.Tensor:
        chosen = torch.rand(len(images), generator=self.generator) < self.config.corruption_probability
        chosen = chosen.to(images.device)
        if chosen.any():
            corrupted, _, _ = corrupt_random(
                images[chosen],
                self.config.corruption_names,
                self.config.corruption_severities,
                seed=self.config.seed * 1_000_003 + step,
            )
            images = images.clone()
            images[chosen] = corrupted
        return images

    def loss(self, images: torch.Tensor, labels: torch.Tensor, global_size: int) -> tuple[torch.Tensor, float, float]:
        """-> (what to back-propagate, the loss to report, correct predictions; 0 for embedders).

        Cross-entropy is a mean over images: each process's slice mean, averaged by DDP, is the
        global one. The angular loss is over pairs: it is computed on the whole global batch
        (gathered), and multiplied by the number of processes, since DDP averages the gradients
        that together make up its gradient."""
        with autocast_for(images.device, self.config.bf16):
            outputs = self.model(images)
        if self.spec.kind == "classifier":
            logits = outputs.float()
            if self.spec.consistency_loss:
                logits, *mixes = logits.chunk(3)
                consistency = jensen_shannon(logits, *mixes)
            loss = F.cross_entropy(logits, labels, label_smoothing=self.config.label_smoothing)
            objective = loss + self.config.consistency_weight * consistency if self.spec.consistency_loss else loss
            return objective, float(loss.detach()), float((logits.argmax(1) == labels).sum())
        embeddings = self.group.gather_with_grad(outputs.float(), global_size)
        all_labels = self.group.gather_with_grad(labels, global_size)
        loss = self.angular(embeddings, all_labels)
        return loss * self.group.world_size, float(loss.detach()), 0.0

    def step(self, indices: np.ndarray, step: int, lr: float) -> tuple[float, float]:
        images, labels = self.inputs(indices, step)
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = lr
        objective, reported, correct = self.loss(images, labels, len(indices))
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()
        return reported, correct


def jensen_shannon(*logits: torch.Tensor) -> torch.Tensor:
    """Mean over images of the Jensen-Shannon divergence among the softmax distributions of `logits`
    (AugMix's consistency term: the mean KL of each distribution to their mixture; the mixture is
    clamped at 1e-7 before its log, as the paper's code does)."""
    probs = [F.softmax(z, dim=1) for z in logits]
    log_mixture = torch.clamp(torch.stack(probs).mean(0), 1e-7, 1).log()
    return sum(F.kl_div(log_mixture, p, reduction="batchmean") for p in probs) / len(probs)


def epoch_batches(spec: ModelSpec, config: TrainConfig, labels: np.ndarray, epoch: int) -> list[np.ndarray]:
    if spec.kind == "embedder":
        return class_balanced_batches(labels, config.batch_size, epoch, config.seed)
    return shuffled_batches(len(labels), config.batch_size, epoch, config.seed)


# held-out set of TrainingSets -> the metric it gives
HELD_OUT = {"val": "val_accuracy", "corrupted_val": "val_corrupted_accuracy", "test": "test_accuracy",
            "corrupted_test": "test_corrupted_accuracy"}


def held_out_predictions(model: RobustCifarNet, sets: TrainingSets, bf16: bool,
                         knn_k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(predicted class, confidence) per image of every held-out set (kNN over `sets.gallery` for embedders)."""
    evaluator = Evaluator(sets.gallery.images, sets.gallery.labels, knn_k, bf16)
    evaluator.refresh(model)
    return {part: evaluator.predictions(model, getattr(sets, part).images) for part in HELD_OUT}


def evaluate_held_out(model: RobustCifarNet, sets: TrainingSets, bf16: bool, knn_k: int,
                      predictions: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> dict:
    """Accuracy on every held-out set, and the classifier's val loss.

    Keys: val_accuracy, val_corrupted_accuracy, test_accuracy, test_corrupted_accuracy (NaN for an
    empty set), val_loss. `predictions` (from held_out_predictions) saves computing them again.
    """
    predictions = predictions or held_out_predictions(model, sets, bf16, knn_k)
    record = {}
    for part, key in HELD_OUT.items():
        predicted, labels = predictions[part][0], getattr(sets, part).labels.cpu().numpy()
        record[key] = float(np.mean(predicted == labels)) if len(labels) else float("nan")
    if model.kind == "classifier" and len(sets.val):
        record["val_loss"] = classifier_metrics(model, sets.val.images, sets.val.labels, bf16)["loss"]
    return record


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(spec: ModelSpec, config: TrainConfig, sets: TrainingSets, group: ProcessGroup, on_epoch=None,
          resume_file: Path | None = None, fingerprint: dict[str, Any] | None = None) -> TrainingResult:
    """Train one model; `on_epoch(history)` runs on the main process after every epoch.

    With `resume_file`, the state after every epoch is saved there, and a state saved by a stopped run
    with the same `fingerprint` is continued from (see resume.py)."""
    model = build_model(spec, config, group.device)
    net = DistributedDataParallel(model) if group.world_size > 1 else model
    if config.compile:
        net = torch.compile(net)  # the training step only; evaluation runs the eager `model`
    optimizer = build_optimizer(model, config)
    runner = StepRunner(spec, config, net, optimizer, sets, group)
    epoch_sets = capped_sets(sets, config.eval_max_images, config.split_seed)
    train_labels = sets.train.labels.cpu().numpy()
    total_steps = config.epochs * len(epoch_batches(spec, config, train_labels, 0))
    result, step, first_epoch = TrainingResult(model), 0, 0
    saved = load_state(resume_file, fingerprint or {}) if resume_file is not None and config.resume else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        runner.generator.set_state(saved["generator"])
        step, first_epoch = saved["step"], saved["epoch"]
        result.history, result.train_seconds = list(saved["history"]), saved["train_seconds"]
        result.resumed_after_epochs = [*saved["resumed_after_epochs"], first_epoch]
        if group.is_main:
            print(f"[train] {spec.name}: resuming after epoch {first_epoch}/{config.epochs} from {resume_file}",
                  flush=True)
    for epoch in range(first_epoch, config.epochs):
        batches = epoch_batches(spec, config, train_labels, epoch)
        _synchronize(group.device)
        started = time.perf_counter()
        losses, correct, seen = [], 0.0, 0
        bar = tqdm(batches, desc=f"{spec.name} epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not (config.progress and group.is_main), leave=False)
        for indices in bar:
            lr = config.lr * one_cycle_factor(step, total_steps, config.warmup_fraction)
            loss, batch_correct = runner.step(indices, step, lr)
            losses.append(loss)
            correct, seen, step = correct + batch_correct, seen + len(group.slice(indices)), step + 1
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.3g}")
        _synchronize(group.device)
        seconds = time.perf_counter() - started
        result.train_seconds += seconds
        record = {
            "epoch": epoch + 1,
            "lr_end": lr,
            "train_loss": group.mean(float(np.mean(losses))),
            "train_accuracy": group.mean(correct / seen) if spec.kind == "classifier" else float("nan"),
            "epoch_seconds": seconds,
            "images_per_second": sum(len(b) for b in batches) / seconds,
        }
        if group.is_main:
            record.update(evaluate_held_out(model, epoch_sets, config.bf16, config.knn_k))
            result.history.append(record)
            if resume_file is not None:
                save_state(resume_file, {
                    "fingerprint": fingerprint or {}, "epoch": epoch + 1, "step": step,
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "generator": runner.generator.get_state(), "history": result.history,
                    "train_seconds": result.train_seconds, "resumed_after_epochs": result.resumed_after_epochs,
                })
            if on_epoch:
                on_epoch(result.history)
        group.barrier()
    return result
