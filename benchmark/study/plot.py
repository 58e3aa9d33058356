"""The budget curve: the gain of corrupted training over its clean twin against the training budget."""

from __future__ import annotations

from pathlib import Path

from .analysis import FAMILIES, PAIRS, Study


def plot_budget(study: Study, path: Path) -> Path | None:
    """One panel per loss: the gain (points, with its 95% interval) on clean images and on each family
    of corruptions at every budget both twins were trained for. None when no loss has two budgets."""
    panels = {}
    for loss, (clean_model, corrupted_model) in PAIRS.items():
        budgets = sorted(set(study.budgets(clean_model)) & set(study.budgets(corrupted_model)))
        if budgets:
            panels[loss] = {what: [(e, study.difference(corrupted_model, clean_model, what, e)) for e in budgets]
                            for what in ("clean", *FAMILIES)}
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only (chosen here, not at import)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False, sharey=True)
    for ax, (loss, series) in zip(axes[0], panels.items()):
        for offset, (what, points) in zip((-0.25, 0.0, 0.25), series.items()):
            x = [e + offset for e, _ in points]
            y = [100 * d.value for _, d in points]
            errors = [[100 * (d.value - d.low) for _, d in points], [100 * (d.high - d.value) for _, d in points]]
            ax.errorbar(x, y, yerr=errors, marker="o", capsize=3, label=what)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(f"{loss}: corrupted minus clean training")
        ax.set_xlabel("training epochs (10,000 images)")
        ax.set_xticks(sorted({e for points in series.values() for e, _ in points}))
    axes[0][0].set_ylabel("accuracy gain, points (95% interval)")
    axes[0][-1].legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
