"""UMAP of the 512-d backbone representation: train, test and corrupted test images by class.

One UMAP is fitted on the three sets together, so the panels share one map and a class that
drifts under corruption shows up as points leaving its cluster.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from robustcifar.classes import CLASS_NAMES


def fit_umap(features: np.ndarray, seed: int) -> np.ndarray:
    import umap  # slow to import (numba): only when a plot is made

    reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=seed, n_jobs=1)
    return reducer.fit_transform(features)


def plot_umap(panels: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str, seed: int) -> None:
    """panels: name -> (features (N, 512), labels (N,)); all fitted together, one panel each."""
    names = list(panels)
    coords = fit_umap(np.concatenate([panels[n][0] for n in names]), seed)
    matplotlib.use("Agg")  # files only; never needs a display (chosen here, not at import)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 5), squeeze=False)
    cmap = plt.get_cmap("tab10")
    start = 0
    for ax, name in zip(axes[0], names):
        labels = panels[name][1]
        xy = coords[start : start + len(labels)]
        start += len(labels)
        for c, class_name in enumerate(CLASS_NAMES):
            mask = labels == c
            ax.scatter(xy[mask, 0], xy[mask, 1], s=3, color=cmap(c), label=class_name)
        ax.set(title=f"{name} ({len(labels)} images)", xticks=[], yticks=[])
    axes[0][-1].legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
