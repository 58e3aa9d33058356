"""`python -m training.speed`: images/s of the real training step next to a bare forward+backward.

Run by hand on the machine that will train (figures vary 2-3x between days here, so compare only
the rows of one run). For every combination of thread count, channels-last, bf16 autocast and
torch.compile asked for, it times

- `bare`: forward, loss, backward and the SGD step on a fixed batch already in memory (the ceiling),
- `step`: the training step the trainer runs (batch drawn by index, crop+flip, corruption for the
  `*_corrupted` models, the same optimizer), on the same batch size,

after warm-up steps, and prints images/s and the step's share of the ceiling.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from robustcifar.config import parse_config
from robustcifar.model_specs import get_spec

from .angular_loss import AngularLoss
from .config import TrainConfig
from .datasets import LabelledImages, TrainingSets
from .distributed import ProcessGroup
from .evaluate import autocast_for, bf16_supported
from .trainer import StepRunner, build_model, build_optimizer, epoch_batches


@dataclass
class SpeedConfig:
    model: str = field(default="ce_clean", metadata={"help": "which model's step to time"})
    batch_size: int = field(default=128, metadata={"help": "images per step"})
    threads: tuple[int, ...] = field(default=(0,), metadata={"help": "torch threads to try (0: torch's default)"})
    channels_last: tuple[str, ...] = field(default=("on", "off"), metadata={"help": "on and/or off"})
    bf16: tuple[str, ...] = field(default=("on", "off"), metadata={"help": "bf16 autocast: on and/or off"})
    compile: tuple[str, ...] = field(default=("off",), metadata={"help": "torch.compile: on and/or off"})
    augmix: tuple[str, ...] = field(default=("off",), metadata={
        "help": "AugMix in the training step (as the *_augmix models train): on and/or off"})
    warmup_steps: int = field(default=2, metadata={"help": "untimed steps first"})
    steps: int = field(default=6, metadata={"help": "timed steps per configuration"})
    seed: int = field(default=0, metadata={"help": "seed of the random batch"})


def _switch(values: tuple[str, ...], name: str) -> list[bool]:
    out = []
    for value in values:
        if value not in ("on", "off"):
            raise ValueError(f"--{name.replace('_', '-')} takes on/off, got {value!r}")
        out.append(value == "on")
    return out


def _fake_sets(n: int, seed: int) -> TrainingSets:
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8))
    labels = torch.from_numpy(np.arange(n) % 10).long()
    part = LabelledImages(images, labels)
    return TrainingSets(train=part, val=part, corrupted_val=part, test=part, corrupted_test=part, gallery=part)


def _timed(fn, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        fn()
    started = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - started


def measure(config: SpeedConfig, threads: int, channels_last: bool, bf16: bool, compile_: bool,
            augmix: bool = False) -> tuple[float, float]:
    """-> (bare images/s, training-step images/s)."""
    if threads > 0:
        torch.set_num_threads(threads)
    spec = dataclasses.replace(get_spec(config.model), augmix=augmix)
    train_config = TrainConfig(batch_size=config.batch_size, channels_last=channels_last, bf16=bf16,
                               compile=compile_, seed=config.seed, device="cpu")
    sets = _fake_sets(max(10 * config.batch_size, 1000), config.seed)
    group = ProcessGroup(0, 1, torch.device("cpu"))

    model = build_model(spec, train_config, group.device)
    net = torch.compile(model) if compile_ else model
    optimizer = build_optimizer(model, train_config)
    angular = AngularLoss(train_config.angular_alpha)
    images, labels = sets.train.images[: config.batch_size], sets.train.labels[: config.batch_size]

    def bare() -> None:
        with autocast_for(group.device, bf16):
            out = net(images)
        loss = F.cross_entropy(out.float(), labels) if spec.kind == "classifier" else angular(out.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    bare_s = _timed(bare, config.warmup_steps, config.steps)

    model = build_model(spec, train_config, group.device)
    net = torch.compile(model) if compile_ else model
    runner = StepRunner(spec, train_config, net, build_optimizer(model, train_config), sets, group)
    batches = itertools.cycle(epoch_batches(spec, train_config, sets.train.labels.numpy(), 0))
    counter = itertools.count()
    step_s = _timed(lambda: runner.step(next(batches), next(counter), 0.01), config.warmup_steps, config.steps)
    n = config.steps * config.batch_size
    return n / bare_s, n / step_s


def main(argv: list[str] | None = None) -> int:
    config = parse_config(SpeedConfig, argv, __doc__)
    try:
        get_spec(config.model)
        grid = list(itertools.product(config.threads, _switch(config.channels_last, "channels_last"),
                                      _switch(config.bf16, "bf16"), _switch(config.compile, "compile"),
                                      _switch(config.augmix, "augmix")))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[speed] {config.model}, batch {config.batch_size}, {config.steps} timed steps after "
          f"{config.warmup_steps} warm-up; torch {torch.__version__}, default threads {torch.get_num_threads()}, "
          f"bf16 kernels on this CPU: {'yes' if bf16_supported() else 'no'}", flush=True)
    print(f"{'threads':>7} {'ch-last':>7} {'bf16':>5} {'compile':>7} {'augmix':>6} {'bare img/s':>11} "
          f"{'step img/s':>11} {'step/bare':>9}")
    for threads, channels_last, bf16, compile_, augmix in grid:
        bare, step = measure(config, threads, channels_last, bf16, compile_, augmix)
        shown_threads = threads or torch.get_num_threads()
        print(f"{shown_threads:>7} {'on' if channels_last else 'off':>7} {'on' if bf16 else 'off':>5} "
              f"{'on' if compile_ else 'off':>7} {'on' if augmix else 'off':>6} {bare:>11.1f} {step:>11.1f} "
              f"{step / bare:>9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
