"""The queue over socket.io, as candidates, examiners and proctors meet it: pushed, never polled."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from ..live import FIT_DEVICE
from ..queue.test_waiting import snapshot
from .conftest import url_of


async def candidate_peer(peers, server, services, live, index, join=True, passed=True):
    account = await live.booked(index)
    peer = await peers(url_of(server), "/candidate", account, services=services)
    await peer.wait_for("queue:snapshot")
    if join:
        ack = await peer.call("queue:join", {"exam_id": live.exam.id, "slot_id": live.slot.id, "device": FIT_DEVICE})
        assert ack["ok"], ack
        if passed:
            await live.pass_face(account)
    return account, peer


async def examiner_peer(peers, server, services, live):
    peer = await peers(url_of(server), "/examiner", live.examiner, {"room_id": live.room.id}, services)
    await peer.wait_for("queue:room")
    return peer


async def test_connections_need_a_session_the_role_and_the_room(server, services, live, peers):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peers(url_of(server), "/candidate", None, services=services)
    candidate = await live.booked(0)
    with pytest.raises(socketio.exceptions.ConnectionError):  # a candidate on the examiners' namespace
        await peers(url_of(server), "/examiner", candidate, {"room_id": live.room.id}, services)
    with pytest.raises(socketio.exceptions.ConnectionError):  # an examiner of another room
        await peers(
            url_of(server),
            "/examiner",
            live.examiner,
            {"room_id": live.world.rooms[1].id.replace(live.world.rooms[1].id[-4:], "0000")},
            services,
        )
    await services.store.redis.srem(services.store.keys.room_examiners(live.room.id), live.examiner.id)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peers(url_of(server), "/examiner", live.examiner, {"room_id": live.room.id}, services)


async def test_refusal_reason_reaches_the_client(server, services, live):
    client = socketio.AsyncClient(reconnection=False)
    reasons = []
    client.on("connect_error", lambda data: reasons.append(data), namespace="/proctor")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url_of(server),
            namespaces=["/proctor"],
            transports=["websocket"],
            headers={"Cookie": "lang=en"},
            wait_timeout=5,
        )
    await asyncio.sleep(0.1)
    assert reasons and reasons[0]["data"]["code"] == "login_required" and "log in" in reasons[0]["message"]


def position(line: dict, n: int) -> int | None:
    """The candidate's position in a ``queue:line`` push, from their arrival number."""
    order = [item["n"] for item in line["line"]]
    return order.index(n) + 1 if n in order else None


async def test_positions_are_pushed_when_the_line_moves(server, services, live, peers):
    _, first = await candidate_peer(peers, server, services, live, 0)
    _, second = await candidate_peer(peers, server, services, live, 1)
    _, third = await candidate_peer(peers, server, services, live, 2)
    me = await third.wait_for("queue:state", lambda d: d["state"] == "waiting")
    assert (me["position"], me["ahead"], me["eta_s"]) == (3, 2, 1200)
    numbers = [(await p.call("queue:state"))["entries"][0]["n"] for p in (first, second, third)]
    line = await third.wait_for("queue:line", lambda d: position(d, numbers[2]) == 3)
    assert line["line"][2]["eta_s"] == 1200 and "account_id" not in str(line) and "考生" not in str(line)
    examiner = await examiner_peer(peers, server, services, live)
    ack = await examiner.call("queue:call_next")
    assert ack["ok"] and ack["account_id"]
    called = await first.wait_for("queue:called")
    assert called["room_id"] == live.room.id
    await second.wait_for("queue:line", lambda d: position(d, numbers[1]) == 1)
    await third.wait_for("queue:line", lambda d: position(d, numbers[2]) == 2 and position(d, numbers[0]) is None)
    room = await examiner.wait_for("queue:room", lambda d: d["current"] is not None)
    assert room["current"]["state"] == "called" and [e["position"] for e in room["line"]] == [1, 2]
    assert room["line"][0]["face_status"] == "passed" and room["line"][0]["connected"] is True


async def test_the_next_candidate_hears_you_are_next_once_per_admission(server, services, live, peers):
    _, first = await candidate_peer(peers, server, services, live, 0)
    _, second = await candidate_peer(peers, server, services, live, 1)
    examiner = await examiner_peer(peers, server, services, live)
    await examiner.call("queue:call_next")
    await first.wait_for("queue:called")
    assert (await first.call("room:enter", {"room_id": live.room.id}))["ok"]
    await second.wait_for("queue:next")
    assert (await first.call("room:enter", {"room_id": live.room.id}))["ok"]
    await asyncio.sleep(0.3)
    assert len(second.seen("queue:next")) == 1 and first.seen("queue:next") == []


async def test_ending_and_removing_tell_the_candidate(server, services, live, peers):
    _, first = await candidate_peer(peers, server, services, live, 0)
    account, second = await candidate_peer(peers, server, services, live, 1)
    examiner = await examiner_peer(peers, server, services, live)
    await examiner.call("queue:call_next")
    first_id = await first.wait_for("queue:state", lambda d: d["state"] == "called")
    await first.call("room:enter", {"room_id": live.room.id})
    me = [e for e in (await first.call("queue:state"))["entries"]][0]
    assert me["state"] == "in_room"
    room = await examiner.call("queue:room")
    ack = await examiner.call("queue:end", {"account_id": room["room"]["current"]["account_id"]})
    assert ack["ok"] and ack["state"] == "done"
    await first.wait_for("queue:state", lambda d: d["state"] == "done")
    ack = await examiner.call("queue:remove", {"account_id": account.id, "reason": "背景中有他人"})
    assert ack["ok"]
    removed = await second.wait_for("queue:state", lambda d: d["state"] == "removed")
    assert removed["reason_message"]["zh"] == "背景中有他人"
    assert first_id


