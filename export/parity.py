"""Does model.onnx answer like the PyTorch model? Checked on real images through the serving path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from robustcifar.imaging import encode_png, preprocess_image_bytes
from robustcifar.model import RobustCifarNet
from robustcifar.onnx_model import OnnxModel

# float32 on both sides; differences come from kernel order only and stay far below this.
MAX_ABS_DIFF = 1e-3


@dataclass
class ParityReport:
    n_images: int
    max_abs_diff: float
    argmax_agreement: float

    @property
    def ok(self) -> bool:
        # Agreement of argmax is reported, not required: a near-tie may flip within tolerance.
        return self.max_abs_diff <= MAX_ABS_DIFF


def check_parity(model: RobustCifarNet, onnx_model: OnnxModel, images: np.ndarray) -> ParityReport:
    """Each image goes PNG -> preprocess (as a request would) -> both runtimes."""
    pixels = np.stack([preprocess_image_bytes(encode_png(image)) for image in images])
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(pixels)).numpy()
    actual = onnx_model.run(pixels)
    return ParityReport(
        n_images=len(images),
        max_abs_diff=float(np.max(np.abs(expected - actual))),
        argmax_agreement=float(np.mean(expected.argmax(1) == actual.argmax(1))),
    )
