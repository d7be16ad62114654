"""The pushes of upload takes to the candidate's pages (docs/recorded.md "Upload takes", docs/signaling.md):
``take:processing`` while the file is checked and made playable, then ``take:playable`` and ``take:ended``
as for a streamed take (a failed upload's ``take:ended`` carries the reason and its message)."""

from __future__ import annotations

import socketio

from ..i18n import LANGS, message
from ..store.models import Take, public
from .fanout import CANDIDATE, candidate_room


class UploadSignals:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    async def progress(self, take: Take, body: dict) -> None:
        """``Uploads.on_progress``: the stage (checking / copying / encoding / hashing) and percent done."""
        payload = {"take_id": take.id, **body}
        await self.sio.emit("take:processing", payload, to=candidate_room(take.account_id), namespace=CANDIDATE)

    async def finished(self, take: Take, body: dict) -> None:
        """``Uploads.on_finished``: the take is complete (playable) or failed with the reason."""
        room = candidate_room(take.account_id)
        if body["state"] == "complete":
            main: dict = next((f for f in body["files"].values() if f.get("kind") == "main"), {})
            playable = {k: main.get(k) for k in ("duration_s", "sha256", "size")}
            await self.sio.emit(
                "take:playable", {"take_id": take.id, **playable, "aux": []}, to=room, namespace=CANDIDATE
            )
        reason = body.get("reason") or "uploaded"
        ended = {"take_id": take.id, "state": take.state, "reason": reason, "take": public(take)}
        if body["state"] == "failed":
            ended["message"] = {lang: message(reason, lang, **body.get("params", {})) for lang in LANGS}
        await self.sio.emit("take:ended", ended, to=room, namespace=CANDIDATE)