async def test_reconnecting_within_the_grace_period_restores_the_place(server, services, live, peers):
    first_account, first = await candidate_peer(peers, server, services, live, 0)
    _, second = await candidate_peer(peers, server, services, live, 1)
    examiner = await examiner_peer(peers, server, services, live)
    await first.close()
    room = await examiner.wait_for("queue:room", lambda d: d["line"] and not d["line"][0]["connected"])
    assert room["line"][0]["account_id"] == first_account.id and room["line"][0]["state"] == "waiting"
    again = await peers(url_of(server), "/candidate", first_account, services=services)
    snap = await again.wait_for("queue:snapshot")
    assert snap["entries"][0]["state"] == "waiting"
    room = await examiner.wait_for("queue:room", lambda d: d["line"] and d["line"][0]["connected"])
    assert [e["account_id"] for e in room["line"]][0] == first_account.id
    await examiner.call("queue:call_next")
    await again.wait_for("queue:called")


@pytest.mark.parametrize(
    "event, payload, code, field",
    [
        ("queue:join", {"slot_id": "slot_000000000000", "device": FIT_DEVICE}, "field_required", "exam_id"),
        ("queue:join", {"exam_id": 5, "slot_id": "x", "device": FIT_DEVICE}, "field_type", "exam_id"),
        ("queue:join", {"exam_id": "e", "slot_id": "s", "device": FIT_DEVICE, "extra": 1}, "field_unknown", "extra"),
        ("queue:join", {"exam_id": "e", "slot_id": "s", "device": []}, "field_type", "device"),
        (
            "queue:join",
            {"exam_id": "e", "slot_id": "s", "device": {"battery_level": 7}},
            "field_invalid",
            "device.battery_level",
        ),
        ("queue:join", {"exam_id": "e", "slot_id": "s", "device": {"gps": "x"}}, "field_unknown", "device.gps"),
        ("queue:join", ["not", "an", "object"], "bad_json", None),
        ("room:enter", {"room_id": "room_000000000000"}, "room_not_admitted", "room_id"),
        ("room:enter", {"room_id": "../../etc"}, "room_not_admitted", "room_id"),
        ("queue:call_next", {}, "event_unknown", None),  # an examiner's event from a candidate
        ("nonsense", {}, "event_unknown", None),
    ],
)
async def test_bad_candidate_events_get_a_clear_error_and_change_nothing(
    server, services, live, peers, redis, prefix, event, payload, code, field
):
    account = await live.booked(0)
    peer = await peers(url_of(server), "/candidate", account, services=services, lang="en")
    await peer.wait_for("queue:snapshot")
    before = await snapshot(redis, prefix)
    ack = await peer.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert ack["error"].get("field") == field
    assert ack["error"]["message"] and ack["error"]["message"] != code
    pushed = await peer.wait_for("event_error")
    assert pushed["code"] == code and pushed["event"] == event
    assert await snapshot(redis, prefix) == before


async def test_out_of_order_examiner_events_are_refused(server, services, live, peers, redis, prefix):
    examiner = await examiner_peer(peers, server, services, live)
    before = await snapshot(redis, prefix)
    ack = await examiner.call("queue:call_next")
    assert ack["error"]["code"] == "queue_empty" and "Nobody" not in ack["error"]["message"]
    other, _ = await candidate_peer(peers, server, services, live, 1)  # waiting, not in the room
    before = await snapshot(redis, prefix)
    ack = await examiner.call("queue:end", {"account_id": other.id})
    assert ack["error"]["code"] == "wrong_state" and "候考中" in ack["error"]["message"]
    ack = await examiner.call("queue:remove", {"account_id": "acc_000000000000", "reason": "x"})
    assert ack["error"]["code"] == "not_in_queue"
    ack = await examiner.call("queue:remove", {"account_id": other.id})
    assert ack["error"]["code"] == "field_required" and ack["error"]["field"] == "reason"
    assert await snapshot(redis, prefix) == before


async def test_a_flood_is_cut_by_the_rate_limit(server, services, live, peers):
    account = await live.booked(0)
    peer = await peers(url_of(server), "/candidate", account, services=services)
    acks = await asyncio.gather(*(peer.call("queue:state") for _ in range(60)))
    refused = [a for a in acks if not a["ok"]]
    assert len(refused) >= 20 and {a["error"]["code"] for a in refused} == {"rate_limited"}
    await asyncio.sleep(0.5)
    assert (await peer.call("queue:state"))["ok"]  # the bucket refills


async def test_the_proctor_sees_every_room_live_and_a_candidates_history(server, services, live, peers):
    proctor = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    snap = await proctor.wait_for("proctor:snapshot")
    assert {r["room_id"] for r in snap["rooms"]} == {r.id for r in live.world.rooms}
    assert all(r["waiting"] == 0 and r["idle"] for r in snap["rooms"])
    account, _ = await candidate_peer(peers, server, services, live, 0, passed=False)
    room = await proctor.wait_for("proctor:room", lambda d: d["waiting"] == 1)
    assert room["line"][0]["state"] == "waiting_face_check"
    for _ in range(3):
        await live.pass_face(account, passed=False)
    reviews = await proctor.wait_for("proctor:reviews", lambda d: d["reviews"])
    assert reviews["reviews"][0]["account_id"] == account.id
    history = await proctor.call("proctor:history", {"account_id": account.id})
    events = [e["event"] for e in history["entries"]]
    assert "queue_joined" in events and "face_review_opened" in events and "queue_face_locked" in events


async def test_a_proctor_of_an_unknown_exam_is_refused(server, services, live, peers):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peers(url_of(server), "/proctor", live.proctor, {"exam_id": "exam_000000000000"}, services)
