"""The study section as markdown, built from a Study (analysis.py) alone: what the README and
results/<study>/study.md show, so no study number is typed by hand."""

from __future__ import annotations

from .analysis import AUGMIX_PAIRS, CBAR, COMPARISONS, FAMILIES, FDR_LEVEL, PAIRS, Study
from .intervals import Interval, fdr_adjusted, seed_image_interval

# The original studies' figures (../shared/seeds/003_557d3cd6312f3611.txt and 000_7a7bb921270f7063.txt)
ORIGINAL_STUDY_2 = {
    "ce": {"test": (54, 41, 54), "validation": (55, 43, 55)},
    "angular": {"test": (59, 45, 57), "validation": (59, 47, 58)},
}
ORIGINAL_STUDY_1 = {"ce_clean": 18.78, "ce_corrupted": 31.35, "angular": 46}
ROW_NAMES = ("train clean / test clean", "train clean / test corrupted", "train corrupted / test corrupted")


def pct(interval: Interval | None) -> str:
    if interval is None:
        return "not measured"
    return f"{100 * interval.value:.1f} [{100 * interval.low:.1f}–{100 * interval.high:.1f}]"


def points(interval: Interval | None) -> str:
    if interval is None:
        return "not measured"
    return f"{100 * interval.value:+.1f} [{100 * interval.low:+.1f}, {100 * interval.high:+.1f}]"


def seeds_note(interval: Interval) -> str:
    return "" if interval.seed_variance_counted else " (1 seed)"


def verdict(interval: Interval | None, original: float) -> str:
    if interval is None:
        return "not measured"
    low = 100 * interval.low
    return f"met ({low:.1f} > {original:g})" if low > original else f"missed by {original - low:.1f}"


def study_2(study: Study, loss: str) -> list[str]:
    clean_model, corrupted_model = PAIRS[loss]
    rows = [(ROW_NAMES[0], clean_model, "clean", "validation"),
            (ROW_NAMES[1], clean_model, "15 benchmark", "validation, corrupted"),
            (ROW_NAMES[2], corrupted_model, "15 benchmark", "validation, corrupted")]
    original = ORIGINAL_STUDY_2[loss]
    lines = [("| setting | model | seeds | test, ours | test, original | lower bound vs original | "
             "validation, ours | validation, original |"), "|---|---|---|---|---|---|---|---|"]
    for i, (name, model, test_what, val_what) in enumerate(rows):
        group = study.group(model)
        if group is None:
            lines.append(f"| {name} | `{model}` | 0 | not measured | {original['test'][i]} | | | "
                         f"{original['validation'][i]} |")
            continue
        test, val = group.figure(test_what), group.figure(val_what)
        lines.append(f"| {name} | `{model}` | {len(group.runs)} | {pct(test)} | {original['test'][i]} | "
                     f"{verdict(test, original['test'][i])} | {pct(val)} | {original['validation'][i]} |")
    for epochs in study.budgets(corrupted_model):
        if epochs == study.budget:
            continue
        group = study.group(corrupted_model, epochs)
        test, val = group.figure("15 benchmark"), group.figure("validation, corrupted")
        lines.append(f"| {ROW_NAMES[2]}, {epochs} epochs | `{corrupted_model}` | {len(group.runs)} | "
                     f"{pct(test)}{seeds_note(test)} | {original['test'][2]} | {verdict(test, original['test'][2])} | "
                     f"{pct(val)} | {original['validation'][2]} |")
    return lines


def study_1(study: Study) -> list[str]:
    lines = ["| model | seeds | accuracy on corrupted test images, ours | original | lower bound vs original |",
             "|---|---|---|---|---|"]
    for model, original in ORIGINAL_STUDY_1.items():
        group = study.group(model)
        figure = group.figure("15 benchmark") if group else None
        lines.append(f"| `{model}` | {len(group.runs) if group else 0} | {pct(figure)} | {original:g} | "
                     f"{verdict(figure, original)} |")
    return lines


