"""Recorded takes through the real signalling: a candidate's socket.io client and an aiortc peer
standing in for the phone's page, a take of a sitting made through the domain, recorded on the
server as it is filmed, and played back over HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import av
import pytest
from aiortc import RTCSessionDescription

from server.accounts.sessions import COOKIE
from server.rooms import passthrough
from server.rooms.remux import PLAYABLE
from server.rooms.track_writer import sha256_file

from ..conftest import ADMIN, fast_settings
from ..rooms.peers import Client
from .conftest import server_process, url_of

passthrough.install()  # the client peers count encoded frames (the server's media may be in another process)
GRACE_S = 3  # take_reconnect_grace_s in these tests
CLAIM_TTL_S = 3  # room_claim_ttl_s: how soon a killed process's booth is taken over
DEVICE = "phone-device-0001"


@pytest.fixture
def settings(tmp_path, redis_url, prefix):
    # the processes of these tests share one recordings folder, as nodes on shared storage do (docs/nodes.md)
    return fast_settings(
        tmp_path,
        redis_url,
        prefix,
        take_reconnect_grace_s=GRACE_S,
        room_claim_ttl_s=CLAIM_TTL_S,
        recordings_shared=True,
    )


class TakeRoom:
    """What the recording page does with a take's media: offers and answers over the socket."""

    def __init__(self, peer, take_id: str) -> None:
        self.peer, self.take_id = peer, take_id

    async def join(self, participant_id: str, kind: str, offer: str) -> str:
        ack = await self.peer.call("take:join", {"take_id": self.take_id, "sdp": offer})
        assert ack["ok"], ack
        return ack["sdp"]

    async def restart(self, participant_id: str, offer: str) -> str:
        ack = await self.peer.call("take:restart", {"take_id": self.take_id, "sdp": offer})
        assert ack["ok"], ack
        return ack["sdp"]

    async def answer(self, participant_id: str, sdp: str) -> None:
        ack = await self.peer.call("take:answer", {"take_id": self.take_id, "sdp": sdp})
        assert ack["ok"], ack


def phone(peer, account_id: str, take_id: str) -> Client:
    client = Client(TakeRoom(peer, take_id), account_id, "candidate", color="red")
    peer.handlers["rtc:offer"] = lambda data: client.on_server_offer(data["sdp"])
    return client


async def recorded_subject(services, live, take_max_s: int = 60):
    subject = live.world.subjects[0]  # 声乐: every candidate of the roster has it
    now = time.time()
    return await services.catalog.update_subject(
        ADMIN,
        live.exam.id,
        subject.id,
        kind="recorded",
        takes_allowed=5,
        take_max_s=take_max_s,
        window_opens=now - 600,
        window_closes=now + 3600,
    )


