"""CIFAR-10-C: the 15 benchmark + 4 extra corruptions of Hendrycks & Dietterich (ICLR 2019),
and CIFAR-10-C-bar: the 10 of Mintun, Kirillov & Xie (NeurIPS 2021).

A batched torch re-implementation of hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py,
and of facebookresearch/augmentation-corruption, imagenet_c_bar/, for 32x32 images on CPU or CUDA,
seeded and deterministic, with no OpenCV, scikit-image or ImageMagick. The facts it follows are in
the project specs ``cifar10c.md`` and ``cifar10c-bar.md``; each corruption's five severity
parameter sets stand above its function in noise.py, blur.py, weather.py, spatter.py, elastic.py,
digital.py (CIFAR-10-C), cbar_noise.py and cbar_geometric.py (CIFAR-10-C-bar, see cbar.py).

    corrupt(images, name, severity, seed=0)           one corruption on a uint8 (N, 32, 32, 3) batch
    corrupt_random(images, names, severities, seed)   a random (name, severity) per image
    write_cifar10c(images, out_dir, ...)              a CIFAR-10-C folder (<name>.npy, labels.npy)
    open_cifar10c(folder)                             read ours or the official release
    python -m robustcifar.corruptions --help          the same as a command
"""

# The corruption modules register themselves in the registry when imported.
from robustcifar.corruptions import (  # noqa: F401
    blur,
    cbar_geometric,
    cbar_noise,
    digital,
    elastic,
    noise,
    spatter,
    weather,
)
from robustcifar.corruptions.api import corrupt, corrupt_random
from robustcifar.corruptions.files import open_cifar10c, read_source, write_cifar10c
from robustcifar.corruptions.registry import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    CBAR_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    FAMILIES,
    KNOWN_CORRUPTIONS,
    SELECTIONS,
    SEVERITIES,
    CorruptionError,
    family_of,
)

__all__ = [
    "ALL_CORRUPTIONS",
    "BENCHMARK_CORRUPTIONS",
    "CBAR_CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "FAMILIES",
    "KNOWN_CORRUPTIONS",
    "SELECTIONS",
    "SEVERITIES",
    "CorruptionError",
    "corrupt",
    "corrupt_random",
    "family_of",
    "open_cifar10c",
    "read_source",
    "write_cifar10c",
]