def models_table(study: Study) -> list[str]:
    columns = ["clean", "clean, same images", *FAMILIES]
    lines = [("| model | seeds | clean, every image | clean, the cells' images | drop to 15 benchmark | 15 benchmark | "
             "4 unseen |"), "|---|---|---|---|---|---|---|"]
    for model in study.models():
        group = study.group(model)
        figures = {c: group.figure(c) for c in columns}
        drop = study_difference_within(group)
        lines.append(f"| `{model}` | {len(group.runs)} | {pct(figures['clean'])} | {pct(figures['clean, same images'])} "
                     f"| {points(drop)} | {pct(figures['15 benchmark'])} | {pct(figures['4 unseen'])} |")
    return lines


def study_difference_within(group) -> Interval:
    """Accuracy on the 15 benchmark corruptions minus clean accuracy, on the same images and runs."""
    return seed_image_interval(group.values("15 benchmark") - group.values("clean, same images"))


def comparisons_table(study: Study) -> list[str]:
    lines = ["| comparison | question | clean, every image | 15 benchmark | 4 unseen |", "|---|---|---|---|---|"]
    for model, other, question in COMPARISONS:
        cells = [points(study.difference(model, other, what)) for what in ("clean", *FAMILIES)]
        lines.append(f"| `{model}` − `{other}` | {question} | " + " | ".join(cells) + " |")
    return lines


def comparisons_per_corruption(study: Study) -> tuple[list[tuple[str, str, str, Interval]], list[float]]:
    """(model, other, corruption, difference) for every comparison and corruption, and their p-values adjusted
    together (Benjamini-Hochberg): the one family of tests that the table and the findings both report."""
    found = [(model, other, c, d) for model, other, _ in COMPARISONS for c, d, _ in study.per_corruption(model, other)]
    return found, fdr_adjusted([d.p_value for *_, d in found])


def per_corruption_table(study: Study) -> list[str]:
    """Every comparison on every corruption, the p-values adjusted together (Benjamini-Hochberg)."""
    found, adjusted = comparisons_per_corruption(study)
    by = {(model, other, c): (d, q) for (model, other, c, d), q in zip(found, adjusted)}
    names = [c for family in FAMILIES.values() for c in family]
    header = "| corruption | " + " | ".join(f"`{m}` − `{o}`" for m, o, _ in COMPARISONS) + " |"
    lines = [header, "|---|" + "---|" * len(COMPARISONS)]
    for c in names:
        cells = []
        for model, other, _ in COMPARISONS:
            if (model, other, c) not in by:
                cells.append("")
                continue
            d, q = by[(model, other, c)]
            cells.append(points(d) + (" **\\***" if q < FDR_LEVEL else ""))
        unseen = " (unseen)" if c in FAMILIES["4 unseen"] else ""
        lines.append(f"| {c}{unseen} | " + " | ".join(cells) + " |")
    survivors = sum(q < FDR_LEVEL for q in adjusted)
    resolved = sum(d.excludes_zero() for *_, d in found)
    lines.append("")
    lines.append(f"<sub>{resolved} of {len(found)} intervals exclude 0; **\\*** marks the {survivors} that stay "
                 f"resolved after the Benjamini-Hochberg adjustment over all {len(found)} (false-discovery rate "
                 f"{FDR_LEVEL:.0%}).</sub>")
    return lines