async def a_take(services, live, index: int = 0, take_max_s: int = 60):
    """A verified, enrolled candidate with a practice sitting and a take just started (what the page's
    HTTP calls do before the media joins)."""
    subject = await recorded_subject(services, live, take_max_s)
    account = await live.world.candidate(index)
    sitting = await services.sittings.enter(account, live.exam.id, subject.id, "practice", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    return account, sitting, take


async def candidate_socket(peers, url, services, account):
    peer = await peers(url, "/candidate", account, services=services)
    await peer.wait_for("queue:snapshot")
    return peer


def decoded_seconds(path, kind: str = "video") -> float:
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        times = [f.time for f in container.decode(stream) if f.time is not None]
    return max(times) - min(times) if times else 0.0


def folder_of(services, account, take):
    return services.recordings.folder(take.exam_id, account.id, take.id)


async def test_a_take_is_recorded_as_it_is_filmed_then_stopped_and_played_back(server, services, live, peers, clients):
    account, sitting, take = await a_take(services, live)
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    joined = time.time()
    await cam.join()

    # the page shows what the server's recorder does: recording, bytes growing, the time left
    first = await candidate.wait_for("take:recording", lambda d: d["state"] == "recording" and d["bytes"] > 0, 10)
    later = await candidate.wait_for(
        "take:recording", lambda d: d["state"] == "recording" and d["bytes"] > first["bytes"] + 10_000, 10
    )
    assert later["take_id"] == take.id and later["tracks"] == 2 and later["connection"] == "ok"
    assert later["elapsed_s"] > first["elapsed_s"] and 0 < later["remaining_s"] <= 60
    assert not candidate.seen("room:recording")  # a booth is no interview room
    await asyncio.sleep(2)

    ack = await candidate.call("take:stop", {"take_id": take.id})
    stopped = time.time()
    assert ack["ok"] and ack["take"]["state"] == "complete", ack
    ended = await candidate.wait_for("take:ended", timeout=5)
    assert (ended["take_id"], ended["state"], ended["reason"]) == (take.id, "complete", "stopped")
    assert ended["message"]["zh"] == "录制已停止，视频已保存在服务器上"
    assert abs(ended["take"]["duration_s"] - (stopped - joined)) < 2.0
    playable = await candidate.wait_for("take:playable", timeout=15)
    folder = folder_of(services, account, take)
    assert playable["take_id"] == take.id and playable["sha256"] == sha256_file(folder / PLAYABLE)
    assert abs(decoded_seconds(folder / PLAYABLE) - playable["duration_s"]) < 1.0
    assert abs(playable["duration_s"] - ended["take"]["duration_s"]) < 1.0
    with av.open(str(folder / PLAYABLE)) as container:
        assert sorted(s.codec_context.name for s in container.streams) == ["opus", "vp8"]
    kept = await services.sittings.take_of(account, take.id)
    assert kept.state == "complete" and kept.sha256 == playable["sha256"] and PLAYABLE in kept.files
    record = await services.recordings.get(take.id)  # indexed like interviews
    assert record["state"] == "stopped" and record["room_id"] == sitting.id
    assert all(t["sha256"] for t in record["manifest"]["tracks"])
    assert sitting.id not in services_booths(server)  # the booth is closed, its claim given up

    # the candidate plays it back (and seeks: range requests); another candidate cannot
    token = await services.sessions.create(account.id, "candidate")
    async with aiohttp.ClientSession(cookies={COOKIE: token}) as http:
        async with http.get(f"{url_of(server)}/api/candidate/takes/{take.id}/video") as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "video/webm"
            assert await resp.read() == (folder / PLAYABLE).read_bytes()
        async with http.get(
            f"{url_of(server)}/api/candidate/takes/{take.id}/video", headers={"Range": "bytes=100-199"}
        ) as resp:
            assert resp.status == 206 and len(await resp.read()) == 100
    other = await live.world.candidate(1)
    token = await services.sessions.create(other.id, "candidate")
    async with aiohttp.ClientSession(cookies={COOKIE: token, "lang": "zh"}) as http:
        async with http.get(f"{url_of(server)}/api/candidate/takes/{take.id}/video") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["message"] == "找不到该条录制视频"

    # the take is over: it cannot be joined again
    again = await candidate.call("take:join", {"take_id": take.id, "sdp": await cam.make_offer()})
    assert not again["ok"] and again["error"]["code"] == "take_over"
    assert "录制已经结束" in again["error"]["message"]


def services_booths(server) -> dict:
    from server.signaling.hub import SIO

    sio = server.app[SIO]
    return sio.namespace_handlers["/candidate"].rooms.booths.booths


async def test_the_server_stops_a_take_at_its_longest_length(server, services, live, peers, clients):
    account, _, take = await a_take(services, live, take_max_s=10)
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    ended = await candidate.wait_for("take:ended", timeout=15)
    assert time.time() >= take.started_at + 10
    assert (ended["state"], ended["reason"]) == ("complete", "limit")
    assert ended["message"]["zh"].startswith("已达到单次录制的最长时间")
    playable = await candidate.wait_for("take:playable", timeout=15)
    assert 8.0 < playable["duration_s"] <= 10.5
    assert abs(decoded_seconds(folder_of(services, account, take) / PLAYABLE) - playable["duration_s"]) < 1.0


async def test_the_sittings_deadline_stops_the_take_which_is_then_submitted(server, services, live, peers, clients):
    """A formal sitting whose window closes during a take: the server stops the take at the deadline
    and the deadline sweep submits it (自动提交), and the page is told both."""
    subject = live.world.subjects[0]
    now = time.time()
    await services.catalog.update_subject(
        ADMIN, live.exam.id, subject.id, kind="recorded", take_max_s=60, window_opens=now - 600, window_closes=now + 12
    )
    account = await live.world.candidate(0)
    await live.pass_face(account)  # formal takes need the face check
    sitting = await services.sittings.enter(account, live.exam.id, subject.id, "formal", DEVICE)
    assert abs(sitting.deadline - (now + 12)) < 0.01
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "rear", "landscape")
    assert take.stop_at == sitting.deadline
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    ended = await candidate.wait_for("take:ended", timeout=20)
    assert time.time() >= sitting.deadline
    assert (ended["state"], ended["reason"]) == ("complete", "deadline")
    assert ended["message"]["zh"] == "考试时间已到，录制已自动停止，视频已保存在服务器上"
    over = await candidate.wait_for("sitting:ended", timeout=10)
    assert (over["sitting_id"], over["state"]) == (sitting.id, "auto_submitted")
    assert over["submission"]["take_id"] == take.id
    await candidate.wait_for("take:playable", timeout=15)


