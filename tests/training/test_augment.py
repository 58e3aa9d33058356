import numpy as np
import torch

from training.augment import PAD, random_crop_flip


def naive_crop_flip(image: np.ndarray, dy: int, dx: int, flip: bool) -> np.ndarray:
    padded = np.pad(image, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
    crop = padded[dy : dy + 32, dx : dx + 32]
    return crop[:, ::-1] if flip else crop


def test_each_output_is_a_reflect_padded_crop_maybe_flipped():
    images = torch.randint(0, 256, (16, 32, 32, 3), dtype=torch.uint8)
    out = random_crop_flip(images, torch.Generator().manual_seed(0)).numpy()
    for image, result in zip(images.numpy(), out):
        candidates = [naive_crop_flip(image, dy, dx, f) for dy in range(9) for dx in range(9) for f in (0, 1)]
        assert any(np.array_equal(result, c) for c in candidates)


def test_seeded_and_per_image():
    image = torch.randint(0, 256, (1, 32, 32, 3), dtype=torch.uint8).repeat(32, 1, 1, 1)
    a = random_crop_flip(image, torch.Generator().manual_seed(1))
    b = random_crop_flip(image, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert len({bytes(x.numpy()) for x in a}) > 10  # copies of one image get different crops
