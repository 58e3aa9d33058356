"""The study's tables from per-run outcomes alone: synthetic runs whose accuracies are known, through
the committed-file format, the analysis, the tables, the budget plot and the README block check."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from benchmark.study.__main__ import BEGIN, END, check_quantized_from_committed, main, replace_block
from benchmark.study.analysis import Study, StudyDataError
from benchmark.study.records import RunOutcomes, cell_name, load_runs
from benchmark.study.tables import budget_verdict, findings, section
from robustcifar.corruptions import (
    BENCHMARK_CORRUPTIONS,
    CBAR_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    SEVERITIES,
)
from robustcifar.errors import UsageError
from robustcifar.model_specs import run_name

CELL_IMAGES = np.arange(0, 1000, 5)  # the corrupted cells' test images, among the clean cell's 1000
ACCURACY = {"ce_clean": (0.60, 0.45), "ce_corrupted": (0.52, 0.50), "angular": (0.64, 0.46),
            "angular_corrupted": (0.58, 0.52)}  # (clean, corrupted)


def synthetic_run(model: str, seed: int, epochs: int = 5, budget: int = 5, shift: float = 0.0,
                  int8: bool = False, cbar: float | None = None, cifar10c: bool = True,
                  accuracy: tuple[float, float] | None = None) -> RunOutcomes:
    """Correct with the model's clean and corrupted chances; on CIFAR-10-C-bar's cells with `cbar`'s
    (none when None); without CIFAR-10-C's cells when not `cifar10c` (a later run of C-bar alone)."""
    rng = np.random.default_rng(zlib.crc32(repr((model, seed, epochs, int8, cbar, cifar10c)).encode()))
    clean_p, corrupted_p = (p + shift for p in (accuracy or ACCURACY[model]))
    cells, columns = [], {k: [] for k in ("cell", "test_index", "label", "correct", "predicted", "confidence")}

    def add(name: str, index: np.ndarray, p: float) -> None:
        cells.append(name)
        correct = rng.random(len(index)) < p
        columns["cell"].append(np.full(len(index), len(cells) - 1, np.int16))
        columns["test_index"].append(index.astype(np.int32))
        columns["label"].append((index % 10).astype(np.uint8))
        columns["correct"].append(correct)
        columns["predicted"].append(np.where(correct, index % 10, (index + 1) % 10).astype(np.int8))
        columns["confidence"].append(np.full(len(index), 0.5, np.float32))

    add(cell_name("clean", 0), rng.permutation(1000), clean_p)  # stored in any order
    for corruption in (*BENCHMARK_CORRUPTIONS, *EXTRA_CORRUPTIONS) if cifar10c else ():
        for severity in SEVERITIES:
            add(cell_name(corruption, severity), CELL_IMAGES, corrupted_p)
    for corruption in CBAR_CORRUPTIONS if cbar is not None else ():
        for severity in SEVERITIES:
            add(cell_name(corruption, severity), CELL_IMAGES, cbar)
    val_index = np.arange(500)
    held_out = {"val_index": val_index, "val_label": (val_index % 10).astype(np.int8),
                "val_predicted": np.where(rng.random(500) < clean_p, val_index % 10, 0).astype(np.int8),
                "corrupted_val_index": val_index, "corrupted_val_label": (val_index % 10).astype(np.int8),
                "corrupted_val_predicted": np.where(rng.random(500) < corrupted_p, val_index % 10, 0).astype(np.int8)}
    meta = {"run": run_name(model, seed, None if epochs == budget else epochs) + ("_int8" if int8 else ""),
            "training": {"epochs": epochs, "images_per_second": 150.0, "wall_seconds": 420.0, "cpu": "test CPU",
                         "cpu_native_bf16": True, "git_commit": "0123456789ab"},
            "benchmark": {"accuracy_seconds": 600.0, "models_in_run": 4}}
    return RunOutcomes(meta["run"], meta, cells, {k: np.concatenate(v) for k, v in columns.items()}, held_out)


