"""Signal anywhere, media on the room's node (docs/nodes.md): every media event a socket sends (``rtc:*``,
``take:*``, the aux camera's) goes to the node that holds the room's media, chosen by load when the
room opens (``nodes.placement``): run here when that is this node, else relayed through Redis
(``nodes.relay``) to it, which answers with its own SDP (its own ICE candidates: the browser's peer
connection goes straight to the media node). What used to assume the room was local (ending an
interview, the examiner's snapshot, a page that closed) reaches the media node the same way.

A room whose node died is re-homed by the next join (placement takes over a dead node's claim at
once); a node that notices another one died tells the participants of its rooms to reconnect
(``rtc:reconnect``), and so does a node that gives a room up (draining, or a claim lost after a Redis
failover). Every socket that joined a room's media is in the socket.io room ``media:{room}`` of its
namespace for that.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from ..errors import UserError
from ..nodes.booths import BoothIndex
from ..nodes.node import Node
from ..nodes.relay import NodeGone
from ..queue.entries import CALLED, IN_ROOM, QueueChange
from ..rooms.interviews import Participant
from ..rooms.media import MediaError
from ..rooms.sdp import check_offer
from ..services import Services
from ..store.models import Account
from .fanout import AUX, CANDIDATE, EXAMINER
from .recorded import TakeSignals, take_json
from .rooms import RoomSignals, media_error

log = logging.getLogger("server.signaling")
ATTEMPTS = 3  # a room that moved (its node died, or gave it up) is looked up again this often
MEDIA_NAMESPACES = (CANDIDATE, EXAMINER, AUX)
MOVED = "room_on_other_server"  # what a node answers for a room it does not (or no longer) hold


def media_room(room_id: str) -> str:
    """The socket.io room of every socket that joined the media of ``room_id`` (any namespace)."""
    return f"media:{room_id}"


class MediaRouter:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        services: Services,
        rooms: RoomSignals,
        takes: TakeSignals,
        node: Node,
        booths: BoothIndex,
    ) -> None:
        self.sio = sio
        self.services = services
        self.rooms = rooms
        self.interviews = rooms.interviews
        self.takes = takes
        self.node = node
        self.process = node.process
        self.booths = booths
        self.moving = False  # the process is stopping: its sockets move to other nodes, their media stays
        for op, handler in {
            "candidate_join": self._candidate_join,
            "examiner_join": self._examiner_join,
            "aux_join": self._aux_join,
            "aux_take_join": self._aux_take_join,
            "take_join": self._take_join,
            "take_answer": self._take_answer,
            "take_stop": self._take_stop,
            "answer": self._answer,
            "leave": self._leave,
            "page_event": self._page_event,
            "queue_changed": self._queue_changed,
            "snapshot": self._snapshot,
            "ping": self._ping,
        }.items():
            node.relay.handle(op, handler)

    # --- where a room's media is -----------------------------------------------------------------
    async def _route(
        self, room_id: str, op: str, body: dict, local: Callable[[], Awaitable[dict]], place: bool = True
    ) -> dict | None:
        """Run ``op`` on the room's node (``local`` when it is this one). ``place``: choose a node when
        no live one holds the room (a join); else None then (an answer, a leave: nothing to reach)."""
        for _ in range(ATTEMPTS):
            if place:
                home = await self.node.placement.place(room_id)
                if not home.process:
                    raise UserError("no_media_node")
                process = home.process
            else:
                process = await self.node.placement.holder(room_id)
                if not process:
                    return None
            try:
                if process == self.process:
                    return await local()
                return await self.node.relay.request(process, op, body)
            except NodeGone:
                log.warning("room's node gone; looking again", extra={"room": room_id, "process_id": process})
            except UserError as err:
                if err.code != MOVED:
                    raise
                log.info("room moved; looking again", extra={"room": room_id, "process_id": process})
        raise UserError("media_node_timeout")

    async def _account(self, account_id: Any) -> Account:
        account = await self.services.directory.get(str(account_id))
        if account is None or account.disabled:
            raise UserError("forbidden")
        return account

    def _may_open(self, room_id: str, participant_id: str) -> None:
        """A draining node takes nobody into a room without an interview in progress (nor a new room):
        it gives such a room up (its people reconnect to another node) and the asker looks again."""
        if not self.node.draining:
            return
        interview = self.interviews.rooms.get(room_id)
        if interview is not None and (interview.interview_id or participant_id in interview.participants):
            return
        raise UserError(MOVED)

    async def joined(self, sid: str, namespace: str, room_id: str) -> None:
        """The socket ``sid`` (held by this node) joined the media of ``room_id``: it hears the room's
        ``rtc:reconnect`` from now on."""
        await self.sio.enter_room(sid, media_room(room_id), namespace=namespace)

    async def rejoin_if_absent(
        self, sid: str, namespace: str, room_id: str, participant_id: str, media: dict | None = None
    ) -> None:
        """A socket (re)connected for a room whose media does not have its participant (the node that
        held the room died, or the room moved meanwhile): its page makes a new connection now
        (``rtc:reconnect``; a page without one ignores it) instead of when its browser notices the
        silence. ``media``: the room's snapshot, when the caller has it."""
        media = await self.snapshot(room_id) if media is None else media
        present = {p.get("id") for p in (media.get("participants") or {}).get("participants", [])}
        if participant_id not in present:
            body = {"room_id": room_id, "reason": "not_in_room"}
            await self.sio.emit("rtc:reconnect", body, to=sid, namespace=namespace)

    @staticmethod
    def _offer_usable(sdp: str, kind: str) -> None:
        """A bad offer is refused here, before a node is chosen for it (the media node checks it again)."""
        try:
            check_offer(sdp, kind)
        except MediaError as exc:
            raise media_error(exc) from None

    # --- candidates ----------------------------------------------------------------------------
    async def candidate_join(self, account: Account, room_id: str, sdp: str) -> str:
        # refused here what the media node would refuse, so that nothing is placed for it (a candidate
        # reaching for rooms not theirs must not move the nodes' load)
        entry = await self.services.queue.entry(room_id, account.id)
        if entry is None or entry.state not in (CALLED, IN_ROOM):
            raise UserError("room_not_admitted", field="room_id")
        self._offer_usable(sdp, "candidate")
        body = {"account_id": account.id, "room_id": room_id, "sdp": sdp}
        return (await self._route(room_id, "candidate_join", body, lambda: self._candidate_join(body)) or {})["sdp"]

    async def _candidate_join(self, body: dict) -> dict:
        self._may_open(body["room_id"], body["account_id"])
        account = await self._account(body["account_id"])
        return {"sdp": await self.rooms.candidate_join(account, body["room_id"], body["sdp"])}

    async def answer(self, room_id: str, participant_id: str, sdp: str) -> None:
        body = {"room_id": room_id, "participant_id": participant_id, "sdp": sdp}
        if await self._route(room_id, "answer", body, lambda: self._answer(body), place=False) is None:
            raise UserError("unknown_participant", field="sdp")

    async def _answer(self, body: dict) -> dict:
        try:
            await self.interviews.answer(body["room_id"], body["participant_id"], body["sdp"])
        except MediaError as exc:
            raise media_error(exc) from None
        return {}

    async def leave(self, room_id: str, participant_id: str) -> None:
        """A page closed: its participant leaves the room's media, wherever that is."""
        body = {"room_id": room_id, "participant_id": participant_id}
        await self._route(room_id, "leave", body, lambda: self._leave(body), place=False)

    async def _leave(self, body: dict) -> dict:
        await self.interviews.leave(body["room_id"], body["participant_id"])
        return {}

    async def page_event(self, account_id: str, room_id: str, event: str, level: Any, charging: Any) -> None:
        """What a candidate's page reported about itself, to the room's node where they are watched
        (``monitoring.py``); ``room_not_admitted`` when no node holds the room."""
        body = {"account_id": account_id, "room_id": room_id, "event": event, "level": level, "charging": charging}
        if await self._route(room_id, "page_event", body, lambda: self._page_event(body), place=False) is None:
            raise UserError("room_not_admitted", field="room_id")

    async def _page_event(self, body: dict) -> dict:
        if self.rooms.monitors is None:
            raise UserError("room_not_admitted", field="room_id")
        await self.rooms.monitors.page_event(
            body["account_id"], body["room_id"], body["event"], body["level"], body["charging"]
        )
        return {}

    # --- examiners -----------------------------------------------------------------------------
    async def examiner_join(self, account: Account, room_id: str, exam_id: str, sdp: str) -> str:
        self._offer_usable(sdp, "examiner")
        body = {"account_id": account.id, "room_id": room_id, "exam_id": exam_id, "sdp": sdp}
        return (await self._route(room_id, "examiner_join", body, lambda: self._examiner_join(body)) or {})["sdp"]

    async def _examiner_join(self, body: dict) -> dict:
        self._may_open(body["room_id"], body["account_id"])
        account = await self._account(body["account_id"])
        name = account.name or account.username or ""
        participant = Participant(account.id, "examiner", name, account.id)
        try:
            return {"sdp": await self.interviews.join(body["room_id"], body["exam_id"], participant, body["sdp"])}
        except MediaError as exc:
            raise media_error(exc) from None

    async def snapshot(self, room_id: str) -> dict:
        """The room's media as its examiners' pages show it on connect (participants, recorder)."""
        body = {"room_id": room_id}
        return await self._route(room_id, "snapshot", body, lambda: self._snapshot(body), place=False) or {}

    async def _snapshot(self, body: dict) -> dict:
        interview = self.interviews.rooms.get(body["room_id"])
        if interview is None:
            return {}
        monitors = self.rooms.monitors
        return {
            "participants": self.interviews.participants_json(interview),
            "recording": self.interviews.recording_state(interview),
            "flags": monitors.current(body["room_id"]) if monitors is not None else [],
        }

    # --- auxiliary cameras -------------------------------------------------------------------------
    async def aux_join(self, account_id: str, exam_id: str, participant_id: str, sdp: str) -> tuple[str, str]:
        """The aux camera joins its candidate's interview room, or the booth of their take being filmed;
        returns (the media room, the answer)."""
        self._offer_usable(sdp, "aux")
        entry = next(
            (e for e in await self.services.queue.entries_of(account_id) if e.exam == exam_id),
            None,
        )
        if entry is not None and entry.state in (CALLED, IN_ROOM):
            body = {
                "account_id": account_id,
                "room_id": entry.room,
                "exam_id": exam_id,
                "participant_id": participant_id,
                "name": entry.name,
                "sdp": sdp,
            }
            answer = await self._route(entry.room, "aux_join", body, lambda: self._aux_join(body))
            return entry.room, (answer or {})["sdp"]
        booth = await self.booths.of(exam_id, account_id)
        if booth is None:
            raise UserError("aux_wait")
        sitting_id = booth[0]
        body = {"account_id": account_id, "exam_id": exam_id, "participant_id": participant_id, "sdp": sdp}
        answer = await self._route(sitting_id, "aux_take_join", body, lambda: self._aux_take_join(body), place=False)
        if answer is None:  # nobody films it now (the booth's node died: the candidate's page reopens it)
            raise UserError("aux_wait")
        return sitting_id, answer["sdp"]

    async def _aux_join(self, body: dict) -> dict:
        self._may_open(body["room_id"], body["participant_id"])
        participant = Participant(body["participant_id"], "aux", body["name"], body["account_id"])
        try:
            return {"sdp": await self.interviews.join(body["room_id"], body["exam_id"], participant, body["sdp"])}
        except MediaError as exc:
            raise media_error(exc) from None

    async def _aux_take_join(self, body: dict) -> dict:
        booth = self.takes.booth_of(body["account_id"], body["exam_id"])
        if booth is None:
            raise UserError("aux_wait")
        participant = Participant(body["participant_id"], "aux", booth.account.name, body["account_id"])
        return {"sdp": await self.takes.aux_join(booth, participant, body["sdp"])}

    async def aux_state(self, account_id: str, exam_id: str) -> dict | None:
        """What a connecting aux camera is told while its candidate's take is filmed (on any node)."""
        booth = await self.booths.of(exam_id, account_id)
        if booth is None:
            return None
        take = await self.services.sittings.find_take(booth[1])
        if take is None or take.state != "recording":
            return None
        return {"state": "take_recording", "room_id": booth[0], "take_id": take.id}

    # --- recorded takes ----------------------------------------------------------------------------
    async def take_join(self, account: Account, take_id: str, sdp: str) -> tuple[str, str]:
        """The candidate's camera joins the take's booth (the room id is the sitting's); returns
        (the sitting id, the answer)."""
        take = await self.takes.recording_take(account, take_id)  # (a refused offer fails the take: its node decides)
        body = {"account_id": account.id, "take_id": take_id, "sdp": sdp}
        answer = await self._route(take.sitting_id, "take_join", body, lambda: self._take_join(body))
        return take.sitting_id, (answer or {})["sdp"]

    async def _take_join(self, body: dict) -> dict:
        account = await self._account(body["account_id"])
        take = await self.takes.recording_take(account, body["take_id"])
        self._may_open(take.sitting_id, account.id)
        answer = await self.takes.join(account, take.id, body["sdp"])
        await self.booths.filming(take.exam_id, account.id, take.sitting_id, take.id, take.stop_at)
        return {"sdp": answer}

    async def take_answer(self, account: Account, take_id: str, sdp: str) -> None:
        take = await self.takes.recording_take(account, take_id)
        body = {"account_id": account.id, "take_id": take_id, "sdp": sdp}
        if (
            await self._route(take.sitting_id, "take_answer", body, lambda: self._take_answer(body), place=False)
            is None
        ):
            raise UserError("unknown_participant", field="sdp")

    async def _take_answer(self, body: dict) -> dict:
        await self.takes.answer(await self._account(body["account_id"]), body["take_id"], body["sdp"])
        return {}

    async def take_stop(self, account: Account, take_id: str) -> dict:
        """Stop the take on the booth's node, or here when no live node films it (its node died)."""
        take = await self.takes.recording_take(account, take_id)
        body = {"account_id": account.id, "take_id": take_id}
        found = await self._route(take.sitting_id, "take_stop", body, lambda: self._take_stop(body), place=False)
        return found if found is not None else await self._take_stop(body)

    async def _take_stop(self, body: dict) -> dict:
        take = await self.takes.stop(await self._account(body["account_id"]), body["take_id"])
        return {"take": take_json(take)}

    async def held_elsewhere(self, room_id: str) -> bool:
        """Whether a live node other than this one holds the room (``TakeSignals.held_elsewhere``)."""
        holder = await self.node.placement.holder(room_id)
        return bool(holder) and holder != self.process

    # --- the queue, the media node's own events --------------------------------------------------
    async def queue_changed(self, change: QueueChange) -> None:
        """The queue's listener: an interview that ended (or a removal) closes the candidate's media on
        the room's node, which tells their pages (``room:ended``); with no live node, from here."""
        if change.event not in ("queue_done", "queue_removed", "face_locked"):
            return
        body = {"room": change.room, "exam": change.exam, "event": change.event, "account": change.account}
        await self._route(change.room, "queue_changed", body, lambda: self._queue_changed(body), place=False)

    async def _queue_changed(self, body: dict) -> dict:
        change = QueueChange(body["room"], body["exam"], body["event"], body["account"])
        await self.rooms.queue_changed(change)
        return {}

    async def _ping(self, body: dict) -> dict:
        return {"process": self.process, "at": body.get("at")}

    async def room_event(self, room_id: str, event: str, payload: dict) -> None:
        """``Interviews.on_event``: a room this node gave up (``rtc:reconnect``) tells every socket that
        joined its media; the rest goes to the room signals as before."""
        if event == "rtc:reconnect":
            self.takes.abandoned(room_id)
            await self.tell_reconnect(room_id, payload.get("reason") or "room_moved")
            return
        await self.rooms.room_event(room_id, event, payload)

    async def tell_reconnect(self, room_id: str, reason: str) -> None:
        body = {"room_id": room_id, "reason": reason}
        for namespace in MEDIA_NAMESPACES:
            await self.sio.emit("rtc:reconnect", body, to=media_room(room_id), namespace=namespace)

    async def node_lost(self, process: str, room_ids: list[str]) -> None:
        """``Node.on_lost``: the participants of a dead node's rooms reconnect now (their next join
        re-homes the room), not when their browsers notice the silence."""
        for room_id in room_ids:
            await self.tell_reconnect(room_id, "node_lost")

    async def give_up_all(self, reason: str) -> int:
        """The node stops carrying media (the end of a drain): every room is closed here (a take's booth
        leaves its take open for another node) and its participants are told to reconnect."""
        rooms = list(self.interviews.rooms)
        if any(self.takes.owns(r) for r in rooms):
            await self.takes.close()
        for room_id in list(self.interviews.rooms):
            await self.interviews.close_room(room_id)
        for room_id in rooms:
            await self.tell_reconnect(room_id, reason)
        return len(rooms)

    async def draining_beat(self) -> None:
        """While draining, every beat: rooms without an interview in progress are given up at once (their
        examiners reconnect to the room on another node); the others when their interview ends."""
        if not self.node.draining:
            return
        for room_id, interview in list(self.interviews.rooms.items()):
            if interview.interview_id or self.takes.owns(room_id):
                continue
            log.info("room given up: the node is draining", extra={"room": room_id})
            await self.interviews.close_room(room_id)
            await self.tell_reconnect(room_id, "node_draining")
