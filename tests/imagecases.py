"""The images the live tests send: every mode a PNG or JPEG can carry (answered), and every kind of
bad body (refused with a 4xx naming the error), for /predictions and, as v2 BYTES elements, for v2."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from fakeserving import png
from liveserver import MAX_REQUEST_MB
from PIL import Image

from robustcifar.imaging import MAX_PIXELS


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None) -> bytes:
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB) or should not (a bomb header)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"")
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def sixteen_bit_rgb_png() -> bytes:
    values = np.random.default_rng(5).integers(0, 65536, (20, 24, 3), dtype=np.uint16)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in values)
    return raw_png(24, 20, 16, 2, rows)


PIXELS = np.random.default_rng(4).integers(0, 256, (40, 48, 3), dtype=np.uint8)
RGBA = np.concatenate([PIXELS, np.random.default_rng(6).integers(0, 256, (40, 48, 1), dtype=np.uint8)], axis=2)
PALETTE = Image.fromarray(PIXELS).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
PALETTE_TRANSPARENT = PALETTE.copy()
PALETTE_TRANSPARENT.info["transparency"] = 3
VALID_IMAGES = {
    "rgb_png_32x32": png(1),
    "rgb_jpeg_resized": encoded(Image.fromarray(PIXELS), "JPEG", quality=90),
    "cmyk_jpeg": encoded(Image.fromarray(PIXELS).convert("CMYK"), "JPEG"),
    "grayscale_jpeg": encoded(Image.fromarray(PIXELS).convert("L"), "JPEG"),
    "grayscale_png": encoded(Image.fromarray(PIXELS).convert("L"), "PNG"),
    "grayscale_16bit_png": encoded(Image.fromarray(PIXELS[..., 0].astype(np.uint16) * 257), "PNG"),
    "rgb_16bit_png": sixteen_bit_rgb_png(),
    "palette_png": encoded(PALETTE, "PNG"),
    "palette_transparent_png": encoded(PALETTE_TRANSPARENT, "PNG", transparency=3),
    "rgba_png": encoded(Image.fromarray(RGBA), "PNG"),
    "grayscale_alpha_png": encoded(Image.fromarray(RGBA).convert("LA"), "PNG"),
    "bilevel_png": encoded(Image.fromarray(PIXELS).convert("1"), "PNG"),
}


def animated_gif() -> bytes:
    frames = [Image.fromarray(PIXELS), Image.fromarray(255 - PIXELS)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_png() -> bytes:
    frames = [Image.fromarray(PIXELS), Image.fromarray(255 - PIXELS)]
    return encoded(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)


def above_pixel_limit_png() -> bytes:
    side = int(MAX_PIXELS**0.5) + 1  # a real image, one row and column above the limit
    return encoded(Image.new("L", (side, side)), "PNG")


JPEG = VALID_IMAGES["rgb_jpeg_resized"]
LARGE_PNG = encoded(Image.fromarray(np.random.default_rng(8).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")
BAD_REQUESTS = {
    # name: (request options, expected status, expected error code)
    "empty_body": ({"data": b""}, 400, "empty_body"),
    "random_bytes": ({"data": np.random.default_rng(9).bytes(2000)}, 400, "unsupported_image"),
    "text": ({"data": b"a cat, probably", "headers": {"Content-Type": "text/plain"}}, 400, "unsupported_image"),
    "json": ({"json": {"image": "cat.png"}}, 400, "unsupported_image"),
    "form_fields": ({"data": {"image": "cat.png"}}, 400, "unsupported_image"),  # urlencoded a=b text
    "truncated_png": ({"data": LARGE_PNG[: len(LARGE_PNG) // 2]}, 400, "corrupt_image"),
    "truncated_jpeg": ({"data": JPEG[: len(JPEG) // 2]}, 400, "corrupt_image"),
    "png_header_only": ({"data": LARGE_PNG[:60]}, 400, "corrupt_image"),
    "decompression_bomb": ({"data": raw_png(200_000, 200_000, 8, 0, None)}, 413, "image_too_large"),
    "above_pixel_limit": ({"data": above_pixel_limit_png()}, 413, "image_too_large"),
    "animated_gif": ({"data": animated_gif()}, 400, "unsupported_image"),
    "animated_png": ({"data": animated_png()}, 400, "animated_image"),
    "still_gif": ({"data": encoded(Image.fromarray(PIXELS), "GIF")}, 400, "unsupported_image"),
    "bmp": ({"data": encoded(Image.fromarray(PIXELS), "BMP")}, 400, "unsupported_image"),
    "tiff": ({"data": encoded(Image.fromarray(PIXELS), "TIFF")}, 400, "unsupported_image"),
    "multipart_without_image_field": ({"files": {"picture": ("x.png", png(), "image/png")}}, 400, "missing_image"),
    "multipart_text_field_only": ({"files": {"note": (None, "hello")}}, 400, "missing_image"),
    "multipart_empty_data_field": ({"files": {"data": ("x.png", b"", "image/png")}}, 400, "empty_body"),
    "body_above_max_request_size": ({"data": b"\x89PNG" + bytes(int(MAX_REQUEST_MB * 1024 * 1024) + 1000)},
                                    413, "request_too_large"),
}