def int8_table(study: Study) -> list[str]:
    """The paired cost of int8 (int8 copy − its float32 model), per family, with a verdict per model; the
    per-corruption differences adjusted together (Benjamini-Hochberg), as the study's comparisons are."""
    pairs = study.int8_pairs()
    if not pairs:
        return ["No int8 copy has been measured (python -m export quantize; benchmark `<model>_int8`)."]
    lines = [("| model | epochs | seeds | clean, every image | 15 benchmark | 4 unseen | corruptions where int8 costs "
              "(FDR 5%) |"), "|---|---|---|---|---|---|---|"]
    found = [(q, e, c, d) for q, f, e in pairs for c, d, _ in study.per_corruption(q, f, e)]
    adjusted = fdr_adjusted([d.p_value for *_, d in found])
    for q, f, e in pairs:
        figures = [study.difference(q, f, what, e) for what in ("clean", *FAMILIES)]
        hurt = [f"{c} ({points(d)})" for (qq, ee, c, d), p in zip(found, adjusted)
                if (qq, ee) == (q, e) and p < FDR_LEVEL and d.high < 0]
        lines.append(f"| `{q}` − `{f}` | {e} | {len(study.group(q, e).runs)} | "
                     + " | ".join(points(x) + seeds_note(x) for x in figures)
                     + f" | {', '.join(hurt) or 'none resolved'} |")
    return lines


def generalization_tables(study: Study) -> list[str]:
    """CIFAR-10-C-bar, which no model here trained on: each model's accuracy and its paired difference to
    ce_clean; then each AugMix model against its *_corrupted twin on the corruptions the twin trained on
    (fit) and on those neither did (generalization), with the verdict."""
    models = study.cbar_models()
    if not models:
        return [("No run has been measured on CIFAR-10-C-bar yet (`python -m benchmark --family cbar`, then "
                "`python -m benchmark.study collect`).")]
    lines = [("| model | seeds on C-bar | C-bar | − `ce_clean` on C-bar | − `ce_clean` on 15 benchmark | "
              "− `ce_clean` on 4 unseen |"), "|---|---|---|---|---|---|"]
    baseline = "ce_clean" if "ce_clean" in models else None
    for model in models:
        group = study.cbar_group(model)
        diffs = ([study.cbar_difference(model, baseline, what) for what in (CBAR, *FAMILIES)]
                 if baseline and model != baseline else [None, None, None])
        figure = group.figure(CBAR)
        lines.append(f"| `{model}` | {seed_list(group)} | {pct(figure)}{seeds_note(figure)} | "
                     + " | ".join(points(d) + seeds_note(d) if d else "" for d in diffs) + " |")
    lines += ["", ("<sub>Each row over the model's runs measured on C-bar (seeds listed), in every column, so "
                   "that C-bar and the other families compare the same runs.</sub>")]
    pairs = [(a, b) for a, b in AUGMIX_PAIRS if a in models and b in models]
    lines += ["", ("**Fit or generalization** (AugMix model − its `*_corrupted` twin, percentage points: the twin "
              "trained on the 15, neither on the 4 unseen or C-bar)"), ""]
    if not pairs:
        return lines + ["No AugMix model and its `*_corrupted` twin have both been measured on CIFAR-10-C-bar yet."]
    lines += ["| comparison | 15 benchmark (fit) | 4 unseen | C-bar | verdict |", "|---|---|---|---|---|"]
    for model, twin in pairs:
        fit, unseen, cbar = (study.cbar_difference(model, twin, what) for what in ("15 benchmark", "4 unseen", CBAR))
        lines.append(f"| `{model}` − `{twin}` | {points(fit)}{seeds_note(fit)} | {points(unseen)}{seeds_note(unseen)} | "
                     f"{points(cbar)}{seeds_note(cbar)} | {generalization_verdict(fit, unseen, cbar)} |")
    return lines


def seed_list(group) -> str:
    return ", ".join(str(s) for s in sorted(group.seeds))


def generalization_verdict(fit: Interval, unseen: Interval, cbar: Interval) -> str:
    def side(d: Interval) -> str:
        return "ahead" if d.low > 0 else "behind" if d.high < 0 else "not resolved"

    return f"AugMix {side(fit)} on the twin's trained-for 15, {side(unseen)} on the 4 unseen, {side(cbar)} on C-bar"


