"""python -m robustcifar.corruptions: write a CIFAR-10-C folder from a .npy of test images.

    python -m robustcifar.corruptions --images test_images.npy --labels test_labels.npy \
        --out artifacts/cifar10c [--family cifar10c|cbar|all|...] [--names gaussian_noise,fog] \
        [--severities 1 5] [--seed 0] [--device cpu|cuda] [--threads N]

``--family cbar`` writes CIFAR-10-C-bar (its 10 corruptions, same layout); ``--names`` picks
corruptions of any family instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from robustcifar.corruptions import batch, cli
from robustcifar.corruptions.files import write_cifar10c
from robustcifar.corruptions.registry import (
    SELECTIONS,
    SEVERITIES,
    CorruptionError,
    check_severity,
)

PROG = "python -m robustcifar.corruptions"


def build_parser() -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=PROG,
        description="Corrupt CIFAR-10 test images into the CIFAR-10-C layout: <name>.npy with "
        "N*5 rows (severity 1 first), labels.npy, and cifar10c.json recording what was written "
        "(and each file's family). Also writes CIFAR-10-C-bar (--family cbar).",
    )
    parser.add_argument("--images", type=Path, required=True, help="uint8 (N, 32, 32, 3) .npy")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--labels", type=Path, help="(N,) integer labels .npy -> labels.npy")
    parser.add_argument("--family", default=None, metavar="FAMILY",
                        help=f"which corruptions to write: {', '.join(SELECTIONS)} (cifar10c: the "
                        "19 of CIFAR-10-C, its benchmark and extra families; cbar: CIFAR-10-C-bar's "
                        "10; all: the 29; default: cifar10c)")  # fmt: skip
    parser.add_argument("--names", nargs="+", default=None, metavar="NAME",
                        help="corruptions to write instead of a --family, of any family, separated "
                        "by spaces or commas (default: those of --family)")  # fmt: skip
    parser.add_argument("--severities", nargs="+", type=int, default=list(SEVERITIES),
                        metavar="S", help="severities 1-5 (default: all five)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        names = cli.chosen_names(args.names, args.family)
        for severity in args.severities:
            check_severity(severity)
        device = batch.resolve_device(args.device)
        if args.threads is not None:
            if args.threads < 1:
                raise CorruptionError(f"--threads must be at least 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        images = cli.load_images(args.images)
        labels = None if args.labels is None else cli.load_npy(args.labels, "labels")
        out = write_cifar10c(
            images,
            args.out,
            names=names,
            severities=args.severities,
            seed=args.seed,
            device=device,
            labels=labels,
            progress=not args.no_progress,
        )
    except (CorruptionError, OSError) as error:
        cli.fail(PROG, str(error))
    seconds = time.perf_counter() - started
    cells = len(names) * len(set(args.severities))
    print(f"wrote {len(names)} corruption files ({cells} x {len(images)} images) to {out} "
          f"in {seconds:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
