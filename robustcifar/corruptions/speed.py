"""How long it takes to generate CIFAR-10-C (or CIFAR-10-C-bar): every corruption x severity over N images.

    python -m robustcifar.corruptions.speed --images test_images.npy [--count 10000] [--device cpu|cuda]
        [--threads T] [--family cifar10c|cbar|all|...] [--names NAME ...]

Without --images, N synthetic images are used (smooth random colour fields with edges and fine
texture; timings hardly depend on content, except JPEG's). Prints the seconds per corruption and
severity, the total, and the hardware; with --count under 10,000 also the total extrapolated to
10,000 images per severity. For comparison: the original per-image script (hendrycks/robustness,
make_cifar_c.py) needs roughly 17-21 minutes on one core for all 19 x 5 x 10,000 images, and the
original CIFAR-10-C-bar code (facebookresearch/augmentation-corruption) about 26 ms per image and
corruption on average (sparkles 90-150 ms), some 3-4 hours on one core for its 10 x 5 x 10,000
(measured on a shared machine, tests/robustcifar/corruptions/fixtures/cbar_reference.json). The
code is device-agnostic; on CUDA the timings include the CPU-side random draws and host-device
copies, as a real run does.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from robustcifar.config import parse_config
from robustcifar.corruptions import SEVERITIES, corrupt
from robustcifar.corruptions.batch import resolve_device
from robustcifar.corruptions.cli import chosen_names, load_images
from robustcifar.corruptions.registry import REGISTRY, SELECTIONS, CorruptionError
from robustcifar.provenance import cpu_model


def synthetic_images(count: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour fields with a sharp rectangle and noise, 32x32 uint8 RGB."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 255, (count, 3, 4, 4)))
    smooth = torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear")
    images = smooth.permute(0, 2, 3, 1).numpy().copy()
    tops, lefts = rng.integers(2, 20, (2, count))
    for image, top, left in zip(images, tops, lefts):
        image[top : top + 10, left : left + 8] = rng.uniform(0, 255, 3)
    images += rng.normal(0, 8, images.shape)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def hardware(device: torch.device) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = (
        f"CPU: {cpu_model()}, {cores} cores available, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads, numpy {np.__version__}"
    )
    if device.type == "cuda":
        text += f"; device: {torch.cuda.get_device_name(device)}"
    else:
        text += "; device: cpu"
    return text


def timed(images: torch.Tensor, name: str, severity: int) -> float:
    if images.device.type == "cuda":
        torch.cuda.synchronize(images.device)
    start = time.perf_counter()
    corrupt(images, name, severity, seed=0)  # returns once the result is on the device
    if images.device.type == "cuda":
        torch.cuda.synchronize(images.device)
    return time.perf_counter() - start


@dataclass
class SpeedConfig:
    images: Path | None = field(default=None, metadata={"help": "uint8 (N, 32, 32, 3) .npy (default: synthetic)"})
    count: int = field(default=10000, metadata={"help": "images per severity"})
    device: str = field(default="cpu", metadata={"help": "cpu or cuda"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: all available cores)"})
    family: str = field(default="cifar10c", metadata={
        "help": f"the corruptions timed: {', '.join(SELECTIONS)} (cifar10c: the 19 of CIFAR-10-C; cbar: "
                "CIFAR-10-C-bar's 10; all: the 29)"})
    names: tuple[str, ...] = field(default=(), metadata={
        "help": "the corruptions timed instead of a --family, by name (default: those of --family)"})
    full_count: int = field(default=10000, metadata={
        "help": "images per severity of the full set, for the extrapolated total when --count is smaller"})


def main(argv: list[str] | None = None) -> int:
    args = parse_config(SpeedConfig, argv, __doc__.splitlines()[0])
    try:
        # --names wins over --family (whose default is always set here)
        names = chosen_names(list(args.names), None) if args.names else chosen_names(None, args.family)
        if args.count < 1 or args.full_count < 1:
            raise CorruptionError(f"--count and --full-count must be at least 1, got {args.count}, {args.full_count}")
        if args.threads < 0:
            raise CorruptionError(f"--threads must be 0 (all cores) or more, got {args.threads}")
        device = resolve_device(args.device)
        images = load_images(args.images)[: args.count] if args.images else synthetic_images(args.count)
    except CorruptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    source = torch.from_numpy(images).to(device)
    print(hardware(device))
    print(f"images: {len(images)} per severity from {args.images or 'synthetic images'}")
    for name in names:  # warm-up: caches (matrices, frost textures) and lazy initialisation
        corrupt(source[:16], name, 1)

    header = "".join(f"{'s' + str(s):>7}" for s in SEVERITIES)
    width = max(18, 2 + max(len(name) for name in names))
    # Wall-clock seconds per severity and in total, and the CPU seconds the process used (all
    # threads): on a machine shared with other work the wall time grows, the CPU time hardly.
    print(f"\n{'corruption':<{width}}{'group':<10}{header}{'total':>8}{'cpu':>8}  (seconds)")
    total = total_cpu = 0.0
    for name in names:
        cpu_start = time.process_time()
        seconds = [timed(source, name, severity) for severity in SEVERITIES]
        cpu = time.process_time() - cpu_start
        total, total_cpu = total + sum(seconds), total_cpu + cpu
        cells = "".join(f"{s:7.2f}" for s in seconds)
        print(
            f"{name:<{width}}{REGISTRY[name].group:<10}{cells}{sum(seconds):8.2f}{cpu:8.2f}", flush=True
        )
    count = len(names) * len(SEVERITIES) * len(images)
    print(f"\ntotal: {total:.1f} s wall, {total_cpu:.1f} s CPU for {len(names)} x "
          f"{len(SEVERITIES)} x {len(images)} images ({count / total:,.0f} images/s)")  # fmt: skip
    if len(images) < args.full_count:
        factor = args.full_count / len(images)
        print(f"extrapolated to {len(names)} x {len(SEVERITIES)} x {args.full_count:,} images: "
              f"{total * factor:.0f} s wall, {total_cpu * factor:.0f} s CPU (linear in the image count)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
