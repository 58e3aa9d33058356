import numpy as np
import pytest

from benchmark.accuracy.outcomes import Outcomes
from benchmark.accuracy.summary import format_table, summarise


def hand_outcomes() -> Outcomes:
    """4 test images; clean, gaussian_noise at severities 1 and 2 (benchmark), speckle_noise 1 (unseen)."""
    outcomes = Outcomes(["clean", "gaussian_noise", "gaussian_noise", "speckle_noise"], [0, 1, 2, 1],
                        np.array([0, 1, 2, 3]))
    outcomes.correct["ce_clean"] = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]], bool)
    outcomes.correct["ce_corrupted"] = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], bool)
    for model in outcomes.correct:
        outcomes.failed[model] = np.zeros((4, 4), bool)
    outcomes.failed["ce_corrupted"][3, 3] = True
    outcomes.failures_by_status = {"ce_corrupted": {"HTTP 503": 1}}
    return outcomes


def test_summary_against_hand_computed_values(tmp_path):
    summary = summarise(hand_outcomes(), "ce_clean", resamples=500)
    baseline, model = summary["ce_clean"], summary["ce_corrupted"]
    # clean: 3/4 and 4/4, Wilson intervals (4/4: lower bound 4 / (4 + 1.96^2) = .5101)
    assert baseline["clean"]["value"] == 0.75 and model["clean"]["value"] == 1.0
    assert model["clean"]["ci95"] == [pytest.approx(0.5101, abs=1e-4), 1.0] and model["clean"]["n"] == 4
    # benchmark mean over gaussian_noise 1, 2: (.75 + .5) / 2; per-image scores 1, 1, .5, 0
    assert model["benchmark_mean"]["value"] == pytest.approx(0.625)
    assert model["benchmark_mean"]["ci95"] == [pytest.approx(0.155869, abs=1e-5), 1.0]
    assert baseline["benchmark_mean"]["value"] == pytest.approx(0.375)
    assert model["extra_mean"]["value"] == pytest.approx(0.25)
    # CE on gaussian_noise: (.25 + .5) / (.5 + .75) = .6; relative: (.25 + .5 - 0) / (.25 + .5) = 1
    assert model["mce"]["value"] == pytest.approx(0.6)
    assert model["relative_mce"]["value"] == pytest.approx(1.0)
    # unseen (speckle_noise): .75 / .5 = 1.5; relative: (.75 - 0) / (.5 - .25) = 3
    assert model["unseen_mce"]["value"] == pytest.approx(1.5)
    assert model["unseen_relative_mce"]["value"] == pytest.approx(3.0)
    assert model["per_corruption"]["gaussian_noise"]["ce"]["value"] == pytest.approx(0.6)
    assert set(model["per_severity"]) == {"1", "2"}
    # severity 1: per-image 1, 1, 1, 0: mean .75, sd .5, half-width 1.96 * .5 / 2 = .49
    assert model["per_severity"]["1"]["value"] == pytest.approx(0.75)
    assert model["per_severity"]["1"]["ci95"] == [pytest.approx(0.26, abs=1e-3), 1.0]
    assert model["per_severity"]["2"]["value"] == pytest.approx(0.5)
    assert (model["failed_requests"], model["requests"], model["failures_by_status"]) == (1, 16, {"HTTP 503": 1})


