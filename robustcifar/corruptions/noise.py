"""Noise corruptions: independent noise on every value (pixel and channel) of the image.

Parameters from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (the CIFAR-10 script).
"""

from __future__ import annotations

import torch

from robustcifar.corruptions.registry import BENCHMARK, EXTRA, corruption
from robustcifar.corruptions.seeding import Draws


@corruption(
    "gaussian_noise",
    BENCHMARK,
    random=True,
    # standard deviation of the added noise, in [0, 1] units
    severities=(0.04, 0.06, 0.08, 0.09, 0.10),
)
def gaussian_noise(x: torch.Tensor, std: float, draws: Draws) -> torch.Tensor:
    return x + draws.normal(tuple(x.shape), std=std)


@corruption(
    "shot_noise",
    BENCHMARK,
    random=True,
    # photons per unit of intensity: the value becomes Poisson(x * photons) / photons
    severities=(500, 250, 100, 75, 50),
)
def shot_noise(x: torch.Tensor, photons: float, draws: Draws) -> torch.Tensor:
    # Poisson counts depend on the image, so the image visits the CPU for the draw.
    rates = x.double().cpu().numpy() * photons
    return draws.tensor(draws.rng.poisson(rates) / photons)


@corruption(
    "impulse_noise",
    BENCHMARK,
    random=True,
    # fraction of values replaced, half by 0 ("pepper") and half by 1 ("salt")
    severities=(0.01, 0.02, 0.03, 0.05, 0.07),
)
def impulse_noise(x: torch.Tensor, amount: float, draws: Draws) -> torch.Tensor:
    # skimage.util.random_noise(mode="s&p") flips each value with probability `amount` and makes
    # a flipped value salt with probability 1/2; one uniform number per value does both.
    u = draws.uniform(0.0, 1.0, tuple(x.shape))
    x = torch.where(u < amount / 2, torch.zeros_like(x), x)
    return torch.where((u >= amount / 2) & (u < amount), torch.ones_like(x), x)


@corruption(
    "speckle_noise",
    EXTRA,
    random=True,
    # standard deviation of the multiplicative noise: x + x * N(0, std)
    severities=(0.06, 0.10, 0.12, 0.16, 0.20),
)
def speckle_noise(x: torch.Tensor, std: float, draws: Draws) -> torch.Tensor:
    return x + x * draws.normal(tuple(x.shape), std=std)
