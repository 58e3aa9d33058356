"""Train tiny models, export them, serve them with a real TorchServe (behind its edge), and check
every endpoint's answer against onnxruntime run directly on the same image; then stop everything.

Everything lives in a temporary folder and on free ports, so a developer's running server and
artifacts are never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from fakeserving import free_ports, processes_mentioning

from robustcifar.artifacts import ModelArtifacts, ModelMeta
from robustcifar.classes import CLASS_NAMES
from robustcifar.gallery import Gallery
from robustcifar.imaging import encode_png, preprocess_image_bytes
from robustcifar.knn import knn_classify
from robustcifar.model_specs import MODEL_NAMES
from robustcifar.onnx_model import OnnxModel
from robustcifar.predictions import softmax

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def served(tiny_image_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    common = ["--artifacts", str(root / "artifacts")]
    data = ["--data", str(tiny_image_folder), "--data-dir", str(root / "data")]
    run("training", "--models", "all", "--profile", "quick", *common, *data, "--epochs", "1", "--batch-size", "50",
        "--eval-max-images", "50", "--knn-gallery-max", "100", "--umap-points", "60", "--no-progress")
    run("export", *common, *data, "--parity-images", "20", "--no-progress")
    inference, backend, management, metrics = free_ports(4)
    serve_args = [*common, "--state-dir", str(root / "state"), "--inference-port", str(inference),
                  "--backend-port", str(backend), "--management-port", str(management),
                  "--metrics-port", str(metrics), "--startup-timeout", "240"]
    run("serve", "archive", *serve_args)
    try:
        started = run("serve", "start", *serve_args)
        yield {"url": f"http://127.0.0.1:{inference}", "artifacts": root / "artifacts", "root": root,
               "start_output": started.stdout, "serve_args": serve_args}
    finally:
        run("serve", "stop", *serve_args)
    assert processes_mentioning(str(root / "state")) == [], "serving processes survived `serve stop`"


def test_training_left_its_outputs(served):
    for name in MODEL_NAMES:
        train_dir = ModelArtifacts.for_model(name, served["artifacts"]).train_dir
        for output in ("metrics.json", "metrics.csv", "curves.png", "umap.png", "config.json"):
            assert (train_dir / output).is_file(), f"{name} lacks {output}"
        metrics = json.loads((train_dir / "metrics.json").read_text())
        assert metrics["run"]["git_commit"] and metrics["history"][0]["epoch"] == 1


def test_start_waited_for_every_model(served):
    for name in MODEL_NAMES:
        assert f"{name} is ready" in served["start_output"]


def test_second_start_says_it_is_running(served):
    assert "already running" in run("serve", "start", *served["serve_args"]).stdout


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("style", ["put_raw", "post_form_urlencoded", "multipart"])
def test_endpoint_answers_like_onnxruntime(served, name, style):
    image = np.random.default_rng(7).integers(0, 256, (48, 40, 3), dtype=np.uint8)  # not 32x32: resized
    body = encode_png(image)
    url = f"{served['url']}/predictions/{name}"
    if style == "put_raw":  # curl -T
        response = requests.put(url, data=body, timeout=30)
    elif style == "post_form_urlencoded":  # curl --data-binary @img.png sends this content type
        response = requests.post(url, data=body, timeout=30,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:  # curl -F data=@img.png
        response = requests.post(url, files={"data": ("img.png", body, "image/png")}, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    artifacts = ModelArtifacts.for_model(name, served["artifacts"])
    meta = ModelMeta.load(artifacts.meta)
    output = OnnxModel(artifacts.onnx).run(preprocess_image_bytes(body))
    assert answer["model"] == name
    if meta.kind == "classifier":
        probabilities = softmax(output.astype(np.float64))[0]
        assert answer["class_id"] == int(np.argmax(probabilities)) and answer["label"] == CLASS_NAMES[answer["class_id"]]
        assert answer["confidence"] == pytest.approx(float(probabilities.max()), abs=1e-5)
        assert [answer["probabilities"][c] for c in CLASS_NAMES] == pytest.approx(probabilities.tolist(), abs=1e-5)
    else:
        gallery = Gallery.load(artifacts.gallery)
        knn = knn_classify(output, gallery.embeddings, gallery.labels, meta.knn_k, len(CLASS_NAMES))
        assert answer["embedding"] == pytest.approx(output[0].tolist(), abs=1e-5)
        assert answer["class_id"] == int(knn.labels[0]) and answer["label"] == CLASS_NAMES[answer["class_id"]]
        assert answer["confidence"] == pytest.approx(float(knn.confidence[0]))
        assert [n["similarity"] for n in answer["neighbors"]] == pytest.approx(knn.neighbor_similarities[0].tolist(), abs=1e-5)


def test_bad_input_is_a_400_and_the_model_still_answers(served):
    url = f"{served['url']}/predictions/ce_clean"
    response = requests.post(url, data=b"definitely not an image", timeout=30)
    assert response.status_code == 400 and response.json()["error"] == "unsupported_image"
    good = requests.post(url, data=encode_png(np.zeros((32, 32, 3), np.uint8)), timeout=30)
    assert good.status_code == 200


def test_unknown_model_is_404(served):
    response = requests.post(f"{served['url']}/predictions/no_such_model", data=b"x", timeout=30)
    assert response.status_code == 404
