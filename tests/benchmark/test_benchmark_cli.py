"""`python -m benchmark` end to end against the stub server: accuracy, Locust, onnxruntime, report."""

import csv
import json
import math

import pytest

from benchmark.__main__ import check_served_models, main
from benchmark.report.__main__ import main as report_main
from robustcifar.artifacts import ModelMeta, sha256_file
from robustcifar.classes import CLASS_NAMES

pytestmark = pytest.mark.slow


def fake_artifacts(root, tiny_onnx):
    onnx = tiny_onnx(root / "ce_clean" / "model.onnx")
    ModelMeta(name="ce_clean", kind="classifier", class_names=list(CLASS_NAMES), output_name="logits",
              onnx_sha256=sha256_file(onnx)).save(root / "ce_clean" / "meta.json")
    return root


def test_benchmark_against_a_stub_server(stub_server, tiny_image_folder, tmp_path, tiny_onnx, capsys):
    url, counts = stub_server
    artifacts, out = fake_artifacts(tmp_path / "artifacts", tiny_onnx), tmp_path / "run"
    code = main(["--url", url, "--profile", "quick", "--data", str(tiny_image_folder), "--data-dir",
                 str(tmp_path / "data"), "--per-class", "2", "--corruptions", "gaussian_noise", "speckle_noise",
                 "ripple", "--severities", "1", "2", "--latency-models", "ce_clean", "--users", "2", "--stage-seconds", "2",
                 "--baseline-seconds", "0.2", "--bootstrap", "100", "--artifacts", str(artifacts), "--out", str(out),
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    with open(out / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 7  # 4 models x (clean + 3 corruptions x 2 severities)
    # the stub's ce_clean always answers class 0: exactly 2 of the 20 class-balanced images are right
    assert {(r["correct"], r["n"], r["failed"]) for r in rows if r["model"] == "ce_clean"} == {("2", "20", "0")}
    # angular answers 503: every request failed, counted as wrong, and reported
    assert {(r["correct"], r["failed"]) for r in rows if r["model"] == "angular"} == {("0", "20")}
    summary = json.loads((out / "summary.json").read_text())
    models = summary["accuracy"]["models"]
    assert models["ce_clean"]["clean"]["value"] == pytest.approx(0.1)
    assert models["ce_clean"]["mce"]["value"] == pytest.approx(1.0)
    # ripple is CIFAR-10-C-bar's: a family of its own, beside the 15 and the 4
    assert models["ce_clean"]["cbar_mean"]["value"] == pytest.approx(0.1)
    assert models["ce_clean"]["cbar_mce"]["value"] == pytest.approx(1.0)
    assert models["angular"]["failures_by_status"] == {"HTTP 503": 140}
    # calibration: the stub is always 55% sure of class 0 and right on 10% of the images
    nll = -(0.1 * math.log(0.55) + 0.9 * math.log(0.05))
    with open(out / "calibration.csv") as f:
        calibration = [r for r in csv.DictReader(f) if r["model"] == "ce_clean"]
    assert len(calibration) == 7 and {r["n"] for r in calibration} == {"20"}
    # the plain ECE is exact; the reported one is bias-corrected by the bootstrap, which for a statistic this
    # close to linear (one bin, confidence above every accuracy) moves it by bootstrap noise only
    assert all(float(r["ece_uncorrected"]) == pytest.approx(0.45) and float(r["nll"]) == pytest.approx(nll)
               for r in calibration)
    assert all(float(r["ece"]) == pytest.approx(0.45, abs=0.03) for r in calibration)
    clean_calibration = models["ce_clean"]["calibration"]["clean"]
    assert clean_calibration["ece"]["uncorrected"] == pytest.approx(0.45) and clean_calibration["nll"]["n"] == 20
    low, high = clean_calibration["ece"]["ci95"]
    assert low <= clean_calibration["ece"]["value"] <= high
    assert models["angular"]["calibration"]["clean"]["ece"] is None  # no answers, nothing to calibrate
    with open(out / "reliability.csv") as f:
        bins = [r for r in csv.DictReader(f) if r["model"] == "ce_clean" and r["cells"] == "clean"]
    assert [int(r["count"]) for r in bins if int(r["count"])] == [20] and len(bins) == 15
    assert summary["model_files"]["ce_clean"]["onnx_matches_meta"] is True
    # the stub's answers do not say which model file made them: recorded as such, and flagged
    assert summary["model_files"]["ce_clean"]["served_sha256"] == ["unknown"]
    assert summary["model_files"]["ce_clean"]["served_matches_meta"] is False
    assert "did not say which model file answered for ce_clean" in capsys.readouterr().out
    assert summary["model_files"]["angular"]["onnx_sha256"] is None
    assert summary["run"]["git_commit"] and summary["data_source_kind"]
    assert [b["batch_size"] for b in summary["latency"]["onnxruntime"]["ce_clean"]] == [1, 8]  # the server batches 8: its baseline does too
    with open(out / "latency" / "latency.csv") as f:
        (stage,) = list(csv.DictReader(f))
    assert stage["model"] == "ce_clean" and stage["users"] == "2" and int(stage["requests"]) > 0
    assert float(stage["throughput_ratio"]) > 0
    assert counts["ce_clean"] >= 140 + int(stage["requests"])
    assert report_main(["--run", str(out), "--artifacts", str(artifacts)]) == 0
    assert (out / "index.html").is_file() and (out / "summary.md").is_file()
    markdown = (out / "summary.md").read_text()
    assert "Calibration: expected calibration error" in markdown
    assert "CIFAR-10-C-bar (unseen by design)" in markdown
    assert f"| ce_clean | {100 * clean_calibration['ece']['value']:.1f} [" in markdown  # its clean ECE, as above
    assert (out / "plots" / "reliability.png").is_file() and (out / "plots" / "ece_by_family.png").is_file()


def test_unreachable_server_is_a_one_line_error(tmp_path, capsys):
    assert main(["--url", "http://127.0.0.1:9", "--no-latency", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nothing answers") and "Traceback" not in err


def test_a_remote_load_test_target_is_refused(capsys):
    assert main(["--url", "http://192.0.2.1:8080"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_a_usage_error_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    assert main(["--models", "no_such_model", "--no-latency"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'no_such_model'") and len(err.strip().splitlines()) == 1

    def broken(config):
        raise RuntimeError("a bug in the benchmark")

    monkeypatch.setattr("benchmark.__main__.run", broken)
    with pytest.raises(RuntimeError, match="a bug in the benchmark"):
        main(["--no-latency"])


def test_served_model_files_are_checked_against_meta(capsys):
    files = {"a": {"onnx_sha256": "1" * 64}, "b": {"onnx_sha256": "2" * 64}, "c": {"onnx_sha256": "3" * 64}}
    check_served_models(files, {"a": {"1" * 64: 5}, "b": {"9" * 64: 5}, "c": {"unknown": 5}})
    assert [files[m]["served_matches_meta"] for m in "abc"] == [True, False, False]
    out = capsys.readouterr().out
    assert "b was answered by model file(s) 999999999999" in out
    assert "did not say which model file answered for c" in out and "c was answered" not in out
    assert "for a" not in out and "a was answered" not in out
