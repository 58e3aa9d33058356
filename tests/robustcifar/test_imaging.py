import io

import numpy as np
import pytest
from PIL import Image

from robustcifar.imaging import (
    ImageInputError,
    decode_image,
    encode_png,
    preprocess_image_bytes,
    to_model_input,
)

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_png_round_trip_is_exact():
    assert np.array_equal(preprocess_image_bytes(encode_png(PIXELS)), PIXELS)


def test_jpeg_decodes_close_to_the_original():
    smooth = np.full((32, 32, 3), 120, dtype=np.uint8)
    out = preprocess_image_bytes(encoded(Image.fromarray(smooth), "JPEG", quality=95))
    assert out.shape == (32, 32, 3) and np.abs(out.astype(int) - 120).max() <= 3


def test_large_non_square_image_is_centre_cropped_and_resized():
    wide = np.zeros((100, 300, 3), dtype=np.uint8)
    wide[:, 100:200] = 255  # the centre square is white, the sides black
    out = preprocess_image_bytes(encode_png(wide))
    assert out.shape == (32, 32, 3) and out.min() >= 250


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_other_modes_become_rgb(mode):
    if mode == "I;16":
        image = Image.fromarray((np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16))
    else:
        image = Image.fromarray(PIXELS).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = decode_image(encoded(image, fmt))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


def test_sixteen_bit_is_scaled_not_clipped():
    image = Image.fromarray(np.full((32, 32), 65535, dtype=np.uint16))
    assert decode_image(encoded(image, "PNG")).min() == 255
    image = Image.fromarray(np.full((32, 32), 32896, dtype=np.uint16))
    assert decode_image(encoded(image, "PNG")).max() == 128


def test_transparent_pixels_are_composited_on_white():
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)  # fully transparent black
    assert decode_image(encoded(Image.fromarray(rgba, "RGBA"), "PNG")).min() == 255


@pytest.mark.parametrize(
    "body, error",
    [
        (b"", "empty_body"),
        (b"hello world", "unsupported_image"),
        (b'{"image": 1}', "unsupported_image"),
        (encode_png(PIXELS)[:200], "corrupt_image"),
    ],
)
def test_bad_bodies_raise_input_errors(body, error):
    with pytest.raises(ImageInputError) as info:
        preprocess_image_bytes(body)
    assert info.value.error == error and info.value.status == 400 and info.value.detail


def test_formats_other_than_png_and_jpeg_are_refused():
    for fmt in ("GIF", "BMP", "TIFF", "WEBP"):
        with pytest.raises(ImageInputError, match="unsupported_image"):
            decode_image(encoded(Image.fromarray(PIXELS), fmt))


def test_pixel_limit_is_checked_before_decoding():
    big = encoded(Image.new("L", (3000, 3000)), "PNG")  # ~9 kB compressed, 9 Mpx decoded
    with pytest.raises(ImageInputError) as info:
        decode_image(big, max_pixels=1_000_000)
    assert info.value.status == 413 and info.value.error == "image_too_large"


def test_to_model_input_leaves_32x32_untouched():
    assert to_model_input(PIXELS) is not None and np.array_equal(to_model_input(PIXELS), PIXELS)
