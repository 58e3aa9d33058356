import numpy as np
import onnx
import pytest
import torch

from export.onnx_export import export_onnx
from export.parity import check_parity
from robustcifar.model import RobustCifarNet
from robustcifar.onnx_model import OnnxModel


@pytest.fixture(scope="module", params=["classifier", "embedder"])
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    model = RobustCifarNet(request.param).eval()
    # non-trivial BatchNorm statistics, so folding them into the graph is really exercised
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_onnx(model, path)
    return model, path


def test_single_self_contained_file(exported):
    _, path = exported
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"]
    graph = onnx.load(str(path), load_external_data=False).graph
    assert all(not init.external_data for init in graph.initializer)
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8


@pytest.mark.parametrize("batch", [1, 5, 64])
def test_onnx_matches_pytorch_for_any_batch(exported, batch):
    model, path = exported
    images = np.random.default_rng(batch).integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
    report = check_parity(model, OnnxModel(path), images)
    assert report.ok and report.max_abs_diff < 1e-4, report


def test_export_without_a_checkpoint_says_so_before_loading_data(tmp_path, capsys, monkeypatch):
    import export.__main__ as export_main

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded although nothing can be exported")

    monkeypatch.setattr(export_main, "load_cifar10", no_data)
    assert export_main.main(["--artifacts", str(tmp_path), "--models", "angular"]) == 2
    assert "train angular first" in capsys.readouterr().err