def test_the_baseline_has_mce_exactly_one_with_a_degenerate_interval():
    baseline = summarise(hand_outcomes(), "ce_clean", resamples=200)["ce_clean"]
    assert baseline["mce"]["value"] == pytest.approx(1.0)
    assert baseline["mce"]["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_mce_interval_contains_the_figure_and_is_reproducible():
    rng = np.random.default_rng(3)
    cells = [("clean", 0)] + [(c, s) for c in ("gaussian_noise", "fog") for s in (1, 2, 3)]
    outcomes = Outcomes([c for c, _ in cells], [s for _, s in cells], np.arange(200) % 10)
    for model, p in (("ce_clean", 0.5), ("angular", 0.65)):
        outcomes.correct[model] = rng.random((len(cells), 200)) < p
        outcomes.failed[model] = np.zeros((len(cells), 200), bool)
    first, again = summarise(outcomes, seed=5)["angular"], summarise(outcomes, seed=5)["angular"]
    low, high = first["mce"]["ci95"]
    assert low < first["mce"]["value"] < high
    assert first["mce"] == again["mce"]
    assert high - low < 0.3


def test_without_the_baseline_model_there_is_no_mce():
    outcomes = hand_outcomes()
    del outcomes.correct["ce_clean"], outcomes.failed["ce_clean"]
    summary = summarise(outcomes, "ce_clean", resamples=50)["ce_corrupted"]
    assert summary["mce"] is None and summary["relative_mce"] is None
    assert summary["benchmark_mean"]["value"] == pytest.approx(0.625)
    assert "n/a" in format_table({"ce_corrupted": summary}, 4)


def test_outcomes_survive_a_round_trip(tmp_path):
    outcomes = hand_outcomes()
    outcomes.save(tmp_path / "outcomes.npz")
    loaded = Outcomes.load(tmp_path / "outcomes.npz")
    assert loaded.models == outcomes.models and loaded.corruptions == outcomes.corruptions
    assert loaded.severities == outcomes.severities
    for model in outcomes.models:
        assert np.array_equal(loaded.correct[model], outcomes.correct[model])
        assert np.array_equal(loaded.failed[model], outcomes.failed[model])


def test_relative_ce_is_unbounded_when_the_baseline_barely_loses_accuracy():
    # 40 images. The baseline gets images 0-9 wrong clean and under gaussian_noise, and loses only
    # image 10 to the corruption: a resample without image 10 (about 37% of them) shows no loss to
    # divide by. Its errors (11 of 40) leave the plain CE well defined.
    n = 40
    outcomes = Outcomes(["clean", "gaussian_noise"], [0, 1], np.arange(n) % 10)
    baseline = np.ones((2, n), bool)
    baseline[:, :10] = False
    baseline[1, 10] = False
    model = np.ones((2, n), bool)
    model[1, :4] = False
    outcomes.correct = {"ce_clean": baseline, "angular": model}
    outcomes.failed = {m: np.zeros((2, n), bool) for m in outcomes.correct}
    summary = summarise(outcomes, "ce_clean", resamples=400)
    rel = summary["angular"]["relative_mce"]
    assert rel["value"] == pytest.approx(4.0)  # 4 images lost against 1
    assert rel["unbounded"] and rel["ci95"] == [None, None]
    assert summary["angular"]["per_corruption"]["gaussian_noise"]["relative_ce"]["unbounded"]
    mce = summary["angular"]["mce"]
    assert mce["value"] == pytest.approx(4 / 11) and "unbounded" not in mce
    assert mce["ci95"][0] < 4 / 11 < mce["ci95"][1]
    assert summary["ce_clean"]["relative_mce"]["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]
    table = format_table(summary, n)
    assert "not estimable" in table and "unbounded" not in table  # no value printed without an interval


def test_ce_is_unbounded_when_the_baseline_makes_almost_no_errors():
    n = 40
    outcomes = Outcomes(["clean", "fog"], [0, 1], np.arange(n) % 10)
    baseline = np.ones((2, n), bool)
    baseline[1, 0] = False  # one error in all
    model = np.ones((2, n), bool)
    model[1, :3] = False
    outcomes.correct = {"ce_clean": baseline, "ce_corrupted": model}
    outcomes.failed = {m: np.zeros((2, n), bool) for m in outcomes.correct}
    mce = summarise(outcomes, "ce_clean", resamples=400)["ce_corrupted"]["mce"]
    assert mce["value"] == pytest.approx(3.0) and mce["unbounded"]


def naive_t_interval(differences: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval of paired differences, written out by hand."""
    from scipy.stats import t

    n = len(differences)
    mean = sum(differences) / n
    variance = sum((d - mean) ** 2 for d in differences) / (n - 1)
    half = t.ppf(0.975, n - 1) * (variance / n) ** 0.5
    return mean, mean - half, mean + half


def test_paired_difference_matches_a_hand_written_t_interval():
    rng = np.random.default_rng(11)
    n = 300
    cells = [("clean", 0)] + [(c, s) for c in ("gaussian_noise", "fog", "speckle_noise") for s in (1, 2)]
    outcomes = Outcomes([c for c, _ in cells], [s for _, s in cells], np.arange(n) % 10)
    for model, p in (("ce_clean", 0.5), ("angular", 0.6)):
        outcomes.correct[model] = rng.random((len(cells), n)) < p
        outcomes.failed[model] = np.zeros((len(cells), n), bool)
    d = summarise(outcomes, "ce_clean", resamples=50)["angular"]["difference_to_baseline"]
    mine, base = outcomes.correct["angular"].astype(float), outcomes.correct["ce_clean"].astype(float)
    # benchmark corruptions here: gaussian_noise and fog (cells 1-4); each image's mean over them
    per_image = [(mine[1:5, i].mean() - base[1:5, i].mean()) for i in range(n)]
    mean, low, high = naive_t_interval(per_image)
    assert d["benchmark_mean"]["value"] == pytest.approx(mean)
    assert d["benchmark_mean"]["ci95"] == [pytest.approx(low), pytest.approx(high)]
    assert d["benchmark_mean"]["n"] == n
    mean, low, high = naive_t_interval([mine[0, i] - base[0, i] for i in range(n)])
    assert d["clean"]["value"] == pytest.approx(mean) and d["clean"]["ci95"] == [pytest.approx(low), pytest.approx(high)]
    mean, _, _ = naive_t_interval([mine[5:7, i].mean() - base[5:7, i].mean() for i in range(n)])
    assert d["extra_mean"]["value"] == pytest.approx(mean)
    assert d["per_corruption"]["fog"]["value"] == pytest.approx(mine[3:5].mean() - base[3:5].mean())
    # two models that mostly agree (as two models on the same images do): the paired interval is far
    # tighter than the one of either model's own accuracy
    agree = outcomes.correct["ce_clean"] | (rng.random(outcomes.correct["ce_clean"].shape) < 0.1)
    outcomes.correct["angular"] = agree
    paired = summarise(outcomes, "ce_clean", resamples=50)["angular"]
    width = paired["difference_to_baseline"]["clean"]["ci95"][1] - paired["difference_to_baseline"]["clean"]["ci95"][0]
    assert width < 0.5 * (paired["clean"]["ci95"][1] - paired["clean"]["ci95"][0])
    # the baseline has no difference to itself; identical models differ by exactly 0
    assert summarise(outcomes, "ce_clean", resamples=50)["ce_clean"]["difference_to_baseline"] is None
    outcomes.correct["angular"] = outcomes.correct["ce_clean"].copy()
    same = summarise(outcomes, "ce_clean", resamples=50)["angular"]["difference_to_baseline"]["benchmark_mean"]
    assert same["value"] == 0 and same["ci95"] == [0, 0]


def test_a_clean_cell_on_more_images_gives_the_clean_figures_and_keeps_the_grid_paired(tmp_path):
    from benchmark.accuracy.measure import accuracy_rows
    from benchmark.accuracy.outcomes import CleanCell

    rng = np.random.default_rng(5)
    n_all, shared = 1000, np.arange(0, 1000, 10)  # the corrupted cells hold every 10th clean image
    labels = np.arange(n_all) % 10
    outcomes = Outcomes(["clean", "gaussian_noise"], [0, 1], labels[shared])
    outcomes.clean_all = CleanCell(labels)
    for model in ("ce_clean", "ce_corrupted"):
        clean = rng.random(n_all) < 0.7
        outcomes.clean_all.correct[model], outcomes.clean_all.failed[model] = clean, np.zeros(n_all, bool)
        outcomes.correct[model] = np.stack([clean[shared], rng.random(len(shared)) < 0.4])
        outcomes.failed[model] = np.zeros((2, len(shared)), bool)
    outcomes.clean_all.failed["ce_corrupted"][[1, 2]] = True  # two failed clean requests outside the grid
    summary = summarise(outcomes, "ce_clean", resamples=50)
    model = summary["ce_corrupted"]
    assert model["clean"]["n"] == n_all
    assert model["clean"]["value"] == pytest.approx(outcomes.clean_all.correct["ce_corrupted"].mean())
    assert model["difference_to_baseline"]["clean"]["n"] == n_all
    assert model["benchmark_mean"]["n"] == len(shared)
    assert (model["failed_requests"], model["requests"]) == (2, n_all + len(shared))
    rows = {(r.model, r.corruption): r for r in accuracy_rows(outcomes)}
    assert rows[("ce_corrupted", "clean")].n == n_all and rows[("ce_corrupted", "clean")].failed == 2
    assert rows[("ce_corrupted", "gaussian_noise")].n == len(shared)
    outcomes.save(tmp_path / "outcomes.npz")
    again = Outcomes.load(tmp_path / "outcomes.npz")
    assert np.array_equal(again.clean_all.correct["ce_clean"], outcomes.clean_all.correct["ce_clean"])
    assert summarise(again, "ce_clean", resamples=50)["ce_corrupted"]["clean"] == model["clean"]
