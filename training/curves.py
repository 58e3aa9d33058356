"""Loss and accuracy curves of one run, per epoch, as one PNG with two panels."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

ACCURACY_SERIES = (
    ("train_accuracy", "train (augmented batches)"),
    ("val_accuracy", "validation"),
    ("val_corrupted_accuracy", "validation, corrupted"),
    ("test_accuracy", "test"),
    ("test_corrupted_accuracy", "test, corrupted"),
)


def _series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(h["epoch"], h[key]) for h in history if key in h and not math.isnan(h[key])]
    return [p[0] for p in points], [p[1] for p in points]


def plot_curves(history: list[dict], path: Path, title: str) -> None:
    matplotlib.use("Agg")  # files only; never needs a display (chosen here, not at import)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        epochs, values = _series(history, key)
        if values:
            loss_ax.plot(epochs, values, marker="o", label=label)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    for key, label in ACCURACY_SERIES:
        epochs, values = _series(history, key)
        if values:
            acc_ax.plot(epochs, [100 * v for v in values], marker="o", label=label)
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
