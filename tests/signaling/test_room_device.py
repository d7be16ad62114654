"""What the candidate's page reports about itself while in the interview (``room:device``): each
report raises or clears a page flag for the room's examiners and the exam's proctors, the
candidate is told only what helps them; floods are refused and counted, another room's candidate
reaches nothing here, and no page event touches a face flag."""

from __future__ import annotations

import asyncio

from server.signaling import hub

from .conftest import url_of
from .test_rooms import in_room
from .test_sockets import candidate_peer, examiner_peer


def flags(peer) -> list[tuple[str, str]]:
    return [(d["kind"], d["state"]) for d in peer.seen("room:flag")]


async def test_page_reports_raise_and_clear_their_flags(server, services, live, peers, clients):
    proctor = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    room = live.room.id
    steps = [
        ({"event": "hidden"}, ("page_hidden", "raised"), "录制中断，请尽快恢复"),
        ({"event": "hidden"}, None, None),  # once
        ({"event": "visible"}, ("page_hidden", "cleared"), None),
        ({"event": "camera_ended"}, ("camera_off", "raised"), "录制中断，请尽快恢复"),
        ({"event": "camera_live"}, ("camera_off", "cleared"), None),
        ({"event": "microphone_muted"}, ("microphone_off", "raised"), "录制中断，请尽快恢复"),
        ({"event": "microphone_live"}, ("microphone_off", "cleared"), None),
        ({"event": "battery", "level": 50, "charging": False}, None, None),
        ({"event": "battery", "level": 12, "charging": True}, None, None),  # low but charging
        ({"event": "battery", "level": 12, "charging": False}, ("battery_low", "raised"), "电量不足，请立即充电"),
        ({"event": "battery", "level": 11, "charging": False}, None, None),
        ({"event": "battery", "level": 12, "charging": True}, ("battery_low", "cleared"), None),
    ]
    expected = []
    for i, (body, change, prompt) in enumerate(steps):
        if i == 10:  # past the burst of 10: one more report every 2 s
            await asyncio.sleep(4.2)
        candidate.events.clear()
        answer = await candidate.call("room:device", {"room_id": room, **body})
        assert answer["ok"], (body, answer)
        if change:
            expected.append(change)
            got = await examiner.wait_for("room:flag", lambda d, n=len(expected): len(flags(examiner)) >= n)
            assert flags(examiner) == expected, body
            assert got["account_id"] == account.id and got["label"]["zh"]
        if prompt:
            told = await candidate.wait_for("room:prompt")
            assert told["message"]["zh"] == prompt and told["speak"] is True
            assert change[0] not in str(told)  # what helps them, not what the examiners see
    await asyncio.sleep(0.5)
    assert flags(examiner) == expected
    await proctor.wait_for("proctor:flag", lambda d: len(proctor.seen("proctor:flag")) >= len(expected))
    assert [(d["kind"], d["state"]) for d in proctor.seen("proctor:flag")] == expected
    assert all(d["exam_id"] == live.exam.id and d["snapshot_url"] is None for d in proctor.seen("proctor:flag"))
    entries = await services.audit.read(live.exam.id, count=500, subject=account.id)
    assert len([e for e in entries if e["event"].startswith("monitor_flag_")]) == len(expected)
    entry = await services.queue.entry(room, account.id)
    timeline = services.recordings.flags(await services.recordings.get(entry.admission))
    assert [(f["kind"], f["state"]) for f in timeline] == expected


async def test_a_flood_of_page_reports_is_refused_and_counted(app, server, services, live, peers, clients):
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    namespace = app[hub.SIO].namespace_handlers["/candidate"]
    before = namespace.device_refused
    answers = await asyncio.gather(
        *(
            candidate.call("room:device", {"room_id": live.room.id, "event": "hidden" if i % 2 else "visible"})
            for i in range(25)
        )
    )
    accepted = [a for a in answers if a["ok"]]
    refused = [a for a in answers if not a["ok"]]
    assert len(accepted) == 10, answers
    assert {a["error"]["code"] for a in refused} == {"room_events_rate_limited"}
    assert namespace.device_refused - before == 15
    await asyncio.sleep(1)
    assert len(flags(examiner)) <= 10  # only what was accepted reached the room
    # the connection and the interview are unharmed: the candidate's other events still work
    assert (await candidate.call("queue:state"))["ok"]
    assert not candidate.gone.is_set()
    assert (await services.queue.entry(live.room.id, account.id)).state == "in_room"


async def test_another_candidate_raises_nothing_in_this_room(server, services, live, peers, clients):
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    other, other_peer = await candidate_peer(peers, server, services, live, 1)  # waiting in the line
    for room_id in (live.room.id, "room_0123456789ab", "../../x"):
        answer = await other_peer.call("room:device", {"room_id": room_id, "event": "hidden"})
        assert not answer["ok"] and answer["error"]["code"] == "room_not_admitted", answer
    # a candidate's own page may not speak for another account or invent events
    answer = await candidate.call("room:device", {"room_id": live.room.id, "event": "face_mismatch"})
    assert answer["error"]["code"] == "room_event_unknown"
    answer = await candidate.call("room:device", {"room_id": live.room.id, "event": "hidden", "account_id": other.id})
    assert answer["error"]["code"] == "field_unknown"
    answer = await candidate.call("room:device", {"room_id": live.room.id, "event": "battery", "level": 500})
    assert answer["error"]["code"] == "field_range"
    await asyncio.sleep(0.5)
    assert flags(examiner) == []


async def test_an_examiner_page_opened_later_gets_the_flags_raised_now(server, services, live, peers, clients):
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    assert (await candidate.call("room:device", {"room_id": live.room.id, "event": "hidden"}))["ok"]
    raised = await examiner.wait_for("room:flag")
    later = await examiner_peer(peers, server, services, live)
    again = await later.wait_for("room:flag")
    assert again["flag_id"] == raised["flag_id"] and again["kind"] == "page_hidden" and again["state"] == "raised"
    assert (await candidate.call("room:device", {"room_id": live.room.id, "event": "visible"}))["ok"]
    await later.wait_for("room:flag", lambda d: d["state"] == "cleared")
    third = await examiner_peer(peers, server, services, live)
    await third.wait_for("queue:room")
    await asyncio.sleep(0.5)
    assert not third.seen("room:flag")  # nothing raised any more
