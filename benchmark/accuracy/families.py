"""The corruption families of the CIFAR-10-C paper, for the tables and the per-family plot.

The 15 benchmark corruptions fall into noise, blur, weather and digital; the 4 extra ones (held
out in the paper, and never used in training here) form a fifth group, "unseen", for every model;
CIFAR-10-C-bar's 10 (Mintun et al. 2021, chosen to be unlike CIFAR-10-C's) a sixth.
"""

from __future__ import annotations

from robustcifar.corruptions import CBAR_CORRUPTIONS, EXTRA_CORRUPTIONS

UNSEEN = "unseen (4 extra)"
CBAR = "CIFAR-10-C-bar (unseen by design)"

FAMILIES: dict[str, tuple[str, ...]] = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog"),
    "digital": ("brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression"),
    UNSEEN: EXTRA_CORRUPTIONS,
    CBAR: CBAR_CORRUPTIONS,
}


def family_of(corruption: str) -> str:
    for family, names in FAMILIES.items():
        if corruption in names:
            return family
    raise ValueError(f"unknown corruption {corruption!r}")
