"""AugMix (Hendrycks, Mu, Cubuk, Zoph, Gilmer and Lakshminarayanan, ICLR 2020) for whole batches on
the training device: every image gets `width` chains of 1 to `depth` random operations (or exactly
`depth` when given), the chains are mixed with Dirichlet(alpha) weights, and the mix is blended with
the original image by a Beta(alpha, alpha) draw. The operations are the paper's nine, none of which
is a CIFAR-10-C corruption: autocontrast, equalize, posterize, rotate, solarize, shear x/y,
translate x/y; each at a strength drawn uniformly from (0.1, severity) on the paper's 0-10 scale.

    operation      strength at level l (severity 3, as the paper's CIFAR runs)
    autocontrast   -
    equalize       -
    posterize      4 - int(l * 4 / 10) bits kept (4 or 3)
    rotate         +-int(l * 30 / 10) degrees (up to 8), bilinear, black outside
    solarize       pixels >= 256 - int(l * 256 / 10) inverted (threshold 180-256)
    shear_x/y      +-l * 0.3 / 10 (up to 0.09), bilinear
    translate_x/y  +-int(l * (32 / 3) / 10) pixels (up to 3)

Each operation is a batch operation on float (N, 3, H, W) images in [0, 255] (the geometric ones one
grid_sample, the colour ones one lookup per channel), applied to the images that drew it, so a step
costs a few tensor operations whatever the batch size. Randomness comes from one torch.Generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

OPERATIONS = ("autocontrast", "equalize", "posterize", "rotate", "solarize", "shear_x", "shear_y", "translate_x",
              "translate_y")


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _sign(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.where(torch.rand(n, generator=generator) > 0.5, -1.0, 1.0).double()


def int_level(level: torch.Tensor, maxval: float) -> torch.Tensor:
    """The paper's int_parameter: int(level * maxval / 10), truncated."""
    return torch.floor(level * maxval / 10)


def float_level(level: torch.Tensor, maxval: float) -> torch.Tensor:
    return level * maxval / 10


# ---- colour operations: a 256-entry lookup per image and channel ---------------------------------

