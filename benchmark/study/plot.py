"""The study's plots: the budget curve (the gain of corrupted training over its clean twin against the
training budget) and generalization (each model's accuracy on clean images, the 15 benchmark
corruptions, the 4 unseen and CIFAR-10-C-bar, over its runs measured on C-bar)."""

from __future__ import annotations

from pathlib import Path

from .analysis import CBAR, FAMILIES, PAIRS, Study


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
    plt = pyplot()
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


def plot_generalization(study: Study, path: Path) -> Path | None:
    """Each model measured on C-bar: its accuracy (95% interval) on the clean cell's images that the corrupted
    cells hold, on the 15 benchmark corruptions, the 4 unseen and C-bar, over the same runs. None without C-bar."""
    models = study.cbar_models()
    if not models:
        return None
    series = ("clean, same images", *FAMILIES, CBAR)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(models) + 2), 4))
    width = 0.8 / len(series)
    for k, what in enumerate(series):
        figures = [study.cbar_group(m).figure(what) for m in models]
        x = [i - 0.4 + width * (k + 0.5) for i in range(len(models))]
        y = [100 * f.value for f in figures]
        errors = [[100 * (f.value - f.low) for f in figures], [100 * (f.high - f.value) for f in figures]]
        ax.errorbar(x, y, yerr=errors, marker="o", linestyle="none", capsize=3,
                    label="clean" if what.startswith("clean") else what)
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([f"{m}\n({len(study.cbar_group(m).runs)} run{'s' if len(study.cbar_group(m).runs) > 1 else ''})"
                        for m in models], fontsize=8)
    ax.set_ylabel("accuracy, percent (95% interval)")
    ax.set_title("Corruptions trained on, and not: the 15, the 4 unseen, CIFAR-10-C-bar")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only (chosen here, not at import)
    import matplotlib.pyplot as plt

    return plt
