"""How a CIFAR-10 classifier that is not ours wants its input, and what it answers: the declared
contract of `make import` (export/importer.py wraps the model in it) and of the benchmark against a
v2 server that is not ours (benchmark/accuracy/client.py sends pixels in it).

    pixels uint8 (N,32,32,3) RGB -> [BGR swap] -> [float: * scale, - mean, / std] -> [NHWC -> NCHW]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .errors import UsageError


class InputSpecError(UsageError):
    """Options that do not make a valid input spec; the message says which and why."""


@dataclass
class InputSpecOptions:
    """The options that declare a model's input and output, spelled the same wherever they are taken."""

    layout: str = field(default="NCHW", metadata={"help": "NCHW or NHWC: the model's input layout"})
    dtype: str = field(default="float32", metadata={"help": "float32 or uint8: the model's input type"})
    scale: str = field(default="", metadata={
        "help": "multiplies the 0-255 pixels first, e.g. 1/255 (default: 1/255 for float32, 1 for uint8)"})
    mean: str = field(default="0,0,0", metadata={"help": "per-channel mean subtracted after scaling: m,m,m"})
    std: str = field(default="1,1,1", metadata={"help": "per-channel std divided by after the mean: s,s,s"})
    channels: str = field(default="RGB", metadata={"help": "RGB or BGR: the channel order the model expects"})
    output: str = field(default="logits", metadata={"help": "logits or probabilities: what the model outputs"})


@dataclass(frozen=True)
class InputSpec:
    """How the user's model wants its input and what it answers: the parsed, validated options."""

    layout: str
    dtype: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channels: str
    output: str

    def describe(self) -> str:
        return (f"--layout {self.layout} --dtype {self.dtype} --scale {self.scale:.6g} --mean "
                f"{','.join(f'{m:g}' for m in self.mean)} --std {','.join(f'{s:g}' for s in self.std)} "
                f"--channels {self.channels} --output {self.output}")

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """The same preprocessing in numpy: what the wrapped graph is checked against."""
        x = pixels[..., ::-1] if self.channels == "BGR" else pixels
        if self.dtype == "float32":
            x = ((x.astype(np.float32) * np.float32(self.scale) - np.array(self.mean, np.float32))
                 / np.array(self.std, np.float32))
        if self.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    upper = {a.upper(): a for a in allowed}
    if value.upper() not in upper:
        raise InputSpecError(f"--{option} must be one of {', '.join(allowed)}, got {value!r}")
    return upper[value.upper()]


def _number(text: str, option: str) -> float:
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise InputSpecError(f"--{option}: {text!r} is not a number (a fraction such as 1/255 is fine)") from None
    return value


def _triple(text: str, option: str) -> tuple[float, float, float]:
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3:
        raise InputSpecError(f"--{option} takes one value per channel, r,g,b (got {text!r})")
    return tuple(_number(p, option) for p in parts)  # type: ignore[return-value]


def parse_spec(config: InputSpecOptions) -> InputSpec:
    dtype = _choice(config.dtype, ("float32", "uint8"), "dtype")
    scale = _number(config.scale, "scale") if config.scale.strip() else (1 / 255 if dtype == "float32" else 1.0)
    mean, std = _triple(config.mean, "mean"), _triple(config.std, "std")
    if any(s == 0 for s in std):
        raise InputSpecError("--std must not be 0")
    if dtype == "uint8" and (scale != 1.0 or mean != (0.0, 0.0, 0.0) or std != (1.0, 1.0, 1.0)):
        raise InputSpecError("a uint8 input takes the pixels as they are: --scale, --mean and --std apply to "
                               "float32 inputs only")
    return InputSpec(_choice(config.layout, ("NCHW", "NHWC"), "layout"), dtype, scale, mean, std,
                     _choice(config.channels, ("RGB", "BGR"), "channels"),
                     _choice(config.output, ("logits", "probabilities"), "output"))


