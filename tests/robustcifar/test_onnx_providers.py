"""Asking onnxruntime for CUDA must fail loudly where CUDA cannot run (here: no GPU, CPU wheel)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from robustcifar import onnx_model
from robustcifar.artifacts import INPUT_NAME
from robustcifar.onnx_model import (
    PROVIDER_ENV,
    OnnxModel,
    ProviderUnavailable,
    check_session_providers,
    execution_providers,
    providers_from_environment,
)

CUDA_HERE = "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.fixture
def no_cuda_provider(monkeypatch):
    """An onnxruntime without the CUDA provider, whatever the machine (the plain CPU wheel)."""
    monkeypatch.setattr(onnx_model.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """A one-node model with the project's input name: enough to open a session."""
    pixels = helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", 32, 32, 3])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 32, 32, 3])
    graph = helper.make_graph([helper.make_node("Cast", [INPUT_NAME], ["out"], to=TensorProto.FLOAT)], "cast",
                              [pixels], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path_factory.mktemp("onnx") / "cast.onnx"
    onnx.save(model, path)
    return path


def test_cpu_is_the_default_and_always_available():
    assert providers_from_environment({}) == ["CPUExecutionProvider"]
    assert providers_from_environment({PROVIDER_ENV: ""}) == ["CPUExecutionProvider"]
    assert execution_providers(" CPU ") == ["CPUExecutionProvider"]


def test_cuda_requested_without_the_cuda_provider_raises_a_clear_error(no_cuda_provider):
    with pytest.raises(ProviderUnavailable) as caught:
        providers_from_environment({PROVIDER_ENV: "cuda"})
    message = str(caught.value)
    assert "CUDAExecutionProvider" in message and "onnxruntime-gpu" in message and PROVIDER_ENV in message


@pytest.mark.skipif(CUDA_HERE, reason="this onnxruntime has the CUDA provider")
def test_cuda_requested_on_this_machine_raises():
    with pytest.raises(ProviderUnavailable, match="CUDAExecutionProvider"):
        execution_providers("cuda")


def test_unknown_device_is_rejected():
    with pytest.raises(ProviderUnavailable, match="unknown onnxruntime device 'tpu'"):
        execution_providers("tpu")


def test_a_session_that_fell_back_to_the_cpu_is_refused():
    with pytest.raises(ProviderUnavailable, match="fell back to CPUExecutionProvider"):
        check_session_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"])
    check_session_providers(["CUDAExecutionProvider", "CPUExecutionProvider"],
                            ["CUDAExecutionProvider", "CPUExecutionProvider"])


@pytest.mark.skipif(CUDA_HERE, reason="this onnxruntime has the CUDA provider")
@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider' is not in available")
def test_onnx_model_refuses_the_silent_cpu_fallback(tiny_onnx):
    # onnxruntime only warns when asked for a provider it lacks, and runs on the CPU.
    with pytest.raises(ProviderUnavailable, match="fell back"):
        OnnxModel(tiny_onnx, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_onnx_model_on_the_cpu_runs(tiny_onnx):
    pixels = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
    model = OnnxModel(tiny_onnx, providers=execution_providers("cpu"))
    assert model.session.get_providers() == ["CPUExecutionProvider"]
    np.testing.assert_array_equal(model.run(pixels), pixels.astype(np.float32))