def has_budget_curve(study: Study) -> bool:
    """Whether some loss's twins share a budget (what plot.plot_budget draws)."""
    return any(set(study.budgets(a)) & set(study.budgets(b)) for a, b in PAIRS.values())


def budget_table(study: Study) -> list[str]:
    lines = ["| loss | epochs | seeds | gain on clean | gain on 15 benchmark | gain on 4 unseen |",
             "|---|---|---|---|---|---|"]
    for loss, (clean_model, corrupted_model) in PAIRS.items():
        for epochs in sorted(set(study.budgets(clean_model)) & set(study.budgets(corrupted_model))):
            figures = [study.difference(corrupted_model, clean_model, what, epochs) for what in ("clean", *FAMILIES)]
            seeds = min(len(study.group(m, epochs).runs) for m in (clean_model, corrupted_model))
            lines.append(f"| {loss} | {epochs} | {seeds} | " + " | ".join(points(f) for f in figures) + " |")
    return lines


def budget_verdict(study: Study) -> list[str]:
    lines = []
    for loss, (clean_model, corrupted_model) in PAIRS.items():
        budgets = sorted(set(study.budgets(clean_model)) & set(study.budgets(corrupted_model)))
        if not budgets:
            lines.append(f"- {loss}: not measured")
            continue
        if len(budgets) < 2:
            lines.append(f"- {loss}: measured at {budgets[0]} epochs only")
            continue
        for what in ("clean", *FAMILIES):
            gains = {e: study.difference(corrupted_model, clean_model, what, e) for e in budgets}
            paying = [e for e, d in gains.items() if d.low > 0]
            if paying:
                one_seed = "" if gains[paying[0]].seed_variance_counted else "; 1 seed, so over the test images only"
                lines.append(f"- {loss}, {what}: corrupted training first pays at {paying[0]} epochs (the smallest "
                             f"budget whose lower bound is above 0{one_seed})")
            elif all(d.high < 0 for d in gains.values()):
                lines.append(f"- {loss}, {what}: corrupted training costs at every budget up to {budgets[-1]} epochs "
                             "(each upper bound is below 0)")
            else:
                costing = [str(e) for e, d in gains.items() if d.high < 0]
                lines.append(f"- {loss}, {what}: no budget up to {budgets[-1]} epochs has its lower bound above 0"
                             + (f"; it costs at {', '.join(costing)} epochs (upper bound below 0)" if costing else ""))
    return lines


