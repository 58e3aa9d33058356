"""Colour conversions on (n, 3, H, W) RGB tensors in [0, 1], as skimage.color does them."""

from __future__ import annotations

import torch


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """skimage.color.rgb2hsv: H in [0, 1), S = (max - min) / max, V = max; H = S = 0 for greys."""
    value = rgb.amax(dim=1)
    delta = value - rgb.min(dim=1).values
    grey = delta == 0
    safe_delta = torch.where(grey, torch.ones_like(delta), delta)
    saturation = torch.where(grey, torch.zeros_like(delta), delta / value.clamp_min(1e-30))
    red, green, blue = rgb.unbind(dim=1)
    # skimage assigns red-max, then green-max, then blue-max, so the last match wins on ties.
    hue = (green - blue) / safe_delta
    hue = torch.where(green == value, 2.0 + (blue - red) / safe_delta, hue)
    hue = torch.where(blue == value, 4.0 + (red - green) / safe_delta, hue)
    hue = torch.where(grey, torch.zeros_like(hue), torch.remainder(hue / 6.0, 1.0))
    return torch.stack((hue, saturation, value), dim=1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """skimage.color.hsv2rgb: the six-sector formula."""
    hue, saturation, value = hsv.unbind(dim=1)
    sector = torch.floor(hue * 6.0)
    fraction = hue * 6.0 - sector
    sector = torch.remainder(sector, 6).long()
    p = value * (1.0 - saturation)
    q = value * (1.0 - fraction * saturation)
    t = value * (1.0 - (1.0 - fraction) * saturation)
    table = torch.stack(
        (
            torch.stack((value, q, p, p, t, value), dim=1),  # red in sectors 0..5
            torch.stack((t, value, value, q, p, p), dim=1),  # green
            torch.stack((p, p, t, value, value, q), dim=1),  # blue
        ),
        dim=1,
    )  # (n, 3, 6, H, W)
    return table.gather(2, sector[:, None, None].expand(-1, 3, 1, -1, -1)).squeeze(2)


def grey(rgb: torch.Tensor) -> torch.Tensor:
    """(n, 1, H, W) luma, as cv2.cvtColor(RGB2GRAY): 0.299 R + 0.587 G + 0.114 B."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights[:, None, None]).sum(dim=1, keepdim=True)
