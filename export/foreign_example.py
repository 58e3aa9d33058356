"""`python -m export.foreign_example --out FILE`: a stand-in for a classifier exported elsewhere.

It writes one of our trained classifiers (default ce_clean) the way a typical PyTorch project
exports a CIFAR-10 model: float32 NCHW input named "input", normalised with the CIFAR-10
statistics *outside* the network, logits out, a dynamic batch axis. Nothing of our input contract
is left in it, so `python -m export import` has to be told everything; the README's walk-through
imports it. (No model from another project can be downloaded here.)
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from robustcifar.artifacts import ModelArtifacts
from robustcifar.checkpoint import load_checkpoint
from robustcifar.config import parse_config, shared_field


@dataclass
class ForeignExampleConfig:
    out: Path | None = field(default=None, metadata={"help": "the ONNX file to write"})
    model: str = field(default="ce_clean", metadata={"help": "which of our trained classifiers to write"})
    artifacts: Path | None = shared_field("artifacts")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ForeignExampleConfig, argv, __doc__.split("\n\n")[0])
    checkpoint = ModelArtifacts.for_model(config.model, config.artifacts).checkpoint
    if config.out is None or not checkpoint.is_file():
        print(f"error: {'--out FILE is required' if config.out is None else f'{checkpoint} does not exist'}",
              file=sys.stderr)
        return 2
    model, _ = load_checkpoint(checkpoint)
    if model.kind != "classifier":
        print(f"error: {config.model} is an embedder; pick a classifier", file=sys.stderr)
        return 2
    model.backbone.normalize = nn.Identity()  # the caller now normalises, in NCHW
    config.out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(2, 3, 32, 32),), str(config.out), dynamo=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "n"}, "output": {0: "n"}}, opset_version=17)
    print(f"[foreign-example] wrote {config.out}: float32 (n, 3, 32, 32) normalised with the CIFAR-10 mean/std "
          "-> 10 logits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
