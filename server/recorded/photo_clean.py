"""An artwork photo as the server keeps it (docs/recorded.md "Artwork"): JPEG or PNG in, one clean JPEG out.

A phone's photo carries more than the picture: EXIF with the GPS position, the phone's make and serial,
the time; XMP; comments; a thumbnail. None of it may reach a grader, so nothing of the file is kept but
its pixels: the orientation is applied (the picture stands as the candidate saw it), a colour profile
is converted to sRGB, the picture is re-encoded by Pillow with no metadata at all.

Decompression bombs: the size is read from the header and refused before anything is decoded; a JPEG
larger than ``MAX_SIDE`` is decoded at a reduced scale (``draft``), so memory stays bounded. HEIC (an
iPhone's own format; its browsers usually hand a file input a JPEG, but not always) is decoded by
pillow-heif (libheif and libde265 ship in its wheel: nothing is fetched), its size read from the
container first; one it cannot decode is refused with its own advice. AVIF, GIF, WebP... are refused
by name.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..errors import UserError
from ..facecheck.imaging import MAX_JPEG_SCANS, ImageRejected, image_size
from ..i18n import human_size

MAX_SIDE = 4096  # longer sides are scaled down: a 12 MP phone photo (4032 x 3024) keeps every pixel
MIN_SIDE = 200  # a shorter side than this shows no work
JPEG_QUALITY = 90
# ISO BMFF brands (bytes 8-12, after "ftyp") of HEIC files (HEVC in HEIF) and of AVIF (AV1: not decoded here)
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
OTHER_FORMATS = (
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes  # the JPEG written, without metadata
    width: int
    height: int
    source: str  # JPEG | PNG | HEIC: what was uploaded


def sniff(data: bytes) -> str:
    """What the bytes say they are: ``JPEG``, ``PNG``, ``HEIC`` or another format's name ("" unknown)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "HEIC"
    if data[4:8] == b"ftyp" and data[8:12] in AVIF_BRANDS:
        return "AVIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    for magic, name in OTHER_FORMATS:
        if data.startswith(magic):
            return name
    return ""


def clean_photo(data: bytes, max_bytes: int, max_pixels: int) -> CleanPhoto:
    """The photo re-encoded as a clean JPEG, or a ``UserError`` saying what is wrong with it (CPU-bound:
    call it in a thread)."""
    if len(data) > max_bytes:
        raise UserError("photo_too_large", limit=human_size(max_bytes))
    kind = sniff(data)
    if kind == "HEIC":
        return _heic(data, max_pixels)
    if kind not in ("JPEG", "PNG"):
        raise UserError("photo_format", format=kind) if kind else UserError("photo_not_image")
    try:  # the header only (the face check's reader): nothing is decoded yet
        _, width, height = image_size(data)
    except ImageRejected as exc:
        if exc.code == "image_too_large":  # Pillow's own bomb limit, far above ours
            raise UserError("photo_too_many_pixels", max_mp=max_pixels // 1_000_000) from None
        raise UserError("photo_not_image") from None
    _check_size(width, height, max_pixels)
    # no camera makes a JPEG of many scans, and its decoding time grows with them
    if kind == "JPEG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise UserError("photo_not_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # under our own limit, checked above
            image = Image.open(io.BytesIO(data), formats=(kind,))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UserError("photo_not_image") from None
    with image:
        try:
            return _reencode(image, kind)
        except UserError:
            raise
        except Exception:  # a truncated or corrupt file: Pillow raises many kinds while decoding
            raise UserError("photo_not_image") from None


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise UserError("photo_too_many_pixels", width=width, height=height, max_mp=max_pixels // 1_000_000)
    if min(width, height) < MIN_SIDE:
        raise UserError("photo_too_small", width=width, height=height, min=MIN_SIDE)


def _heic(data: bytes, max_pixels: int) -> CleanPhoto:
    """An iPhone's HEIC: the size from the container, then decoded (libheif turns it upright itself)."""
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)  # reads the container, decodes nothing yet
        width, height = heif.size
    except Exception:  # libheif's errors come as ValueError, RuntimeError, ...: not a HEIC it can read
        raise UserError("photo_heic") from None
    _check_size(width, height, max_pixels)
    try:
        image = heif.to_pillow()
    except Exception:
        raise UserError("photo_heic") from None
    with image:
        return _reencode(image, "HEIC")


def _reencode(image: Image.Image, kind: str) -> CleanPhoto:
    if kind == "JPEG" and max(image.size) > MAX_SIDE:
        image.draft(image.mode, (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale: memory bounded
    image.load()
    icc = image.info.get("icc_profile")
    picture = ImageOps.exif_transpose(image)  # the orientation applied, as the phone showed the photo
    picture = _to_rgb_or_grey(picture, icc)
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    picture.info = {}  # nothing of the upload's metadata is written (Pillow copies a comment from info)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return CleanPhoto(out.getvalue(), picture.width, picture.height, kind)


def _to_rgb_or_grey(picture: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB (or L for a grey photo), in sRGB when the file said which colours it meant; transparency on white."""
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        picture = picture.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if picture.mode == "P":
        picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
    if picture.mode in ("RGBA", "LA"):
        white = Image.new("RGB", picture.size, (255, 255, 255))
        white.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
        picture = white
    if icc and picture.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(picture, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                picture = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels as they are
    if picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    return picture