@pytest.fixture
def committed(tmp_path):
    runs = [synthetic_run(model, seed) for model in ACCURACY for seed in (0, 1, 2)]
    runs += [synthetic_run(model, 0, epochs, shift=0.05 * (epochs // 10)) for model in ("ce_clean", "ce_corrupted")
             for epochs in (10, 20)]
    runs += [synthetic_run("ce_clean", seed, shift=-0.05, int8=True) for seed in (0, 1, 2)]
    folder = tmp_path / "study"
    for run in runs:
        run.save(folder / "runs")
    return folder


def test_runs_round_trip_through_the_committed_files(committed):
    runs = load_runs(committed / "runs")
    assert len(runs) == 12 + 4 + 3
    assert {r.name for r in runs} >= {"ce_clean", "ce_clean-seed2", "ce_corrupted-ep20"}
    assert json.loads((committed / "runs" / "angular-seed1.json").read_text())["training"]["epochs"] == 5


def test_figures_are_means_over_seeds_on_the_same_images(committed):
    study = Study.of(load_runs(committed / "runs"))
    assert study.budget == 5 and study.budgets("ce_clean") == [5, 10, 20]
    group = study.group("ce_clean")
    clean = group.values("clean")
    assert clean.shape == (3, 1000)
    direct = np.mean([r.bench["correct"][r.cell_rows("clean-s0")].mean() for r in group.runs])
    assert group.figure("clean").value == pytest.approx(direct)
    assert group.values("clean, same images").shape == (3, len(CELL_IMAGES))
    assert group.figure("15 benchmark").value == pytest.approx(0.45, abs=0.03)
    difference = study.difference("angular", "ce_clean", "clean")
    assert difference.value == pytest.approx(group_mean(study, "angular") - group_mean(study, "ce_clean"))
    assert difference.seeds == (3, 3) and difference.seed_variance_counted
    one_seed = study.difference("ce_corrupted", "ce_clean", "clean", epochs=20)
    assert not one_seed.seed_variance_counted


def group_mean(study: Study, model: str) -> float:
    return float(study.group(model).values("clean").mean())


def test_the_section_has_every_table_and_says_which_rows_use_one_seed(committed):
    text = section(Study.of(load_runs(committed / "runs")))
    for heading in ("Study 2, cross-entropy", "Study 2, angular loss", "Study 1", "comparisons", "Per corruption",
                    "Budget", "Runs"):
        assert heading in text
    assert "train corrupted / test corrupted, 20 epochs" in text and "(1 seed)" in text
    assert "Benjamini-Hochberg" in text and "`ce_corrupted` − `ce_clean`" in text
    assert "| `ce_clean_int8` − `ce_clean` | 5 | 3 |" in text  # the int8 copies are their own group
    assert text.count("| `ce_clean-seed1` |") == 1


def test_runs_on_other_images_are_refused(committed):
    runs = load_runs(committed / "runs")
    odd = next(r for r in runs if r.name == "ce_clean-seed1")
    rows = odd.cell_rows("clean-s0")
    odd.bench["test_index"][rows[0]] = 5000
    with pytest.raises(StudyDataError, match="other images"):
        Study.of(runs).group("ce_clean").values("clean")


def test_the_readme_block_is_rebuilt_and_checked(committed, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{BEGIN}\nstale numbers\n{END}\n\nafter\n")
    assert main(["report", "--results", str(committed), "--readme", str(readme), "--check"]) == 1
    assert main(["report", "--results", str(committed), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title") and text.endswith("after\n") and "stale numbers" not in text
    assert main(["report", "--results", str(committed), "--readme", str(readme), "--check"]) == 0
    assert (committed / "study.md").is_file() and (committed / "plots" / "budget.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="no study block"):
        replace_block("no markers", "x")
    capsys.readouterr()


def test_a_later_benchmark_adds_its_cells_to_the_committed_run():
    """collect's merge: the committed cells stay as they are, C-bar's join them, paired on the same images."""
    committed = synthetic_run("ce_clean", 0)
    later = synthetic_run("ce_clean", 0, cbar=0.3, cifar10c=False)
    merged, added = later.merged_with(committed)
    assert added == [cell_name(c, s) for c in CBAR_CORRUPTIONS for s in SEVERITIES]
    assert merged.bench_cells[: len(committed.bench_cells)] == committed.bench_cells
    for cell in committed.bench_cells:
        assert np.array_equal(merged.bench["correct"][merged.cell_rows(cell)],
                              committed.bench["correct"][committed.cell_rows(cell)])
    for cell in added:
        assert np.array_equal(merged.bench["correct"][merged.cell_rows(cell)],
                              later.bench["correct"][later.cell_rows(cell)])
    assert merged.held_out is committed.held_out and merged.meta["benchmark_more"][0]["cells"] == added
    assert later.merged_with(merged)[1] == []  # collecting the same benchmark again adds nothing
    moved = synthetic_run("ce_clean", 0, cbar=0.3, cifar10c=False)
    moved.bench["test_index"][moved.cell_rows("clean-s0")] += 1
    with pytest.raises(UsageError, match="other test images"):
        moved.merged_with(committed)


def test_a_benchmark_of_another_model_file_never_joins_the_committed_run():
    """A retrained model benchmarked under the committed run's name: refused, not merged, and not dropped
    silently either (collecting the same cells again would otherwise 'add nothing')."""
    committed = synthetic_run("ce_clean", 0)
    committed.meta["benchmark"]["served_sha256"] = ["a" * 64]
    for cbar, cifar10c in ((0.3, False), (None, True)):
        retrained = synthetic_run("ce_clean", 0, cbar=cbar, cifar10c=cifar10c)
        retrained.meta["benchmark"]["served_sha256"] = ["b" * 64]
        with pytest.raises(UsageError, match="another model file"):
            retrained.merged_with(committed)
    same = synthetic_run("ce_clean", 0, cbar=0.3, cifar10c=False)
    same.meta["benchmark"]["served_sha256"] = ["a" * 64]
    assert same.merged_with(committed)[1]


def test_the_generalization_tables_compare_on_c_bar_and_give_the_verdict():
    """ce_augmix 8 points behind ce_corrupted on the 15 it trained on, 12 ahead on C-bar: the verdict says so;
    a model without C-bar cells is left out rather than failing."""
    runs = [synthetic_run("ce_clean", seed, cbar=0.30) for seed in (0, 1, 2)]
    runs += [synthetic_run("ce_corrupted", seed, cbar=0.32) for seed in (0, 1, 2)]
    runs += [synthetic_run("ce_augmix", seed, cbar=0.44, accuracy=(0.60, 0.42)) for seed in (0, 1, 2)]
    runs += [synthetic_run("angular", seed) for seed in (0, 1, 2)]
    study = Study.of(runs)
    assert study.cbar_models() == ["ce_clean", "ce_corrupted", "ce_augmix"]
    gain = study.difference("ce_augmix", "ce_clean", "C-bar")
    assert gain.value == pytest.approx(0.14, abs=0.03) and gain.low > 0
    text = section(study)
    assert "| `ce_augmix` − `ce_corrupted` |" in text
    assert "AugMix behind on the twin's trained-for 15, behind on the 4 unseen, ahead on C-bar" in text
    no_cbar = section(Study.of([synthetic_run(m, 0) for m in ACCURACY]))
    assert "No run has been measured on CIFAR-10-C-bar yet" in no_cbar


def test_an_int8_copy_of_another_file_than_the_committed_float_run_is_refused(tmp_path):
    record = tmp_path / "ce_clean.json"
    record.write_text(json.dumps({"benchmark": {"served_sha256": ["a" * 64]}}))
    check_quantized_from_committed("ce_clean_int8", {"from_sha256": "a" * 64}, record)
    check_quantized_from_committed("ce_clean_int8", {"from_sha256": "b" * 64}, tmp_path / "absent.json")
    with pytest.raises(UsageError, match="quantized from a file"):
        check_quantized_from_committed("ce_clean_int8", {"from_sha256": "b" * 64}, record)


def test_the_findings_say_what_the_intervals_resolve_and_why_a_target_is_missed():
    """ce_corrupted far behind ce_clean on clean and far ahead under corruption: both resolved, in the
    direction of the data; the angular pair unmeasured: its comparisons and targets say so. ce_corrupted
    misses its target at the study budget with its estimate below it and meets it at 10 epochs."""
    runs = [synthetic_run("ce_clean", seed, accuracy=(0.90, 0.45)) for seed in (0, 1, 2)]
    runs += [synthetic_run("ce_corrupted", seed, accuracy=(0.30, 0.45)) for seed in (0, 1, 2)]  # corrupted: a tie
    runs += [synthetic_run("ce_corrupted", 0, epochs=10, accuracy=(0.30, 0.95))]
    lines = findings(Study.of(runs))
    targets = lines[0]
    assert targets.startswith("- Targets, study 2 at 5 epochs: 2 of 6 test rows")
    assert "`ce_corrupted` train corrupted / test corrupted (missed by" in targets
    assert "the estimate itself is below it" in targets and "met at 10 epochs, 1 seed" in targets
    assert "`angular` train clean / test clean (not measured)" in targets
    assert lines[1] == "- Targets, study 1: 2 of 3 rows met (missed: `angular`)."
    ce = next(line for line in lines if "`ce_corrupted` − `ce_clean`" in line)
    assert "behind on clean, -60." in ce and "ahead on 15 benchmark, +" not in ce
    assert ce.endswith("not resolved on 15 benchmark or 4 unseen (the interval holds 0).")
    runs[3:6] = [synthetic_run("ce_corrupted", seed, accuracy=(0.30, 0.85)) for seed in (0, 1, 2)]
    ce = next(line for line in findings(Study.of(runs)) if "`ce_corrupted` − `ce_clean`" in line)
    assert "behind on clean, -60." in ce and "ahead on 15 benchmark, +39." in ce and "not resolved" not in ce
    assert any(line == "- Corrupted vs clean training, angular loss: not measured." for line in lines)


def test_the_budget_verdict_names_the_smallest_paying_budget_and_marks_one_seed():
    runs = [synthetic_run(m, seed, accuracy=(0.6, 0.4)) for m in ("ce_clean", "ce_corrupted") for seed in (0, 1, 2)]
    runs += [synthetic_run("ce_clean", 0, epochs=e, accuracy=(0.9, 0.3)) for e in (10, 20)]
    runs += [synthetic_run("ce_corrupted", 0, epochs=e, accuracy=(0.5, 0.9)) for e in (10, 20)]
    lines = budget_verdict(Study.of(runs))
    assert ("- ce, 15 benchmark: corrupted training first pays at 10 epochs (the smallest budget whose lower bound "
            "is above 0; 1 seed, so over the test images only)") in lines
    assert lines[0].startswith("- ce, clean: no budget up to 20 epochs") and "it costs at 10, 20 epochs" in lines[0]
    assert lines[-1] == "- angular: not measured"


def test_an_int8_copy_pairs_with_its_float_run_at_the_same_budget():
    """A 20-epoch run's int8 copy against the 20-epoch float run (not the study budget's): its cost is
    the per-image difference of the two, one seed, and the findings give its verdict."""
    runs = [synthetic_run(m, seed) for m in ("ce_clean", "ce_corrupted") for seed in (0, 1, 2)]
    runs += [synthetic_run("ce_clean", 0, epochs=20, accuracy=(0.7, 0.5)),
             synthetic_run("ce_clean", 0, epochs=20, accuracy=(0.3, 0.5), int8=True)]
    study = Study.of(runs)
    assert study.int8_pairs() == [("ce_clean_int8", "ce_clean", 20)]
    cost = study.difference("ce_clean_int8", "ce_clean", "clean", 20)
    float_run, int8_run = study.group("ce_clean", 20).runs[0], study.group("ce_clean_int8", 20).runs[0]
    direct = (int8_run.bench["correct"][int8_run.cell_rows("clean-s0")].mean()
              - float_run.bench["correct"][float_run.cell_rows("clean-s0")].mean())
    assert cost.value == pytest.approx(direct) and not cost.seed_variance_counted
    text = section(study)
    assert "| `ce_clean_int8` − `ce_clean` | 20 | 1 | " + f"{100 * cost.value:+.1f}" in text
    assert any(line.startswith("- int8 at 20 epochs (`ce_clean_int8` − `ce_clean`, 1/1 seeds): behind on clean")
               for line in findings(study))


def test_c_bar_is_read_from_the_runs_measured_on_it_and_every_column_compares_those_runs():
    """Only seed 0 of ce_clean and ce_corrupted could be served again for C-bar: their rows use that run in
    every column (the 15 and the 4 unseen too), say which seed and that the interval is over the images."""
    runs = [synthetic_run("ce_clean", 0, cbar=0.30)] + [synthetic_run("ce_clean", s) for s in (1, 2)]
    runs += [synthetic_run("ce_corrupted", 0, cbar=0.40)] + [synthetic_run("ce_corrupted", s) for s in (1, 2)]
    study = Study.of(runs)
    assert study.cbar_models() == ["ce_clean", "ce_corrupted"]
    assert study.cbar_group("ce_clean").seeds == [0]
    on_15 = study.cbar_difference("ce_corrupted", "ce_clean", "15 benchmark")
    a, b = (study.group(m).runs[0] for m in ("ce_corrupted", "ce_clean"))
    naive = np.mean([a.bench["correct"][a.cell_rows(cell_name(c, s))].mean()
                     - b.bench["correct"][b.cell_rows(cell_name(c, s))].mean()
                     for c in BENCHMARK_CORRUPTIONS for s in SEVERITIES])
    assert on_15.value == pytest.approx(naive) and not on_15.seed_variance_counted
    assert study.difference("ce_corrupted", "ce_clean", "15 benchmark").seeds == (3, 3)  # the study's own: 3 seeds
    text = section(study)
    row = next(line for line in text.splitlines() if line.startswith("| `ce_corrupted` | 0 | "))
    assert row.count("(1 seed)") == 4  # C-bar and the three differences


def test_an_int8_copy_is_paired_with_the_float_run_of_its_own_seed():
    """An int8 copy of seed 1 alone is compared with float seed 1, not with the mean over the float seeds; with
    copies of every seed, the interval is the one of the per-run differences (a naive computation)."""
    floats = [synthetic_run("ce_clean", seed, shift=0.1 * seed) for seed in (0, 1, 2)]
    copies = [synthetic_run("ce_clean", seed, shift=0.1 * seed - 0.05, int8=True) for seed in (0, 1, 2)]
    one = Study.of(floats + copies[1:2])
    cost = one.difference("ce_clean_int8", "ce_clean", "clean")
    clean = {r.name: r.bench["correct"][r.cell_rows("clean-s0")].mean() for r in floats + copies}
    assert cost.value == pytest.approx(clean["ce_clean-seed1_int8"] - clean["ce_clean-seed1"])
    assert not cost.seed_variance_counted
    every = Study.of(floats + copies).difference("ce_clean_int8", "ce_clean", "clean")
    per_run = []
    for f, q in zip(floats, copies):
        order_f = np.argsort(f.bench["test_index"][f.cell_rows("clean-s0")])
        order_q = np.argsort(q.bench["test_index"][q.cell_rows("clean-s0")])
        per_run.append(q.bench["correct"][q.cell_rows("clean-s0")][order_q].astype(float)
                       - f.bench["correct"][f.cell_rows("clean-s0")][order_f])
    d = np.array(per_run)
    se = np.sqrt(np.var(d.mean(axis=1), ddof=1) / 3 + np.var(d.mean(axis=0), ddof=1) / d.shape[1])
    assert every.value == pytest.approx(d.mean())
    assert every.high - every.low > 2 * 1.96 * se  # a t interval, wider than the normal one of the same s.e.
    assert every.high - every.low < 2 * 4.31 * se  # and no wider than t at 2 degrees of freedom
    with pytest.raises(StudyDataError, match="no run of seed"):
        Study.of(floats[:1] + copies[1:2]).difference("ce_clean_int8", "ce_clean", "clean")


def test_the_generalization_plot_is_drawn_only_from_runs_measured_on_c_bar(tmp_path):
    from benchmark.study.plot import plot_generalization

    without = Study.of([synthetic_run(m, 0) for m in ACCURACY])
    assert plot_generalization(without, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()
    study = Study.of([synthetic_run("ce_clean", 0, cbar=0.3), synthetic_run("ce_augmix", 0, cbar=0.45,
                                                                            accuracy=(0.6, 0.42))])
    assert plot_generalization(study, tmp_path / "g.png").stat().st_size > 10_000
    assert "![Accuracy on the corruptions trained on and not](p/generalization.png)" in section(study, plots="p")
    assert "generalization.png" not in section(without, plots="p")
