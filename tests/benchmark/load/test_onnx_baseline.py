import json

import numpy as np
import pytest

from benchmark.load.latency import latency_row
from benchmark.load.load_test import StageResult
from benchmark.load.onnx_baseline import BaselineResult, main, measure_model
from robustcifar.gallery import Gallery


@pytest.mark.slow
def test_baseline_runs_in_a_fresh_process_and_reports_every_batch_size(tmp_path, tiny_onnx):
    onnx = tiny_onnx(tmp_path / "model.onnx")
    results = measure_model(onnx, None, 10, (1, 4), seconds=0.3)
    assert [r.batch_size for r in results] == [1, 4]
    for r in results:
        assert r.calls >= 5 and r.images_per_s > 0
        assert 0 < r.p50_ms <= r.p95_ms <= r.p99_ms


@pytest.mark.slow
def test_embedders_include_the_knn_vote(tmp_path, capsys, tiny_onnx):
    onnx = tiny_onnx(tmp_path / "model.onnx")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 10)).astype(np.float32)
    Gallery(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.arange(50) % 10).save(tmp_path / "g.npz")
    assert main(["--onnx", str(onnx), "--gallery", str(tmp_path / "g.npz"), "--knn-k", "5", "--seconds", "0.2",
                 "--batch-sizes", "2"]) == 0
    (result,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["batch_size"] == 2 and result["calls"] >= 5


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["--onnx", str(tmp_path / "nothing.onnx")]) == 2
    assert "no ONNX model" in capsys.readouterr().err


def test_served_figures_as_ratios_to_onnxruntime():
    stage = StageResult("ce_clean", 4, 15, 1500, 0, 100.0, 40.0, 36.0, 60.0, 80.0, 120.0)
    baseline = [BaselineResult(1, 1000, 400.0, 2.0, 3.0, 4.0, 2.5), BaselineResult(16, 100, 1000.0, 16.0, 17, 18, 16)]
    row = latency_row(stage, baseline)
    assert (row.ort_p50_ms, row.ort_p99_ms, row.ort_images_per_s) == (2.0, 4.0, 1000.0)
    assert (row.p50_ratio, row.p95_ratio, row.p99_ratio) == (18.0, 20.0, 20.0)
    assert row.throughput_ratio == pytest.approx(0.1)
    assert row.in_flight == pytest.approx(4.0)
