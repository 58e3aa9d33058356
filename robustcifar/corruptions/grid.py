"""A picture of every corruption at every severity, to check them by eye against CIFAR-10-C.

    python -m robustcifar.corruptions.grid --images test_images.npy --out grid.png [--indices 0 1] \
        [--family cifar10c|cbar|all|...] [--names NAME ...]

One PNG: a row per corruption (CIFAR-10-C's 19 by default, CIFAR-10-C-bar's 10 with --family cbar), a column for the clean images and one per severity, each cell
showing the same few images side by side, enlarged with nearest-neighbour pixels.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from robustcifar.corruptions import cli
from robustcifar.corruptions.api import corrupt
from robustcifar.corruptions.registry import (
    ALL_CORRUPTIONS,
    SELECTIONS,
    SEVERITIES,
    CorruptionError,
    lookup,
)

PROG = "python -m robustcifar.corruptions.grid"
GAP = 2  # pixels between the images of a cell
CELL_GAP = 6  # pixels between cells


def grid_mosaic(images: np.ndarray, names: Sequence[str], seed: int = 0) -> np.ndarray:
    """uint8 RGB mosaic: rows = names, columns = clean + severities 1-5, white gaps between."""
    count = len(images)
    cell_width = count * 32 + (count - 1) * GAP
    columns = 1 + len(SEVERITIES)
    height = len(names) * (32 + CELL_GAP) - CELL_GAP
    width = columns * (cell_width + CELL_GAP) - CELL_GAP
    mosaic = np.full((height, width, 3), 255, np.uint8)
    for row, name in enumerate(names):
        cells = [images] + [corrupt(images, name, severity, seed) for severity in SEVERITIES]
        for column, cell in enumerate(cells):
            top = row * (32 + CELL_GAP)
            left = column * (cell_width + CELL_GAP)
            for k, image in enumerate(cell):
                x = left + k * (32 + GAP)
                mosaic[top : top + 32, x : x + 32] = image
    return mosaic


def render_grid(
    images: np.ndarray,
    out_path: str | Path,
    names: Sequence[str] = ALL_CORRUPTIONS,
    seed: int = 0,
    scale: int = 2,
) -> Path:
    """Write the labelled grid of ``images`` (uint8 (k, 32, 32, 3), k small) as a PNG."""
    import matplotlib  # imported here: only the picture needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in names:
        lookup(name)
    mosaic = grid_mosaic(images, names, seed).repeat(scale, axis=0).repeat(scale, axis=1)
    # margins in inches, for the labels: the left one fits the longest name at 11 points
    dpi, top = 100, 0.35
    left = max(1.6, 0.2 + 0.085 * max(len(name) for name in names))
    height, width = mosaic.shape[0] / dpi, mosaic.shape[1] / dpi
    figure = plt.figure(figsize=(width + left + 0.1, height + top + 0.1), dpi=dpi)
    axes = figure.add_axes((left / (width + left + 0.1), 0.1 / (height + top + 0.1),
                            width / (width + left + 0.1), height / (height + top + 0.1)))  # fmt: skip
    axes.imshow(mosaic, interpolation="nearest")
    cell_height = (32 + CELL_GAP) * scale
    cell_width = (len(images) * (32 + GAP) - GAP + CELL_GAP) * scale
    axes.set_yticks([(i + 0.45) * cell_height for i in range(len(names))], list(names))
    headers = ["clean"] + [f"severity {s}" for s in SEVERITIES]
    axes.set_xticks([(i + 0.48) * cell_width for i in range(len(headers))], headers)
    axes.xaxis.tick_top()
    axes.tick_params(length=0, labelsize=11)
    for spine in axes.spines.values():
        spine.set_visible(False)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=dpi)
    plt.close(figure)
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = cli.OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="uint8 (N, 32, 32, 3) .npy")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--indices", type=int, nargs="+", default=[0, 1],
                        help="which images of the file to show (default: 0 1)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--family", default=None, metavar="FAMILY",
                        help=f"the rows: {', '.join(SELECTIONS)} (default: cifar10c, the 19 of "
                        "CIFAR-10-C; cbar: CIFAR-10-C-bar's 10)")  # fmt: skip
    parser.add_argument("--names", nargs="+", default=None, metavar="NAME",
                        help="the rows instead of a --family, by name, separated by spaces or "
                        "commas (default: those of --family)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        names = cli.chosen_names(args.names, args.family)
        images = cli.load_images(args.images)
        bad = [i for i in args.indices if not 0 <= i < len(images)]
        if bad:
            raise CorruptionError(f"--indices {bad} outside 0..{len(images) - 1}")
        path = render_grid(images[args.indices], args.out, names=names, seed=args.seed)
    except (CorruptionError, OSError) as error:
        cli.fail(PROG, str(error))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
