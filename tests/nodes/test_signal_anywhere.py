"""Signal anywhere, media on the room's node (docs/nodes.md): a candidate whose socket is on node 1 and
an examiner whose socket is on node 2 meet in a room whose media is on node 3 (the only node taking
rooms: the other two are drained by the admin). Each browser's peer connection goes straight to node 3
(its answer carries node 3's own ICE candidates), renegotiation and the end of the interview reach it
through the relay, and nothing but a node can make a node act."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from bench.cluster import candidate_ports, udp_ports
from server.accounts.sessions import COOKIE

from .conftest import interview, log_lines, until


async def admin_call(node, services, admin, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    token = await services.sessions.create(admin.id, "admin")
    async with aiohttp.ClientSession(cookies={COOKIE: token}) as http:
        async with http.request(method, node.url + path, json=body) as resp:
            return resp.status, await resp.json()


async def test_sockets_on_two_nodes_meet_in_a_room_on_a_third(cluster, services, live, pages):
    (n1, n2, n3), _ = await cluster(3)
    admin = live.world.staff["admin"]
    for node in (n1, n2):  # the admin drains two nodes (audited): every new room goes to node 3
        status, body = await admin_call(
            n3, services, admin, "POST", f"/api/admin/nodes/{node.node_id}/drain", {"draining": True}
        )
        assert status == 200 and body == {"node_id": node.node_id, "draining": True}, body
    status, body = await admin_call(n1, services, admin, "POST", "/api/admin/nodes/node-9/drain", {"draining": True})
    assert status == 404 and body["error"]["code"] == "node_not_found"  # not a registered node: nothing written
    drains = [e for e in await services.audit.read(None) if e["event"] == "node_drain"]
    assert sorted(e["subject"] for e in drains) == ["node-1", "node-2"] and {e["actor"] for e in drains} == {admin.id}

    async def drained() -> bool:
        status, body = await admin_call(n3, services, admin, "GET", "/api/admin/nodes")
        return status == 200 and {n["node_id"]: n["draining"] for n in body["nodes"] if n["alive"]} == {
            "node-1": True,
            "node-2": True,
            "node-3": False,
        }

    await until(drained, 10)

    examiner, account, candidate = await interview(services, live, pages, n2.url, n1.url)

    # both answers carry node 3's candidates only: the peer connections go straight to node 3
    on = {node.node_id: udp_ports(node.pid) for node in (n1, n2, n3)}
    for page in (candidate, examiner):
        ports = candidate_ports(page.answer_sdp)
        assert ports and ports <= on["node-3"], (ports, on)
        assert not ports & (on["node-1"] | on["node-2"])
    # media both ways (the examiner's renegotiation after the candidate joined went through the relay)
    await until(lambda: examiner.received(account.id) > 30 and candidate.received(live.examiner.id) > 30, 20)
    entry = await services.queue.entry(live.room.id, account.id)
    assert entry.state == "in_room"
    record = await until(lambda: services.recordings.get(entry.admission), 10)
    assert record["node"] == "node-3" and record["state"] == "recording"

    # the examiner's page reloaded on node 1: the room's media as node 3 has it (relayed snapshot)
    again = pages(n1.url, "/examiner", examiner.token, auth={"room_id": live.room.id})
    await again.connect()
    people = await again.wait_for("room:participants")
    assert {p["kind"] for p in people["participants"]} == {"candidate", "examiner"}
    assert (await again.wait_for("room:recording"))["state"] == "recording"

    # a relay message not signed with the nodes' secret changes nothing (here: "leave" for the candidate)
    redis, keys = services.store.redis, services.store.keys
    target = next(n.process for n in await services.cluster.registry.nodes() if n.node_id == "node-3" and n.alive)

    def message(op: str, body: dict, msg_id: str) -> str:
        return json.dumps(
            {"kind": "req", "id": msg_id, "op": op, "from": "test", "to": target, "at": time.time(), "body": body}
        )

    forged = message("leave", {"room_id": live.room.id, "participant_id": account.id}, "forged-1")
    await redis.publish(keys.relay(target), json.dumps({"p": forged, "s": "0" * 64}))
    # a signed one runs once; the same message again (a replay) is refused
    ping = message("ping", {}, "ping-1")
    signed = json.dumps({"p": ping, "s": await services.cluster.signer.sign(ping)})
    await redis.publish(keys.relay(target), signed)
    await redis.publish(keys.relay(target), signed)
    await until(
        lambda: {e.get("reason") for e in log_lines(n3, "relay message refused")} >= {"bad signature", "replayed"}, 10
    )
    before = examiner.received(account.id)
    await asyncio.sleep(1.5)
    assert examiner.received(account.id) > before + 15  # the candidate is still in the room

    # the candidate's page (node 1) reports it was hidden: the watch on node 3 raises the flag, on the
    # recording's timeline there (at_s), and the examiner (node 2) sees it
    assert (await candidate.call("room:device", {"room_id": live.room.id, "event": "hidden"}))["ok"]
    flag = await examiner.wait_for("room:flag", timeout=10)
    assert flag["kind"] == "page_hidden" and flag["state"] == "raised" and flag["at_s"] > 0, flag

    # the examiner (on node 2) ends the interview: node 3 closes the candidate's media and tells their page
    assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
    ended = await candidate.wait_for("room:ended", timeout=10)
    assert ended["state"] == "done"
    record = await until(lambda: _stopped(services, entry.admission), 15)
    assert {t["node"] for t in record["manifest"]["tracks"]} == {"node-3"}


async def _stopped(services, interview_id):
    record = await services.recordings.get(interview_id)
    return record if record and record["state"] == "stopped" else None
