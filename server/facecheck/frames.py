"""The frames each face check captured, kept on disk for audit and reviews, deleted after retention."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

_PART = re.compile(r"^[a-z]{3,8}_[0-9a-f]{12}$")


class FrameArchive:
    """``root/<exam>/<account>/<check>/<n>.jpg``: the bytes exactly as the candidate sent them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _folder(self, exam_id: str, account_id: str, check_id: str) -> Path:
        for part in (exam_id, account_id, check_id):
            if not _PART.match(part):
                raise ValueError(f"not an id: {part!r}")
        return self.root / exam_id / account_id / check_id

    def save(self, exam_id: str, account_id: str, check_id: str, frames: list[bytes]) -> None:
        folder = self._folder(exam_id, account_id, check_id)
        folder.mkdir(parents=True, exist_ok=True)
        for index, data in enumerate(frames):
            path = folder / f"{index}.jpg"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)

    def path(self, exam_id: str, account_id: str, check_id: str, index: int) -> Path | None:
        try:
            path = self._folder(exam_id, account_id, check_id) / f"{int(index)}.jpg"
        except ValueError:
            return None
        return path if path.is_file() else None

    def cleanup(self, retention_days: float, now: float | None = None) -> int:
        """Delete the frames of checks older than the retention; returns how many checks went."""
        cutoff = (now or time.time()) - retention_days * 86400
        removed = 0
        for check in self.root.glob("*/*/*"):
            if check.is_dir() and check.stat().st_mtime < cutoff:
                shutil.rmtree(check, ignore_errors=True)
                removed += 1
        return removed
