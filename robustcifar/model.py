"""ResNet-18 in its CIFAR form, taking plain uint8 pixels.

The network owns its input conversion (uint8 NHWC -> normalised float NCHW), so the exported
ONNX model, the TorchServe handlers and the benchmark client feed it raw pixels and can never
disagree about normalisation constants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .classes import NUM_CLASSES

# Per-channel statistics of the CIFAR-10 training set (official release), in [0, 1] units.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
EMBEDDING_DIM = 128
FEATURE_DIM = 512


class PixelNormalize(nn.Module):
    """uint8 (N, H, W, 3) RGB -> float (N, 3, H, W) standardised with the CIFAR-10 statistics.

    The permute leaves the tensor in channels-last memory, which is what fast convolutions want.
    """

    def __init__(self) -> None:
        super().__init__()
        mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1) * 255.0
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("inv_std", 1.0 / std, persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(self.mean.dtype)
        return (x - self.mean) * self.inv_std


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18Backbone(nn.Module):
    """3x3 stem without max-pool (32x32 inputs), four stages of two blocks, global average pool."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = PixelNormalize()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        )
        blocks, channels = [], 64
        for out_channels, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(channels, out_channels, stride), BasicBlock(out_channels, out_channels, 1)]
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.normalize(pixels)))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class L2Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


class RobustCifarNet(nn.Module):
    """Backbone plus a head: class logits ("classifier") or a unit-length embedding ("embedder")."""

    def __init__(self, kind: str, embedding_dim: int = EMBEDDING_DIM) -> None:
        super().__init__()
        if kind not in ("classifier", "embedder"):
            raise ValueError(f"kind must be 'classifier' or 'embedder', got {kind!r}")
        self.kind = kind
        self.backbone = ResNet18Backbone()
        if kind == "classifier":
            self.head: nn.Module = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        else:
            self.head = nn.Sequential(nn.Linear(FEATURE_DIM, embedding_dim), L2Normalize())

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(pixels))

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """The 512-d backbone representation (what the UMAP plots show)."""
        return self.backbone(pixels)

    @property
    def output_name(self) -> str:
        return "logits" if self.kind == "classifier" else "embedding"
