"""Classifiers "exported elsewhere", with input contracts unlike ours, and images they classify.

Every class has a fixed colour (COLOURS); an image is that colour plus noise. The model takes the
mean colour of its input (in whatever layout, scale and normalisation it declares) and scores each
class by closeness to that class's colour mapped the same way: right under its own contract, wrong
under a mistaken one (swapped channels or missing normalisation move every colour).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

from robustcifar.classes import CLASS_NAMES

# RGB colours whose channel-swapped versions are far from every class colour
COLOURS = np.array([[220, 40, 40], [40, 200, 60], [60, 60, 220], [230, 200, 30], [160, 40, 200],
                    [30, 190, 190], [240, 140, 20], [120, 120, 40], [200, 100, 150], [90, 30, 110]], np.float64)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def colour_images(n_per_class: int, seed: int = 0, noise: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), n_per_class)
    images = np.clip(COLOURS[labels][:, None, None, :] + rng.normal(0, noise, (len(labels), 32, 32, 3)), 0, 255)
    return images.astype(np.uint8), labels


def write_colour_folder(root: Path, n_train: int = 2, n_test: int = 10) -> Path:
    """train/ and test/ class folders of PNGs, as the image-folder reader takes them."""
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        images, labels = colour_images(n, seed)
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:04d}.png")
    return root


@dataclass
class Contract:
    layout: str = "NCHW"
    dtype: str = "float32"
    scale: float = 1 / 255
    mean: tuple = CIFAR_MEAN
    std: tuple = CIFAR_STD
    channels: str = "RGB"
    output: str = "logits"
    class_order: tuple[str, ...] = CLASS_NAMES  # the model's output order
    batch: int | str = "N"
    outputs: int = 10

    def to_model_space(self, rgb: np.ndarray) -> np.ndarray:
        """(..., 3) RGB 0-255 -> what the model sees per channel (in its channel order)."""
        x = rgb[..., ::-1] if self.channels == "BGR" else rgb
        if self.dtype == "uint8":
            return x.astype(np.float64)
        return (x * self.scale - np.array(self.mean)) / np.array(self.std)

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """Our uint8 NHWC RGB pixels -> this model's input, written out plainly for the tests."""
        x = pixels[..., ::-1] if self.channels == "BGR" else pixels
        if self.dtype == "float32":
            x = ((x.astype(np.float32) * np.float32(self.scale) - np.array(self.mean, np.float32))
                 / np.array(self.std, np.float32))
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if self.layout == "NCHW" else x)


def foreign_classifier(path: Path, contract: Contract) -> Path:
    """Write the nearest-colour classifier for `contract` to `path`."""
    order = [CLASS_NAMES.index(c) for c in contract.class_order]
    templates = contract.to_model_space(COLOURS[order])[: contract.outputs]
    weights = (2 * templates.T).astype(np.float32)  # -|x - t|^2 = 2 x.t - |t|^2 - |x|^2 (the last is per row)
    bias = (-(templates**2).sum(axis=1)).astype(np.float32)
    spatial = [2, 3] if contract.layout == "NCHW" else [1, 2]
    shape = [contract.batch, 3, 32, 32] if contract.layout == "NCHW" else [contract.batch, 32, 32, 3]
    elem = TensorProto.FLOAT if contract.dtype == "float32" else TensorProto.UINT8
    nodes = []
    x = "input"
    if contract.dtype == "uint8":
        nodes.append(helper.make_node("Cast", [x], ["as_float"], to=TensorProto.FLOAT))
        x = "as_float"
    nodes += [helper.make_node("ReduceMean", [x], ["colour"], axes=spatial, keepdims=0),
              helper.make_node("MatMul", ["colour", "w"], ["projected"]),
              helper.make_node("Add", ["projected", "b"], ["scores"])]
    # sharpen: distances of thousands (uint8 space) or a few units (normalised) both give clear winners
    scale = 0.05 if contract.dtype == "uint8" else 5.0
    nodes.append(helper.make_node("Mul", ["scores", "sharpness"], ["logits"]))
    out = "logits"
    if contract.output == "probabilities":
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
        out = "probabilities"
    graph = helper.make_graph(
        nodes, "foreign", [helper.make_tensor_value_info("input", elem, shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [contract.batch, contract.outputs])],
        [onnx.numpy_helper.from_array(weights, "w"), onnx.numpy_helper.from_array(bias, "b"),
         onnx.numpy_helper.from_array(np.array(scale, np.float32), "sharpness")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def import_options(contract: Contract) -> list[str]:
    """The command-line options that declare `contract` truthfully."""
    options = ["--layout", contract.layout, "--dtype", contract.dtype, "--channels", contract.channels,
               "--output", contract.output, "--class-names", ",".join(contract.class_order)]
    if contract.dtype == "float32":
        options += ["--scale", repr(contract.scale), "--mean", ",".join(map(str, contract.mean)),
                    "--std", ",".join(map(str, contract.std))]
    return options
