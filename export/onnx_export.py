"""checkpoint -> one self-contained model.onnx that takes uint8 pixels with a dynamic batch axis."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch

from robustcifar.artifacts import INPUT_NAME
from robustcifar.model import RobustCifarNet

OPSET = 17


def export_onnx(model: RobustCifarNet, path: Path) -> None:
    """Write `model` (eval mode, CPU) to `path` with every weight inside the file.

    The TorchScript-based exporter is used on purpose: it needs nothing beyond torch, behaves the
    same on torch 2.11 and 2.13, and never writes an external-data side file.
    """
    model = model.eval().cpu().to(memory_format=torch.contiguous_format)
    example = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice about dynamo=False
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[model.output_name],
            dynamic_axes={INPUT_NAME: {0: "batch"}, model.output_name: {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(str(tmp)), full_check=True)
    tmp.replace(path)
