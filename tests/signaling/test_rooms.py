"""Interview rooms through the real signaling: aiortc peers standing in for browsers, over
socket.io and WebRTC on loopback, with the queue deciding who may join."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest
import socketio

from ..queue.test_waiting import snapshot
from ..rooms.peers import Client, wait_for
from .conftest import url_of
from .test_sockets import candidate_peer, examiner_peer


class SocketRoom:
    """What a browser page does with the room: its offers and answers go over the socket."""

    def __init__(self, peer, room_id: str | None = None) -> None:
        self.peer, self.room_id = peer, room_id

    def _body(self, sdp: str) -> dict:
        return {"sdp": sdp, **({"room_id": self.room_id} if self.room_id else {})}

    async def join(self, participant_id: str, kind: str, offer: str) -> str:
        ack = await self.peer.call("rtc:join", self._body(offer))
        assert ack["ok"], ack
        return ack["sdp"]

    async def restart(self, participant_id: str, offer: str) -> str:
        ack = await self.peer.call("rtc:restart", self._body(offer))
        assert ack["ok"], ack
        return ack["sdp"]

    async def answer(self, participant_id: str, sdp: str) -> None:
        ack = await self.peer.call("rtc:answer", self._body(sdp))
        assert ack["ok"], ack


def media_client(peer, participant_id: str, kind: str, room_id: str | None, color: str, **options) -> Client:
    client = Client(SocketRoom(peer, room_id), participant_id, kind, color=color, **options)
    peer.handlers["rtc:offer"] = lambda data: client.on_server_offer(data["sdp"])
    return client


async def in_room(peers, server, services, live, clients):
    """A called candidate and the examiner, both connected to the room's media."""
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    cam = media_client(candidate, account.id, "candidate", live.room.id, "red")
    exam_cam = media_client(examiner, live.examiner.id, "examiner", None, "blue")
    clients += [cam, exam_cam]
    await exam_cam.join()
    await cam.join()
    return account, candidate, examiner, cam, exam_cam


async def called_candidate(peers, server, services, live):
    account, candidate = await candidate_peer(peers, server, services, live, 0)
    examiner = await examiner_peer(peers, server, services, live)
    assert (await examiner.call("queue:call_next"))["ok"]
    await candidate.wait_for("queue:called")
    return account, candidate, examiner


async def test_a_called_candidate_and_the_examiner_see_each_other_and_it_is_recorded(
    server, services, live, peers, clients
):
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    entry = await services.queue.entry(live.room.id, account.id)
    assert entry.state == "in_room"  # joining the media is entering the room
    assert await wait_for(lambda: exam_cam.received_from().get((account.id, "video"), 0) > 10, 15)
    assert await wait_for(lambda: cam.received_from().get((live.examiner.id, "video"), 0) > 10, 15)
    assert exam_cam.received_from().get((account.id, "audio"), 0) > 0
    people = await examiner.wait_for("room:participants", lambda d: len(d["participants"]) == 2)
    assert {p["kind"] for p in people["participants"]} == {"candidate", "examiner"}
    recording = await examiner.wait_for(
        "room:recording", lambda d: d["state"] == "recording" and d["bytes"] > 0, timeout=10
    )
    assert recording["interview_id"] == entry.admission
    face = await examiner.wait_for("room:face", timeout=15)  # the face check is turned off in this test
    assert face["state"] == "off" and face["passed"] is None and face["interview_id"] == entry.admission
    await asyncio.sleep(2)

    assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
    ended = await candidate.wait_for("room:ended")
    assert ended["state"] == "done"
    record = await services.recordings.get(entry.admission)
    assert record["state"] == "stopped" and record["account_id"] == account.id
    folder = Path(record["folder"])
    assert folder.parts[-3:] == (live.exam.id, account.id, entry.admission)
    tracks = record["manifest"]["tracks"]
    assert {(t["participant_id"], t["kind"]) for t in tracks} >= {
        (account.id, "video"),
        (account.id, "audio"),
        (live.examiner.id, "video"),
    }
    for track in tracks:
        path = services.recordings.file(record, track["file"])
        assert path is not None and track["size"] == path.stat().st_size and len(track["sha256"]) == 64
        with av.open(str(path)) as container:
            decoded = sum(1 for _ in container.decode(container.streams[0]))
        assert decoded > 0, track
    assert services.recordings.file(record, "../../etc/passwd") is None