def _apply_lut(images: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """images float (N, C, H, W) with integer values 0-255; lut (N, C, 256) -> images through it."""
    n, c, h, w = images.shape
    index = images.reshape(n, c, h * w).long().clamp(0, 255)
    return torch.gather(lut.to(images.dtype), 2, index).reshape(n, c, h, w)


def _histograms(images: torch.Tensor) -> torch.Tensor:
    n, c, h, w = images.shape
    index = images.reshape(n * c, h * w).long().clamp(0, 255)
    counts = torch.zeros(n * c, 256, dtype=torch.int64, device=images.device)
    counts.scatter_add_(1, index, torch.ones_like(index))
    return counts.reshape(n, c, 256)


def autocontrast(images: torch.Tensor) -> torch.Tensor:
    """Each channel stretched so that its darkest value becomes 0 and its brightest 255 (PIL's, no cutoff)."""
    flat = images.flatten(2)
    low, high = flat.min(dim=2).values, flat.max(dim=2).values  # (N, C)
    scale = torch.where(high > low, 255.0 / (high - low).clamp(min=1e-6), torch.ones_like(high))
    offset = torch.where(high > low, -low * scale, torch.zeros_like(low))
    ramp = torch.arange(256, device=images.device, dtype=images.dtype)
    lut = torch.trunc(ramp[None, None, :] * scale[..., None] + offset[..., None]).clamp(0, 255)
    return _apply_lut(images, lut)


def equalize(images: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per channel, as PIL's ImageOps.equalize: step = (count - the last used
    level's count) // 255, lut[i] = (step // 2 + pixels below i) // step, identity when step is 0."""
    counts = _histograms(images)  # (N, C, 256)
    total = counts.sum(dim=2)
    used = counts > 0
    last = torch.where(used, torch.arange(256, device=images.device), -1).max(dim=2).values
    last_count = torch.gather(counts, 2, last.clamp(min=0)[..., None])[..., 0]
    step = (total - last_count) // 255
    below = torch.cumsum(counts, dim=2) - counts  # pixels of lower values
    lut = (step[..., None] // 2 + below) // step.clamp(min=1)[..., None]
    identity = torch.arange(256, device=images.device).expand_as(lut)
    lut = torch.where((step > 0)[..., None], lut.clamp(0, 255), identity)
    return _apply_lut(images, lut)


def posterize(images: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the `bits` (per image) highest bits of every value."""
    mask = (255 - (2 ** (8 - bits.long()) - 1)).to(torch.int64)  # (N,)
    return (images.long() & mask[:, None, None, None]).to(images.dtype)


def solarize(images: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert the values at or above the (per image) threshold."""
    return torch.where(images >= threshold[:, None, None, None].to(images.dtype), 255 - images, images)


# ---- geometric operations: one affine resampling ---------------------------------------------------

def _affine(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """PIL's Image.transform(AFFINE, (a, b, c, d, e, f)) for every image: the output pixel whose centre
    is (x, y) takes the input at (a x + b y + c, d x + e y + f), bilinear with the edge pixels
    repeated, and black where that point falls outside the image (PIL's rule, not a blend with black).
    `matrix` (N, 2, 3) in pixels."""
    _n, _, h, w = images.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5, torch.arange(w, dtype=torch.float32) + 0.5,
                            indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(h * w, 3).to(matrix.device)
    source = (points @ matrix.float().transpose(1, 2)).reshape(-1, h, w, 2)  # (N, H, W, 2) in pixels
    grid = torch.stack([2 * source[..., 0] / w - 1, 2 * source[..., 1] / h - 1], dim=-1)
    inside = ((source[..., 0] >= 0) & (source[..., 0] < w) & (source[..., 1] >= 0) & (source[..., 1] < h))
    sampled = F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    return sampled * inside[:, None].to(images.dtype)


def rotation_matrix(degrees: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """PIL's rotate(degrees) (counter-clockwise about the centre) as the affine output -> input map."""
    angle = -torch.deg2rad(degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    cx, cy = w / 2, h / 2
    # input = R * (output - centre) + centre, with PIL's (cos, sin; -sin, cos)
    return torch.stack([torch.stack([cos, sin, cx - cos * cx - sin * cy], -1),
                        torch.stack([-sin, cos, cy + sin * cx - cos * cy], -1)], -2)


def _matrix(a, b, c, d, e, f) -> torch.Tensor:
    return torch.stack([torch.stack([a, b, c], -1), torch.stack([d, e, f], -1)], -2)


def _geometric(name: str, images: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    _n, _, h, w = images.shape
    one, zero = torch.ones_like(amount), torch.zeros_like(amount)
    if name == "rotate":
        matrix = rotation_matrix(amount, w, h)
    elif name == "shear_x":
        matrix = _matrix(one, amount, zero, zero, one, zero)
    elif name == "shear_y":
        matrix = _matrix(one, zero, zero, amount, one, zero)
    elif name == "translate_x":
        matrix = _matrix(one, zero, amount, zero, one, zero)
    else:  # translate_y
        matrix = _matrix(one, zero, zero, zero, one, amount)
    return _affine(images, matrix.to(images.device))


def apply(name: str, images: torch.Tensor, level: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Operation `name` on float images (N, 3, H, W) in [0, 255] at strengths `level` (N,), 0-10 scale.
    Geometric results are rounded back to whole values, as PIL's 8-bit images are."""
    n, _, _h, w = images.shape
    if name == "autocontrast":
        return autocontrast(images)
    if name == "equalize":
        return equalize(images)
    if name == "posterize":
        return posterize(images, (4 - int_level(level, 4)).to(images.device))
    if name == "solarize":
        return solarize(images, (256 - int_level(level, 256)).to(images.device))
    if name == "rotate":
        amount = int_level(level, 30) * _sign(n, generator)
    elif name in ("shear_x", "shear_y"):
        amount = float_level(level, 0.3) * _sign(n, generator)
    else:
        amount = int_level(level, w / 3) * _sign(n, generator)
    return torch.round(_geometric(name, images, amount)).clamp(0, 255)


def augment_and_mix(images: torch.Tensor, generator: torch.Generator, severity: float = 3.0, width: int = 3,
                    depth: int = -1, alpha: float = 1.0,
                    operations: tuple[str, ...] = OPERATIONS) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 (N, H, W, 3): each image mixed with `width` augmented chains of itself.
    depth -1: each chain 1-3 operations long, drawn per image and chain."""
    if len(images) == 0:
        return images
    device, n = images.device, len(images)
    original = images.permute(0, 3, 1, 2).float()
    # Dirichlet and Beta from our generator (torch.distributions draws from the global one)
    weights = _dirichlet(n, width, alpha, generator)
    blend = _beta(n, alpha, generator)
    mix = torch.zeros_like(original)
    for chain in range(width):
        lengths = (torch.randint(1, 4, (n,), generator=generator) if depth <= 0 else torch.full((n,), depth))
        current = original.clone()
        for step in range(int(lengths.max())):
            active = lengths > step
            choice = torch.randint(0, len(operations), (n,), generator=generator)
            level = _uniform(n, 0.1, severity, generator)
            for k, name in enumerate(operations):
                rows = torch.nonzero(active & (choice == k)).flatten()
                if len(rows):
                    picked = rows.to(device)
                    current[picked] = apply(name, current[picked], level[rows], generator)
        mix += weights[:, chain].float().to(device)[:, None, None, None] * current
    blend = blend.float().to(device)[:, None, None, None]
    mixed = (1 - blend) * original + blend * mix
    return torch.round(mixed).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _gamma(shape: tuple[int, ...], concentration: float, generator: torch.Generator) -> torch.Tensor:
    """Gamma(concentration, 1) draws from `generator` (torch's own samplers take no generator): for
    concentration 1 an exponential, else Marsaglia and Tsang's method."""
    if concentration == 1.0:
        return -torch.log1p(-torch.rand(shape, generator=generator, dtype=torch.float64))
    boost = concentration < 1
    d = (concentration + (1 if boost else 0)) - 1 / 3
    c = 1 / math.sqrt(9 * d)
    out = torch.empty(shape, dtype=torch.float64)
    flat = out.view(-1)
    for i in range(flat.numel()):
        while True:
            x = torch.randn((), generator=generator, dtype=torch.float64)
            v = (1 + c * x) ** 3
            u = torch.rand((), generator=generator, dtype=torch.float64)
            if v > 0 and torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v):
                flat[i] = d * v
                break
    if boost:
        out = out * torch.rand(shape, generator=generator, dtype=torch.float64) ** (1 / concentration)
    return out


def _dirichlet(n: int, width: int, alpha: float, generator: torch.Generator) -> torch.Tensor:
    draws = _gamma((n, width), alpha, generator)
    return draws / draws.sum(dim=1, keepdim=True)


def _beta(n: int, alpha: float, generator: torch.Generator) -> torch.Tensor:
    a, b = _gamma((n,), alpha, generator), _gamma((n,), alpha, generator)
    return a / (a + b)

