"""Two ``interview-server`` processes sharing one Redis: a candidate on one is admitted by an examiner
on the other, and a proctor on either sees both."""

from __future__ import annotations

import pytest

from .conftest import server_process, url_of
from .test_sockets import candidate_peer, examiner_peer


@pytest.fixture
async def other_process(settings, tmp_path):
    """A second server process, started with the CLI on its own port, same Redis and key prefix."""
    url, proc = await server_process(settings, tmp_path / "other")
    yield url
    proc.terminate()
    assert proc.wait(15) == 0, proc.stderr.read().decode()[-2000:]


async def test_a_candidate_on_one_process_is_admitted_from_the_other(other_process, server, services, live, peers):
    proctor_here = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    proctor_there = await peers(other_process, "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    await proctor_here.wait_for("proctor:snapshot")
    await proctor_there.wait_for("proctor:snapshot")

    account, candidate = await candidate_peer(peers, server, services, live, 0)  # on this process
    examiner = await peers(other_process, "/examiner", live.examiner, {"room_id": live.room.id}, services)
    room = await examiner.wait_for("queue:room", lambda d: d["line"] and d["line"][0]["face_status"] == "passed")
    assert room["line"][0]["account_id"] == account.id and room["line"][0]["connected"]

    ack = await examiner.call("queue:call_next")
    assert ack["ok"] and ack["account_id"] == account.id
    called = await candidate.wait_for("queue:called")
    assert called["room_id"] == live.room.id
    for proctor in (proctor_here, proctor_there):
        seen = await proctor.wait_for("proctor:room", lambda d: d["current"] and d["current"]["state"] == "called")
        assert seen["current"]["account_id"] == account.id

    # and back: a candidate on the other process, called by an examiner here
    second_account, second = await candidate_peer(peers, other_process, services, live, 1)
    await second.wait_for("queue:state", lambda d: d["state"] == "waiting")
    await candidate.call("room:enter", {"room_id": live.room.id})
    await second.wait_for("queue:next")
    examiner_here = await examiner_peer(peers, server, services, live)
    await examiner_here.call("queue:end", {"account_id": account.id})
    assert (await examiner_here.call("queue:call_next"))["account_id"] == second_account.id
    await second.wait_for("queue:called")
