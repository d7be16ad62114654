"""Recordings from any node (docs/nodes.md "Recordings"): two nodes, each with its own recordings folder.
An interview and a recorded take are filmed on node 1; on node 2 the admin plays and downloads the
interview's files, a grader plays the submitted take (by its anonymous code) and the candidate watches
it back, with Range requests, byte for byte what node 1 wrote. Node 2 reads them from node 1 through a
signed internal request: an unsigned or expired one is refused, and while node 1 is down node 2 says
so (503) instead of failing obscurely."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import aiohttp

from server.accounts.sessions import COOKIE
from server.nodes.files import path_of
from server.rooms.remux import PLAYABLE
from server.store.audit import Actor

from ..recorded.conftest import DEVICE, make_recorded, pass_face
from ..recorded.test_grading import close_window
from .conftest import interview, until


async def get(url: str, token: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession(cookies={COOKIE: token}) as http:
        async with http.get(url, headers=headers or {}) as resp:
            return resp.status, dict(resp.headers), await resp.read()


async def test_a_recording_written_on_one_node_is_played_from_the_other(cluster, services, live, pages):
    (n1, n2), _ = await cluster(2)
    # an interview, every socket on node 1: its room is placed there (the asking node, as loaded as any)
    examiner, account, _ = await interview(services, live, pages, n1.url)
    assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
    admission = (await services.queue.entry(live.room.id, account.id)).admission
    record = await until(lambda: _stopped(services, admission), 20)
    video = next(t for t in record["manifest"]["tracks"] if t["participant_id"] == account.id and t["kind"] == "video")
    assert video["node"] == "node-1"
    on_disk = n1.folder / "recordings" / live.exam.id / account.id / admission / video["file"]
    assert not (n2.folder / "recordings" / live.exam.id).exists()  # node 2 holds nothing of it
    written = on_disk.read_bytes()
    assert hashlib.sha256(written).hexdigest() == video["sha256"]

    # the admin, on node 2: a range, then the whole file (download)
    admin = await services.sessions.create(live.world.staff["admin"].id, "admin")
    url = f"{n2.url}/api/admin/recordings/{admission}/files/{video['file']}"
    first, last = len(written) // 4, len(written) // 2
    status, headers, body = await get(url, admin, {"Range": f"bytes={first}-{last}"})
    assert status == 206 and body == written[first : last + 1], status
    assert (
        headers["Content-Range"] == f"bytes {first}-{last}/{len(written)}" and headers["Content-Type"] == "video/webm"
    )
    status, headers, body = await get(url + "?download=1", admin)
    assert status == 200 and body == written and "attachment" in headers["Content-Disposition"]
    status, _, _ = await get(f"{n2.url}/api/admin/recordings/{admission}/files/nothing.webm", admin)
    assert status == 404  # only files the manifest lists

    # a recorded take, filmed on node 1 (node 2 drained meanwhile, as an admin would: the booth goes to
    # node 1 whatever the two nodes' load), submitted, graded on node 2
    await examiner.close()
    await services.cluster.registry.set_draining(Actor("acc_admin", "admin"), "node-2", True)
    await until(lambda: _draining(services, "node-2"), 10)
    subject = await make_recorded(services, live.world)
    taker = await live.world.candidate(1)
    sitting = await services.sittings.enter(taker, live.exam.id, subject.id, "formal", DEVICE)
    await pass_face(services, live.exam.id, taker)
    take = await services.sittings.start_take(taker, sitting.id, DEVICE, "front", "portrait")
    phone_token = await services.sessions.create(taker.id, "candidate")
    phone = pages(
        n1.url,
        "/candidate",
        phone_token,
        extra={"take_id": take.id},
        events=("take:join", "take:restart", "take:answer"),
    )
    await phone.connect()
    assert (await phone.join())["ok"]
    await phone.wait_for("take:recording", lambda d: d["bytes"] > 20_000, 20)
    assert (await phone.call("take:stop", {"take_id": take.id}))["ok"]
    playable = await phone.wait_for("take:playable", timeout=30)
    await services.sittings.submit(taker, sitting.id, take.id)
    await services.cluster.registry.set_draining(Actor("acc_admin", "admin"), "node-2", False)
    grader = live.examiner
    await services.grading.assign(Actor("acc_admin", "admin"), live.exam.id, subject.id, [grader.id])
    await close_window(services, live.world, subject)  # graders see a subject once its window has closed
    (submission,) = await services.grading.submissions(grader, subject.id)
    take_file = n1.folder / "recordings" / live.exam.id / taker.id / take.id / PLAYABLE
    made = take_file.read_bytes()
    assert hashlib.sha256(made).hexdigest() == playable["sha256"]

    grader_token = await services.sessions.create(grader.id, "examiner")
    status, headers, body = await get(
        f"{n2.url}/api/grader/submissions/{submission.code}/video", grader_token, {"Range": "bytes=0-4095"}
    )
    assert status == 206 and body == made[:4096], status
    status, _, body = await get(f"{n2.url}/api/candidate/takes/{take.id}/video", phone_token)
    assert status == 200 and body == made  # the candidate watches it back from node 2 too

    # the internal side refuses what a node did not sign
    internal = n1.url + path_of(admission, video["file"])
    async with aiohttp.ClientSession() as http:
        async with http.get(internal) as resp:
            assert resp.status == 403 and (await resp.json())["error"]["code"] == "node_forbidden"
        expires = str(int(time.time()) - 5)
        text = f"GET\n{path_of(admission, video['file'])}\n{expires}\nnode-2"
        signed = {
            "X-Node-Id": "node-2",
            "X-Node-Expires": expires,
            "X-Node-Signature": await services.cluster.signer.sign(text),
        }
        async with http.get(internal, headers=signed) as resp:
            assert resp.status == 403  # expired

    # node 1 down: node 2 says who holds the file and that it is offline, in the admin's language
    n1.kill()
    await until(lambda: _dead(services, "node-1"), 10)
    async with aiohttp.ClientSession(cookies={COOKIE: admin}) as http:
        async with http.get(url, headers={"Accept-Language": "zh-CN"}) as resp:
            body = await resp.json()
            assert resp.status == 503 and body["error"]["code"] == "recording_node_offline", body
            assert "node-1" in body["error"]["message"] and "离线" in body["error"]["message"]
    assert Path(on_disk).exists()


async def _stopped(services, interview_id: str):
    record = await services.recordings.get(interview_id)
    return record if record and record["state"] == "stopped" else None


async def _draining(services, node_id: str) -> bool:
    return any(n.draining for n in await services.cluster.registry.nodes() if n.alive and n.node_id == node_id)


async def _dead(services, node_id: str) -> bool:
    return not any(n.alive and n.node_id == node_id for n in await services.cluster.registry.nodes())
