"""Untrusted image bytes: what decode_image accepts, and how it refuses the rest."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image, ImageFile

from server.facecheck.imaging import MAX_JPEG_SCANS, ImageRejected, check_frame, decode_image, image_size
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


# --- a candidate's face-check frames: the header checks made before a burst is queued ----------

SIDE = 1920  # the default facecheck_max_frame_side


def frame_refused(data: bytes, max_side: int = SIDE) -> str:
    with pytest.raises(ImageRejected) as caught:
        check_frame(data, max_side)
    return caught.value.code


def test_frames_up_to_the_side_cap_pass_in_both_orientations():
    for shape in ((1080, 1920), (1920, 1080), (1920, 1920), (480, 640)):
        data = faces.encode(np.zeros((*shape, 3), np.uint8), "JPEG")
        assert check_frame(data, SIDE) == ("JPEG", shape[1], shape[0])
        assert decode_image(data, LIMIT, SIDE).shape[:2] == shape
    assert check_frame(faces.encode(np.zeros((64, 64, 3), np.uint8), "PNG"), SIDE)[0] == "PNG"


@pytest.mark.parametrize("header", [faces.png_header_claiming, faces.jpeg_header_claiming])
def test_a_frame_with_a_side_over_the_cap_is_refused_from_its_header(header, monkeypatch):
    sizes = ((SIDE + 1, 16), (16, SIDE + 1), (4400, 4400), (30000, 30000), (60_000, 60_000))
    fits, over = header(SIDE, 16), {size: header(*size) for size in sizes}

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    assert check_frame(fits, SIDE)[1:] == (SIDE, 16)
    for size, data in over.items():
        assert frame_refused(data) == "image_too_large", size
        with pytest.raises(ImageRejected):  # the worker's decode checks it again
            decode_image(data, 10**12, SIDE)
    # 60000 x 60000 is past Pillow's own decompression-bomb error (2 x Image.MAX_IMAGE_PIXELS): the
    # same refusal, not an exception of Pillow's
    assert 60_000 * 60_000 > 2 * Image.MAX_IMAGE_PIXELS


def test_a_real_big_frame_is_refused_without_decoding_it():
    y, x = np.mgrid[0:4400, 0:4400]
    pixels = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    data = faces.encode(pixels, "JPEG", quality=50)
    start = time.perf_counter()
    assert frame_refused(data) == "image_too_large"
    header_s = time.perf_counter() - start
    start = time.perf_counter()
    decode_image(data, LIMIT)
    decode_s = time.perf_counter() - start
    assert header_s < decode_s / 20, (header_s, decode_s)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_frames_of_other_formats_are_refused(fmt):
    assert frame_refused(faces.encode(faces.astronaut(), fmt)) == "image_invalid"


@pytest.mark.parametrize("data", [b"", b"this is not an image", b"\xff\xd8\xff" + b"\0" * 50])
def test_frames_that_are_not_images_are_refused(data):
    assert frame_refused(data) == "image_invalid"


def test_a_jpeg_with_too_many_scans_is_refused():
    """Decoding time grows with the scans of a progressive JPEG, not with its bytes."""
    photo = faces.encode(faces.grace_hopper(), "JPEG", quality=80, progressive=True)
    assert 1 < photo.count(b"\xff\xda") <= MAX_JPEG_SCANS  # Pillow's (libjpeg's) own progressive file
    check_frame(photo, SIDE)
    # the same file with its last scan repeated: still a JPEG Pillow opens, with too many scans
    last = photo.rindex(b"\xff\xda")
    crafted = photo[:last] + photo[last:-2] * (MAX_JPEG_SCANS + 1) + b"\xff\xd9"
    assert image_size(crafted)[0] == "JPEG"
    assert frame_refused(crafted) == "image_invalid"