async def test_a_connection_lost_past_the_grace_period_cuts_the_take(server, services, live, peers, clients):
    account, _, take = await a_take(services, live)
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    await candidate.wait_for("take:recording", lambda d: d["bytes"] > 5_000, 10)
    await cam.pc.close()  # Wi-Fi gone, and the page never comes back
    lost = time.time()
    ended = await candidate.wait_for("take:ended", timeout=GRACE_S + 8)
    assert time.time() - lost >= GRACE_S - 0.5
    assert (ended["state"], ended["reason"]) == ("cut", "connection")
    assert ended["message"]["zh"].startswith("网络连接中断时间过长")
    assert ended["take"]["counts"] is False  # a cut take uses up no take (the subject's default)
    playable = await candidate.wait_for("take:playable", timeout=15)  # what was recorded is kept
    assert playable["duration_s"] > 0.5


async def test_reconnecting_within_the_grace_period_continues_the_take(server, services, live, peers, clients):
    account, _, take = await a_take(services, live)
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    await candidate.wait_for("take:recording", lambda d: d["bytes"] > 5_000, 10)
    await asyncio.sleep(1)
    await cam.pc.close()  # the phone switches from Wi-Fi to 4G ...
    await asyncio.sleep(GRACE_S / 2)
    await cam.reconnect()  # ... and the page makes a new connection: take:restart
    bytes_before = candidate.seen("take:recording")[-1]["bytes"]
    await candidate.wait_for(
        "take:recording", lambda d: d["connection"] == "ok" and d["bytes"] > bytes_before + 3_000, 10
    )
    await asyncio.sleep(GRACE_S)  # longer than the grace in total: the take goes on
    assert not candidate.seen("take:ended")
    ack = await candidate.call("take:stop", {"take_id": take.id})
    assert ack["ok"] and ack["take"]["state"] == "complete"
    playable = await candidate.wait_for("take:playable", timeout=15)
    record = await services.recordings.get(take.id)
    files = sorted(t["file"] for t in record["manifest"]["tracks"] if t["participant_id"] == account.id)
    assert [f[-8:] for f in files] == ["-01.webm", "-02.webm", "-01.webm", "-02.webm"]  # audio, video: 2 segments
    kept = await services.sittings.take_of(account, take.id)
    assert kept.files[PLAYABLE]["segments"] == 2
    folder = folder_of(services, account, take)
    assert abs(decoded_seconds(folder / PLAYABLE) - playable["duration_s"]) < 1.0


