"""Untrusted image bytes in, an RGB array out -- or a clear refusal.

Only JPEG and PNG are accepted (what phone browsers send and what rosters hold). The size is
read from the header before anything is decoded, so a tiny file that claims 30000x30000
pixels is refused without allocating the pixels. EXIF orientation is applied, because phone
photos are often stored sideways with a tag saying how to turn them.

A candidate's face-check frames get stricter header checks (``check_frame``) in the server's own
process, before any frame of a burst is decoded or queued for the workers: each side at most
``facecheck_max_frame_side`` pixels, and a JPEG at most ``MAX_JPEG_SCANS`` scans (a progressive
JPEG's decoding time grows with its scans, not with its bytes).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG")
# A canvas's toBlob JPEG has 1 scan, libjpeg's progressive default 10 (colour); a crafted file can
# repeat scans by the thousand, each one a pass over every coefficient of the picture.
MAX_JPEG_SCANS = 32


class ImageRejected(Exception):
    """The bytes are not an image the face check will look at.

    ``code`` is a message key: ``image_invalid`` (not a JPEG/PNG, truncated, corrupt) or
    ``image_too_large`` (more pixels than allowed).
    """

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; raises ImageRejected("image_invalid")."""
    if not data:
        raise ImageRejected("image_invalid", "empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                return image.format or "", image.width, image.height
    except Image.DecompressionBombError as exc:  # Pillow's own limit, far above ours
        raise ImageRejected("image_too_large", str(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("image_invalid", str(exc) or type(exc).__name__) from None


def check_frame(data: bytes, max_side: int) -> tuple[str, int, int]:
    """(format, width, height) of one face-check frame, from its header, or ImageRejected.

    ``image_invalid``: not a JPEG/PNG (Pillow is told to try no other format), or a header it
    cannot read, or a JPEG with more than ``MAX_JPEG_SCANS`` scans (no camera or canvas makes one);
    ``image_too_large``: a side over ``max_side`` pixels. Nothing is decoded: ``Image.open`` reads only the header (microseconds
    for a 512 KB frame); Pillow's own decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, ~89 M
    pixels, an error at twice that) is far above this cap and becomes ``image_too_large`` too.
    """
    fmt, width, height = image_size(data)
    if width < 1 or height < 1:
        raise ImageRejected("image_invalid", f"{width}x{height}")
    if width > max_side or height > max_side:
        raise ImageRejected("image_too_large", f"{width}x{height}: a side is over {max_side} pixels")
    # 0xFFDA starts a scan; inside entropy-coded data a 0xFF byte is always followed by 0x00 or a
    # restart marker, so counting the pair counts the scans (an EXIF thumbnail adds its own one).
    if fmt != "PNG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:  # JPEG (or MPO: a JPEG with extra pictures)
        raise ImageRejected("image_invalid", f"more than {MAX_JPEG_SCANS} JPEG scans")
    return fmt, width, height


def decode_image(data: bytes, max_pixels: int, max_side: int = 0) -> np.ndarray:
    """Decode JPEG/PNG bytes into an RGB uint8 array of shape (H, W, 3), upright.

    Raises ImageRejected: ``image_too_large`` when width x height exceeds ``max_pixels``
    (checked on the header, before decoding), ``image_invalid`` for anything else wrong.
    ``max_side``: a candidate's frame, checked again with ``check_frame`` (0: an ID photo).
    """
    fmt, width, height = check_frame(data, max_side) if max_side else image_size(data)
    if width < 1 or height < 1:
        raise ImageRejected("image_invalid", f"{width}x{height}")
    if width * height > max_pixels:
        raise ImageRejected("image_too_large", f"{width}x{height} is more than {max_pixels} pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                image.load()  # a truncated or corrupt file fails here (LOAD_TRUNCATED_IMAGES stays off)
                upright = ImageOps.exif_transpose(image)
                if upright.mode != "RGB":
                    upright = _to_rgb(upright)
                array = np.asarray(upright, dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise ImageRejected("image_too_large", str(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageRejected("image_invalid", str(exc) or type(exc).__name__) from None
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageRejected("image_invalid", f"unexpected pixel layout {array.shape}")
    return np.ascontiguousarray(array)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey PNG: scale, do not clip
        grey = np.asarray(image, dtype=np.float64)
        top = 65535.0 if grey.max() > 255 else 255.0
        return Image.fromarray(np.clip(grey * (255.0 / top), 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))  # transparent areas become white, like a page
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")
