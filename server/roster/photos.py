"""ID photos: where an import finds them (a zip or a folder) and where they are kept (content-addressed files)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from ..errors import UserError

MAX_PIXELS = 40_000_000  # larger pictures are refused before decoding (decompression bombs)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UTF8_FLAG = 0x800


def check_image(data: bytes) -> str | None:
    """ "jpg" or "png" when Pillow can open, verify and decode the bytes as that format, else None."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = {"JPEG": "jpg", "PNG": "png"}.get(img.format or "")
            if kind is None or img.width * img.height > MAX_PIXELS:
                return None
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # verify() does not notice a truncated JPEG; decoding does
        return kind
    except Exception:  # Pillow raises many kinds for broken files
        return None


def _base_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; zips made on Chinese Windows store GBK names without the UTF-8 flag."""
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return info.filename


class PhotoSource:
    """Photos offered with an import, found by base file name (case-insensitive, folders ignored)."""

    def __init__(self, files: dict[str, tuple[str, int, Callable[[], bytes]]], max_photo_bytes: int) -> None:
        self._files = files  # lower-case base name -> (name, declared size, reader)
        self.max_photo_bytes = max_photo_bytes

    @classmethod
    def empty(cls) -> PhotoSource:
        return cls({}, 0)

    @classmethod
    def from_zip(cls, data: bytes, max_photo_bytes: int, max_members: int = 50000) -> PhotoSource:
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
            raise UserError("photos_archive", detail=str(exc) or "not a zip file") from None
        if len(infos) > max_members:
            raise UserError("photos_archive", detail=f"more than {max_members} files")
        files: dict[str, tuple[str, int, Callable[[], bytes]]] = {}
        for info in infos:
            name = _base_name(zip_member_name(info))
            if info.is_dir() or not name or name.startswith("._") or "__MACOSX/" in info.filename:
                continue

            def read(info: zipfile.ZipInfo = info) -> bytes:
                # ZipExtFile never returns more than the declared size, and checks the CRC at its end.
                with archive.open(info) as member:
                    return member.read(max_photo_bytes + 1)

            files.setdefault(name.lower(), (name, info.file_size, read))
        return cls(files, max_photo_bytes)

    @classmethod
    def from_folder(cls, path: Path, max_photo_bytes: int) -> PhotoSource:
        files: dict[str, tuple[str, int, Callable[[], bytes]]] = {}
        for file in sorted(Path(path).rglob("*")):
            if not file.is_file() or file.name.startswith("."):
                continue

            def read(file: Path = file) -> bytes:
                with file.open("rb") as f:
                    return f.read(max_photo_bytes + 1)

            files.setdefault(file.name.lower(), (file.name, file.stat().st_size, read))
        return cls(files, max_photo_bytes)

    def __len__(self) -> int:
        return len(self._files)

    def find(self, name: str) -> tuple[str, bytes | None] | None:
        """(file name, bytes) or None when absent; bytes are None when over the size limit.

        A member that cannot be read (bad CRC, encrypted, unknown compression) gives b"",
        which is not an image."""
        found = self._files.get(_base_name(name).lower())
        if found is None:
            return None
        real_name, size, read = found
        if size > self.max_photo_bytes:
            return real_name, None
        try:
            data = read()
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError):
            return real_name, b""
        return real_name, (None if len(data) > self.max_photo_bytes else data)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file beside it, synced, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_once(target: Path, data: bytes) -> None:
    """Write a content-addressed file atomically, and only if it is not there yet (its name is its
    content's digest: it never changes)."""
    if not target.exists():
        write_atomic(target, data)


class PhotoStore:
    """Photos kept on disk under their SHA-256: ``root/<sha[:2]>/<sha>.<jpg|png>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        """Store the photo (idempotent, atomic) and return its SHA-256 hex."""
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            ext = "png"
        elif data.startswith(b"\xff\xd8\xff"):
            ext = "jpg"
        else:
            raise ValueError("not a JPEG or PNG")
        sha = hashlib.sha256(data).hexdigest()
        write_once(self.root / sha[:2] / f"{sha}.{ext}", data)
        return sha

    def path(self, sha256: str) -> Path | None:
        if not _SHA256.match(sha256 or ""):
            return None
        for ext in ("jpg", "png"):
            candidate = self.root / sha256[:2] / f"{sha256}.{ext}"
            if candidate.is_file():
                return candidate
        return None
