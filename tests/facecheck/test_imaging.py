"""Untrusted image bytes: what decode_image accepts, and how it refuses the rest."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image, ImageFile

from server.facecheck.imaging import ImageRejected, decode_image, image_size
from tests.facecheck import faces

LIMIT = 20_000_000


def rejected(data: bytes, max_pixels: int = LIMIT) -> str:
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, max_pixels)
    return caught.value.code


def test_jpeg_and_png_decode_to_rgb_uint8():
    photo = faces.astronaut()
    for fmt in ("JPEG", "PNG"):
        image = decode_image(faces.encode(photo, fmt), LIMIT)
        assert image.shape == photo.shape and image.dtype == np.uint8
    assert np.array_equal(decode_image(faces.encode(photo, "PNG"), LIMIT), photo)  # lossless stays exact


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_other_pixel_modes_become_rgb(mode):
    image = Image.fromarray(faces.grace_hopper()).convert(mode)
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    import io

    out = io.BytesIO()
    image.save(out, fmt)
    decoded = decode_image(out.getvalue(), LIMIT)
    assert decoded.ndim == 3 and decoded.shape[2] == 3 and decoded.dtype == np.uint8
    assert decoded.shape[:2] == faces.grace_hopper().shape[:2]


def test_sixteen_bit_grey_png_is_scaled_not_clipped():
    grey = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    import io

    out = io.BytesIO()
    Image.fromarray(grey).save(out, "PNG")
    decoded = decode_image(out.getvalue(), LIMIT)
    assert decoded[0, 0, 0] == 0 and decoded[-1, -1, 0] == 255 and 100 < decoded[32, 32, 0] < 160


def test_exif_orientation_is_applied():
    photo = faces.grace_hopper()  # 600 x 512 (h x w)
    stored = np.ascontiguousarray(np.rot90(photo, k=1))  # stored sideways, as phones do
    # Orientation 6: the viewer must turn the stored pixels 90 degrees clockwise.
    upright = decode_image(faces.with_exif_orientation(stored, 6), LIMIT)
    assert upright.shape == photo.shape
    assert np.abs(upright.astype(int) - photo.astype(int)).mean() < 6  # JPEG noise only


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"<html><body>not a picture</body></html>",
        b"\xff\xd8\xff" + b"\0" * 50,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
    ],
)
def test_not_an_image(data):
    assert rejected(data) == "image_invalid"


def test_truncated_jpeg_and_png():
    jpeg = faces.encode(faces.astronaut(), "JPEG", quality=90)
    png = faces.encode(faces.astronaut(), "PNG")
    assert rejected(jpeg[: len(jpeg) // 2]) == "image_invalid"
    assert rejected(jpeg[:600]) == "image_invalid"
    assert rejected(png[: len(png) // 2]) == "image_invalid"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_formats_are_refused(fmt):
    assert rejected(faces.encode(faces.astronaut(), fmt)) == "image_invalid"


@pytest.mark.parametrize("header", [faces.png_header_claiming, faces.jpeg_header_claiming])
def test_enormous_dimensions_are_refused_from_the_header(header, monkeypatch):
    data, smaller = header(30000, 30000), header(10000, 10000)
    assert len(data) < 2000
    assert image_size(smaller)[1:] == (10000, 10000)  # read from the header

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    start = time.perf_counter()
    assert rejected(data) == "image_too_large"
    assert rejected(smaller) == "image_too_large"  # over our limit, under Pillow's
    # Our limit disabled: Pillow's own decompression-bomb guard still refuses before decoding.
    assert rejected(data, max_pixels=10**12) == "image_too_large"
    assert time.perf_counter() - start < 0.5


def test_pixel_limit_is_inclusive():
    data = faces.encode(np.zeros((100, 200, 3), np.uint8), "PNG")
    assert decode_image(data, 20_000).shape == (100, 200, 3)
    assert rejected(data, 19_999) == "image_too_large"


def test_rejection_carries_its_code():
    with pytest.raises(ImageRejected) as caught:
        decode_image(b"nope", LIMIT)
    assert caught.value.code == "image_invalid" and "image_invalid" in str(caught.value)