def findings(study: Study) -> list[str]:
    """What the tables say, in sentences built from the same intervals: the targets met and missed, each
    comparison where its interval excludes 0 and where it does not, the drop under corruption, the
    per-corruption differences that survive the adjustment, and the budget curve's verdict."""
    lines = []
    missed, met = [], 0
    for loss, (clean_model, corrupted_model) in PAIRS.items():
        rows = ((clean_model, "clean"), (clean_model, "15 benchmark"), (corrupted_model, "15 benchmark"))
        for i, (model, what) in enumerate(rows):
            group = study.group(model)
            original = ORIGINAL_STUDY_2[loss]["test"][i]
            if group is None or 100 * group.figure(what).low <= original:
                missed.append(f"`{model}` {ROW_NAMES[i]} ({missed_why(study, model, what, original, i == 2)})")
            else:
                met += 1
    lines.append(f"- Targets, study 2 at {study.budget} epochs: {met} of 6 test rows have their lower bound above the "
                 f"original figure" + (f"; not: {'; '.join(missed)}." if missed else "."))
    study_1_missed = [m for m, original in ORIGINAL_STUDY_1.items()
                      if not study.group(m) or 100 * study.group(m).figure("15 benchmark").low <= original]
    lines.append(f"- Targets, study 1: {3 - len(study_1_missed)} of 3 rows met"
                 + (f" (missed: {', '.join(f'`{m}`' for m in study_1_missed)})." if study_1_missed else "."))
    for model, other, question in COMPARISONS:
        figures = {what: study.difference(model, other, what) for what in ("clean", *FAMILIES)}
        if any(d is None for d in figures.values()):
            lines.append(f"- {question.capitalize()}: not measured.")
            continue
        lines.append(difference_sentence(f"{question.capitalize()} (`{model}` − `{other}`", figures))
    for q, f, e in study.int8_pairs():
        figures = {what: study.difference(q, f, what, e) for what in ("clean", *FAMILIES)}
        lines.append(difference_sentence(f"int8 at {e} epochs (`{q}` − `{f}`", figures))
    drops = {m: study_difference_within(study.group(m)) for m in study.models()}
    if drops:
        worst, mildest = min(drops, key=lambda m: drops[m].value), max(drops, key=lambda m: drops[m].value)
        every = all(d.high < 0 for d in drops.values())
        lines.append(f"- The drop from clean to the 15 benchmark corruptions, on the same images: from "
                     f"{points(drops[mildest])} (`{mildest}`) to {points(drops[worst])} (`{worst}`)"
                     + (", resolved for every model." if every else ", not resolved for every model."))
    found, adjusted = comparisons_per_corruption(study)
    survivors = [f"`{m}` − `{o}` on {c} ({points(d)})" for (m, o, c, d), q in zip(found, adjusted) if q < FDR_LEVEL]
    if found:
        lines.append(f"- Per corruption: {len(survivors)} of {len(found)} differences stay resolved after the "
                     f"Benjamini-Hochberg adjustment" + (f": {'; '.join(survivors)}." if survivors else "."))
    return lines


def difference_sentence(label: str, figures: dict[str, Interval]) -> str:
    """'label, S/S seeds): ahead on X, ...; not resolved on Y' from paired differences by what they cover."""
    resolved = [f"{'ahead' if d.low > 0 else 'behind'} on {what}, {points(d)}"
                for what, d in figures.items() if d.excludes_zero()]
    open_ = [what for what, d in figures.items() if not d.excludes_zero()]
    parts = resolved + ([f"not resolved on {' or '.join(open_)} (the interval holds 0)"] if open_ else [])
    seeds = next(iter(figures.values())).seeds
    return f"- {label}, {'/'.join(map(str, seeds))} seeds): " + "; ".join(parts) + "."


def missed_why(study: Study, model: str, what: str, original: float, longer_budgets: bool) -> str:
    """By how much a target row is missed, and why as far as the runs say: a point estimate below the original,
    or above it with an interval too wide to settle it; and (train-corrupted rows) the budget that meets it."""
    group = study.group(model)
    if group is None:
        return "not measured"
    figure = group.figure(what)
    why = (f"the estimate itself is below it, {100 * figure.value:.1f}" if 100 * figure.value <= original else
           f"the estimate is above it, {100 * figure.value:.1f}, but the interval over "
           f"{len(group.runs)} seed{'s' if len(group.runs) > 1 else ''} and the images reaches below")
    later = [e for e in study.budgets(model) if longer_budgets and e > study.budget
             and 100 * study.group(model, e).figure(what).low > original]
    if later:
        runs = len(study.group(model, later[0]).runs)
        why += f"; met at {later[0]} epochs, {runs} seed{'s' if runs > 1 else ''}"
    return f"{verdict(figure, original)}: {why}"


def runs_table(study: Study) -> list[str]:
    lines = [("| run | epochs | training images/s | training wall time | benchmark wall time (its run) | CPU | "
             "native bf16 | commit |"), "|---|---|---|---|---|---|---|---|"]
    for group in sorted(study.groups.values(), key=lambda g: (g.model, g.epochs)):
        for run in group.runs:
            t, b = run.meta["training"], run.meta["benchmark"]
            lines.append(f"| `{run.name}` | {t['epochs']} | {t['images_per_second']:.0f} | "
                         f"{t['wall_seconds'] / 60:.1f} min | {b['accuracy_seconds'] / 60:.1f} min "
                         f"({b['models_in_run']} models) | {t['cpu']} | {'yes' if t['cpu_native_bf16'] else 'no'} | "
                         f"{t['git_commit'][:8]} |")
    return lines


