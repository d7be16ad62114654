"""Where a take's playback files are, whichever way the take was made: a streamed take's
``playable.webm`` (``rooms/remux.py``) or an upload's ``playable.mp4`` / ``playable.webm``
(``upload_media.py``), and its aux cameras' ``aux-<n>.webm``. The take's ``files`` (name ->
{kind, sha256, ...}) is the only list trusted: no name or path from a request reaches the disk.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..rooms.recordings import RecordingIndex
from ..rooms.remux import PLAYABLE
from ..store.models import Take

CONTENT_TYPES = {".webm": "video/webm", ".mp4": "video/mp4"}


def main_name(files: dict) -> str | None:
    """The name of the main playback file among a take's ``files`` (the one of kind ``main``; a take
    written before kinds were recorded has ``playable.webm``), or None before it is written."""
    for name, info in files.items():
        if isinstance(info, dict) and info.get("kind") == "main":
            return name
    return PLAYABLE if PLAYABLE in files else None


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


async def take_folder(recordings: RecordingIndex, take: Take) -> Path:
    """The take's folder: the recording index's (a streamed take) or the usual layout (an upload,
    which has no recording of its own)."""
    record = await recordings.get(take.id)
    return Path(record["folder"]) if record else recordings.folder(take.exam_id, take.account_id, take.id)


async def take_source(recordings: RecordingIndex, take: Take, name: str | None = None) -> tuple[dict | None, str]:
    """The take's file ``name`` (None: the main playback file), only once the take lists it
    (``take_not_playable`` before, ``take_file_missing`` for a name it has not), with the recording's
    record to read it where it is (``RecordingIndex.locate``: this node, or the node that wrote it);
    None for an upload, whose files are in the usual layout on the node that received it (``take_file``)."""
    return await recordings.get(take.id), listed_name(take, name)


def listed_name(take: Take, name: str | None = None) -> str:
    """``name`` (None: the main playback file) if the take lists it: ``take_not_playable`` before the take
    has its files, ``take_file_missing`` for a name it has not."""
    found = main_name(take.files) if name is None else name
    if found is None or found not in take.files:
        raise UserError("take_file_missing" if take.playable_at else "take_not_playable")
    return found


async def take_file(recordings: RecordingIndex, take: Take, name: str | None = None) -> Path:
    """The path of the take's file ``name`` (None: the main playback file), only once the take lists
    it; ``take_not_playable`` before, ``take_file_missing`` for a name it has not or a file gone."""
    path = await take_folder(recordings, take) / listed_name(take, name)
    if not path.is_file():
        raise UserError("take_file_missing")
    return path