async def test_only_the_admitted_candidate_may_join_and_bad_sdp_changes_nothing(
    server, services, live, peers, clients, redis, prefix
):
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    other_account, other = await candidate_peer(peers, server, services, live, 1)  # waiting, not called
    intruder = media_client(other, other_account.id, "candidate", live.room.id, "green")
    clients.append(intruder)
    offer = await intruder.make_offer()
    ack = await other.call("rtc:join", {"room_id": live.room.id, "sdp": offer})
    assert ack["error"]["code"] == "room_not_admitted"
    # refused before any node was chosen for the room: reaching for it moves no node's load (docs/nodes.md)
    assert not await redis.exists(services.store.keys.media_owner(live.room.id))
    before = await snapshot(redis, prefix)
    for sdp, code in [
        ("v=0 garbage", "sdp_invalid"),
        ("x" * 70000, "field_too_long"),
        (offer.replace("VP8", "XYZ").replace("opus", "xyz"), "no_usable_codec"),
    ]:
        ack = await candidate.call("rtc:join", {"room_id": live.room.id, "sdp": sdp})
        assert ack["ok"] is False and ack["error"]["code"] == code, (code, ack)
    assert await snapshot(redis, prefix) == before
    ack = await candidate.call("rtc:answer", {"room_id": live.room.id, "sdp": offer})
    assert ack["ok"] is False


async def test_the_aux_camera_joins_with_the_qr_token_at_most_three_devices(
    server, services, live, peers, clients, http
):
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    session = services.sessions.hash_of(await services.sessions.create(account.id, "candidate"))
    token = await services.aux_tokens.issue(live.exam.id, account.id, session)
    aux_peers = []
    for i in range(3):
        aux = await peers(
            url_of(server), "/aux", None, {"token": token, "device": f"device{i:04d}abcd"}, services=services
        )
        aux_peers.append(aux)
    state = await aux_peers[0].wait_for("aux:state")
    assert state["state"] == "called"
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peers(url_of(server), "/aux", None, {"token": token, "device": "device9999abcd"}, services=services)
    again = await peers(
        url_of(server), "/aux", None, {"token": token, "device": "device0000abcd"}, services=services
    )  # a device already admitted comes back
    await again.wait_for("aux:state")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peers(
            url_of(server), "/aux", None, {"token": token[:-3] + "abc", "device": "device0000abcd"}, services=services
        )

    cam = media_client(candidate, account.id, "candidate", live.room.id, "red")
    exam_cam = media_client(examiner, live.examiner.id, "examiner", None, "blue")
    side = media_client(aux_peers[0], "aux", "aux", None, "green", audio=False)
    clients += [cam, exam_cam, side]
    await exam_cam.join()
    await cam.join()
    await side.join()
    people = await examiner.wait_for("room:participants", lambda d: len(d["participants"]) == 3)
    aux_id = next(p["id"] for p in people["participants"] if p["kind"] == "aux")
    assert next(p["account_id"] for p in people["participants"] if p["kind"] == "aux") == account.id
    assert await wait_for(lambda: exam_cam.received_from().get((aux_id, "video"), 0) > 5, 15)
    await asyncio.sleep(0.5)
    assert (aux_id, "video") not in cam.received_from()  # the candidate never sees the aux camera

    await examiner.call("queue:end", {"account_id": account.id})
    ended = await aux_peers[0].wait_for("room:ended")
    assert ended["state"] == "done"


async def test_the_qr_code_is_an_svg_for_the_candidates_own_exam(server, services, live, http):
    from ..conftest import login

    account = await live.booked(0)
    await login(http, "13900000000", "secret-pass-1")
    resp = await http.get(f"/api/candidate/exams/{live.exam.id}/aux-qr")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert (await resp.text()).lstrip().startswith("<svg")
    link = resp.headers["X-Aux-Url"]
    page = await http.get("/" + link.split("/", 3)[3])
    assert page.status == 200 and account.id not in await page.text()
    bad = await http.get("/aux/forged.token")
    assert bad.status == 403 and "二维码无效" in await bad.text()


async def test_a_reconnect_gets_the_streams_back_and_recording_goes_on_in_the_same_folder(
    server, services, live, peers, clients
):
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    assert await wait_for(lambda: exam_cam.received_from().get((account.id, "video"), 0) > 10, 15)
    await cam.reconnect()  # a network change: a new peer connection, rtc:restart
    before = exam_cam.received_from().get((account.id, "video"), 0)
    assert await wait_for(lambda: exam_cam.received_from().get((account.id, "video"), 0) > before + 10, 15)
    assert await wait_for(lambda: cam.received_from().get((live.examiner.id, "video"), 0) > 5, 15)
    entry = await services.queue.entry(live.room.id, account.id)
    assert entry.state == "in_room"
    await examiner.call("queue:end", {"account_id": account.id})
    await candidate.wait_for("room:ended")
    record = await services.recordings.get(entry.admission)
    video = [t for t in record["manifest"]["tracks"] if t["participant_id"] == account.id and t["kind"] == "video"]
    assert len(video) == 2 and all(services.recordings.file(record, t["file"]) for t in video)