def runs_summary(study: Study) -> str:
    """One line: the range of training and benchmark wall times per run, the CPUs, native bf16."""
    runs = [run for group in study.groups.values() for run in group.runs if group.epochs == study.budget]
    if not runs:
        return ""
    train = [run.meta["training"]["wall_seconds"] / 60 for run in runs]
    speed = [run.meta["training"]["images_per_second"] for run in runs]
    bench = [run.meta["benchmark"]["accuracy_seconds"] / run.meta["benchmark"]["models_in_run"] / 60 for run in runs]
    cpus = sorted({run.meta["training"]["cpu"] for run in runs})
    native = sorted({"native bf16" if run.meta["training"]["cpu_native_bf16"] else "no native bf16" for run in runs})
    return (f"At the study budget, a run trained in {min(train):.1f}-{max(train):.1f} min ({min(speed):.0f}-"
            f"{max(speed):.0f} images/s) and was benchmarked in {min(bench):.1f}-{max(bench):.1f} min (its share of "
            f"its benchmark run), on {', '.join(cpus)} ({', '.join(native)}); every run is in the runs table of "
            "results/study-cpu/study.md.")


def section(study: Study, compact: bool = False, plots: str | None = None) -> str:
    """The study section (markdown): everything, or (compact) the README's share of it; `plots` is the
    plots folder as the document links it (none: the plots are not shown)."""
    def picture(name: str, title: str, shown: bool) -> list[str]:
        return ["", f"![{title}]({plots}/{name})"] if plots and shown else []

    n_runs = sum(len(g.runs) for g in study.groups.values())
    first = study.group(study.models()[0]) if study.models() else None
    images = first.grid_index().size if first else 0
    clean = first.values("clean").shape[1] if first else 0
    parts = [
        (f"_{n_runs} runs committed; the study budget is {study.budget} epochs; every corrupted cell holds the same "
        f"{images} class-balanced test images, the clean cell {clean}. Every figure is the mean over the seeds "
        "with a 95% interval over seeds and test images (benchmark/study/intervals.py); a run of one seed has an "
        "interval over the test images only, marked (1 seed)._"),
        "", ("**What the numbers say** (sentences built from the tables below; a difference is resolved where its "
             "95% interval excludes 0)"), "", *findings(study), "",
        "**Study 2, cross-entropy** (percent)", "", *study_2(study, "ce"), "",
        "**Study 2, angular loss + kNN** (percent)", "", *study_2(study, "angular"), "",
        "**Study 1, accuracy on corrupted test images** (percent)", "", *study_1(study), "",
        "**The study's comparisons** (percentage points, paired over the test images)", "", *comparisons_table(study),
        "", "**Budget: the gain of corrupted training** (`*_corrupted` − its clean twin, percentage points)", "",
        *budget_table(study), "", *budget_verdict(study),
        *picture("budget.png", "The gain of corrupted training against the budget", has_budget_curve(study)), "",
        "**The cost of int8** (an int8 copy − its float32 model, percentage points, paired over the test images)", "",
        *int8_table(study), "",
        "**Corruptions no model trained on: CIFAR-10-C-bar** (percent; differences in percentage points, paired)", "",
        *generalization_tables(study),
        *picture("generalization.png", "Accuracy on the corruptions trained on and not", bool(study.cbar_models())),
        "", runs_summary(study),
    ]
    if not compact:
        parts += ["", "**Each model** (percent; the drop in points, on the same images)", "", *models_table(study), "",
                  "**Per corruption** (percentage points, mean over the 5 severities)", "", *per_corruption_table(study),
                  "", "**Runs**", "", *runs_table(study)]
    return "\n".join(parts) + "\n"