async def test_another_candidates_take_or_a_forged_one_is_refused(server, services, live, peers, clients):
    account, _, take = await a_take(services, live)
    other = await live.world.candidate(1)
    intruder = await candidate_socket(peers, url_of(server), services, other)
    cam = Client(None, other.id, "candidate")
    clients.append(cam)
    offer = await cam.make_offer()
    for take_id in (take.id, "take_000000000000", "../../etc", ""):
        ack = await intruder.call("take:join", {"take_id": take_id, "sdp": offer})
        assert not ack["ok"], ack
        if take_id:
            assert ack["error"]["code"] == "take_not_found" and ack["error"]["message"] == "找不到该条录制视频"
    ack = await intruder.call("take:stop", {"take_id": take.id})
    assert ack["error"]["code"] == "take_not_found"
    # nothing changed: the take is still the owner's to film, no booth was opened, nothing recorded
    assert (await services.sittings.take_of(account, take.id)).state == "recording"
    assert await services.recordings.get(take.id) is None
    assert take.sitting_id not in services_booths(server)
    # the owner's page with an offer the server refuses: told so; nothing was recorded, so the take failed
    # (it does not count) and the candidate is not stuck behind a take that stays "recording"
    owner = await candidate_socket(peers, url_of(server), services, account)
    ack = await owner.call("take:join", {"take_id": take.id, "sdp": "v=0\r\nnot an offer"})
    assert ack["error"]["code"] == "sdp_invalid" and "请刷新页面重试" in ack["error"]["message"], ack
    assert (await services.sittings.take_of(account, take.id)).state == "failed"
    assert take.sitting_id not in services_booths(server) and await services.recordings.get(take.id) is None
    again = await services.sittings.start_take(account, take.sitting_id, DEVICE, "front", "portrait")
    assert again.state == "recording"
    english = await peers(url_of(server), "/candidate", other, services=services, lang="en")
    ack = await english.call("take:join", {"take_id": take.id, "sdp": offer})
    assert ack["error"]["message"] == "No such take"


async def test_an_aux_camera_is_recorded_with_the_take(server, services, live, peers, clients, http):
    from ..conftest import PASSWORD, login
    from .test_aux_devices import mint

    account, _, take = await a_take(services, live)
    await login(http, "13900000000", PASSWORD)
    (token,) = await mint(http, live, 1)
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    aux_socket = await peers(url_of(server), "/aux", None, {"token": token, "device": "auxphone0001"}, services)
    aux = Client(None, "aux", "aux", color="green", audio=False)
    clients.append(aux)
    refused = await aux_socket.call("rtc:join", {"sdp": await aux.make_offer()})
    assert refused["error"]["code"] == "aux_wait"  # no take is being filmed yet
    await cam.join()
    told = await aux_socket.wait_for("aux:state", lambda d: d["state"] == "take_recording", 5)
    assert told["take_id"] == take.id  # the aux page joins now, without waiting for its next retry
    ack = await aux_socket.call("rtc:join", {"sdp": await aux.make_offer()})
    assert ack["ok"], ack
    await aux.pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
    await candidate.wait_for("take:recording", lambda d: d["tracks"] == 3 and d["bytes"] > 10_000, 15)
    await asyncio.sleep(1)
    assert (await candidate.call("take:stop", {"take_id": take.id}))["ok"]
    await aux_socket.wait_for("take:ended", timeout=5)  # the aux page learns the take is over
    await candidate.wait_for("take:playable", timeout=15)
    kept = await services.sittings.take_of(account, take.id)
    assert set(kept.files) == {PLAYABLE, "aux-1.webm"}
    folder = folder_of(services, account, take)
    assert decoded_seconds(folder / "aux-1.webm") > 1.0
    assert kept.files["aux-1.webm"]["sha256"] == sha256_file(folder / "aux-1.webm")


@pytest.fixture
async def doomed(settings, tmp_path):
    """A second server process on the same Redis, to be killed; it writes into the same recordings
    folder (one disk shared by the processes)."""
    url, proc = await server_process(
        settings,
        tmp_path / "doomed",
        recordings_dir=str(settings.recordings_dir),
        recordings_shared="true",
        room_claim_ttl_s=str(CLAIM_TTL_S),
        take_reconnect_grace_s=str(GRACE_S),
        node_drain_s="0",  # SIGTERM stops at once here (a drain lets the take end first: tests/nodes)
    )
    yield url, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


