"""The one decode/preprocess path: encoded image bytes -> uint8 (32, 32, 3) RGB pixels.

The TorchServe handlers, the export checks and the benchmark client all go through
`preprocess_image_bytes`; datasets decode their JPEG/PNG files with `decode_image` too.

Only PNG and JPEG are decoded (Pillow is told so explicitly, so a crafted file of another format
never reaches a less-exercised decoder), and the pixel count is checked from the header before
any pixel is decoded, so a small file that expands to a huge image is refused cheaply.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

IMAGE_SIZE = 32
ALLOWED_FORMATS = ("PNG", "JPEG")
# 16 megapixels: far above any photo a user would send a 32x32 classifier, far below what would
# exhaust a worker's memory (an RGB image this size decodes to 48 MB).
MAX_PIXELS = 4096 * 4096


class ImageInputError(ValueError):
    """A request body that is not a usable image. `status` is the HTTP status to answer with."""

    def __init__(self, error: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail
        self.status = status


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise ImageInputError("empty_body", "the request carried no image bytes")
    with warnings.catch_warnings():
        # Pillow's own bomb check warns or raises at its global limit; ours is explicit below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageInputError("image_too_large", str(exc), status=413) from None
        except Exception:  # noqa: BLE001 - Pillow signals unreadable input with many exception types
            raise ImageInputError(
                "unsupported_image",
                f"the body is not a PNG or JPEG image ({len(data)} bytes, starting {data[:8]!r})",
            ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageInputError(
            "image_too_large",
            f"{width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}",
            status=413,
        )
    if getattr(image, "is_animated", False):
        raise ImageInputError("animated_image", "animated images are not accepted; send one frame")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any still PNG/JPEG mode -> RGB: 16-bit scaled down, palette expanded, alpha over white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.int64)
        image = Image.fromarray((np.clip(wide, 0, 65535) // 257).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """PNG/JPEG bytes -> uint8 (H, W, 3) RGB. Raises ImageInputError on anything else."""
    image = _open_checked(data, max_pixels)
    try:
        image.load()
        image = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
        return np.asarray(_to_rgb(image), dtype=np.uint8)
    except ImageInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt streams, as OSError and others
        raise ImageInputError("corrupt_image", f"the image could not be decoded: {exc}") from None


def to_model_input(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (32, 32, 3): centre crop to a square, then an antialiased resize.

    32x32 inputs pass through untouched, so CIFAR images reach the model bit for bit.
    """
    height, width = rgb.shape[:2]
    if (height, width) == (IMAGE_SIZE, IMAGE_SIZE):
        return np.ascontiguousarray(rgb)
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(rgb[top : top + side, left : left + side])
    resized = square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
    return np.asarray(resized, dtype=np.uint8)


def preprocess_image_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The single preprocessing function: encoded image -> model input pixels (32, 32, 3) uint8."""
    return to_model_input(decode_image(data, max_pixels))


def encode_png(pixels: np.ndarray) -> bytes:
    """uint8 (H, W, 3) -> lossless PNG bytes (what the benchmark client sends)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
