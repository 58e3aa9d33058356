import numpy as np
import pytest

from benchmark.outcomes import Outcomes
from benchmark.summary import format_table, summarise


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
    assert "[unbounded]" in format_table(summary, n)


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