async def restart_until_taken_over(cam, timeout: float = 6 * CLAIM_TTL_S) -> None:
    """What the page does after its connection failed: a new one (take:restart), again while the
    dead process's booth is not yet free (``room_on_other_server``)."""
    deadline = time.monotonic() + timeout
    while True:
        offer = await cam.make_offer()
        ack = await cam.room.peer.call("take:restart", {"take_id": cam.room.take_id, "sdp": offer})
        if ack["ok"]:
            await cam.pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
            return
        assert ack["error"]["code"] == "room_on_other_server", ack
        assert time.monotonic() < deadline, "the dead process's booth was never taken over"
        await cam.pc.close()
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("how", ["kill", "terminate"])
async def test_a_process_lost_mid_take_the_take_goes_on_elsewhere(how, doomed, server, services, live, peers, clients):
    """SIGKILL (a crash: the dead process's booth is taken over once its claim expires) or SIGTERM (a
    restart: the stopping process closes its files and leaves the take for another process)."""
    url, proc = doomed
    account, _, take = await a_take(services, live)
    candidate = await candidate_socket(peers, url, services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    await candidate.wait_for("take:recording", lambda d: d["bytes"] > 5_000, 10)
    await asyncio.sleep(2)
    if how == "kill":
        proc.kill()  # SIGKILL: no cleanup of any kind
    else:
        proc.terminate()
        await candidate.wait_for("server:restarting", timeout=10)
    killed = time.time()
    proc.wait(15)
    await cam.close()

    # the page reconnects to the surviving process and continues the same take
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await restart_until_taken_over(cam)
    resumed = time.time()
    await candidate.wait_for("take:recording", lambda d: d["state"] == "recording" and d["bytes"] > 5_000, 10)
    await asyncio.sleep(GRACE_S + 1)  # past the grace, counted from the crash: the take is not cut
    ack = await candidate.call("take:stop", {"take_id": take.id})
    stopped = time.time()
    assert ack["ok"] and ack["take"]["state"] == "complete", ack
    playable = await candidate.wait_for("take:playable", timeout=15)

    record = await services.recordings.get(take.id)
    tracks = [t for t in record["manifest"]["tracks"] if t["participant_id"] == account.id]
    first = [t for t in tracks if t["file"].endswith("-01.webm")]
    assert {t["status"] for t in first} == {"recovered" if how == "kill" else "stopped"}
    assert all(t["sha256"] for t in first)
    assert len(tracks) == 4 and record["folder"] == str(folder_of(services, account, take))
    # everything recorded on both processes plays in one file: the ~2 s before the kill may be lost
    recorded = (killed - take.started_at) + (stopped - resumed)
    length = decoded_seconds(folder_of(services, account, take) / PLAYABLE)
    assert recorded - 3.0 < length < recorded + 1.0, (length, recorded)
    assert abs(length - playable["duration_s"]) < 1.0


async def test_a_killed_process_mid_take_nobody_back_the_take_is_cut_and_playable(
    doomed, server, services, live, peers, clients
):
    url, proc = doomed
    account, _, take = await a_take(services, live)
    candidate = await candidate_socket(peers, url, services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    await candidate.wait_for("take:recording", lambda d: d["bytes"] > 5_000, 10)
    await asyncio.sleep(2)
    watcher = await candidate_socket(peers, url_of(server), services, account)  # another tab, on the survivor
    proc.kill()
    killed = time.time()
    proc.wait(10)
    await cam.close()
    ended = await watcher.wait_for("take:ended", timeout=CLAIM_TTL_S * 3 + GRACE_S + 10)
    # the killed node is known dead at once (docs/nodes.md); the take waits the grace for the candidate
    assert time.time() - killed >= GRACE_S - 0.5
    assert (ended["take_id"], ended["state"], ended["reason"]) == (take.id, "cut", "connection")
    playable = await watcher.wait_for("take:playable", timeout=15)
    recorded = killed - take.started_at
    assert recorded - 3.0 < playable["duration_s"] < recorded + 1.0
    length = decoded_seconds(folder_of(services, account, take) / PLAYABLE)
    assert abs(length - playable["duration_s"]) < 1.0
