"""A socket lives only as long as its login session, on every server process: logging out, an admin
disabling the account or revoking its sessions, and ``Sessions.end_account`` (an identity moved by an
appeal) cut the open sockets within a second, and a socket whose session is over (expired, or a
notice missed) can do nothing: its events are refused and change nothing."""

from __future__ import annotations

import asyncio
import time

import pytest
import socketio

from server.signaling import hub

from ..conftest import PASSWORD, login
from .conftest import url_of
from .test_sockets import candidate_peer

CUT_WITHIN_S = 1.0  # docs/security.md: the sockets of an ended session are cut within a second


async def cut_within(peer, started: float, limit_s: float = CUT_WITHIN_S) -> float:
    """Seconds from ``started`` until the server disconnected ``peer`` (at most ``limit_s``)."""
    try:
        await asyncio.wait_for(peer.gone.wait(), limit_s - (time.monotonic() - started))
    except TimeoutError:
        raise AssertionError(f"{peer.namespace} socket still connected {limit_s} s after its session ended") from None
    return peer.gone_at - started


async def examiner_socket(peers, url, services, live, token):
    peer = await peers(url, "/examiner", auth={"room_id": live.room.id}, services=services, token=token)
    await peer.wait_for("queue:room")
    return peer


async def test_logout_cuts_the_sockets_of_that_session_on_every_process(
    second_process, server, services, live, peers, http
):
    token = await services.sessions.create(live.examiner.id, "examiner")
    other_browser = await services.sessions.create(live.examiner.id, "examiner")
    there = await examiner_socket(peers, second_process, services, live, token)
    here = await examiner_socket(peers, url_of(server), services, live, token)
    kept = await examiner_socket(peers, second_process, services, live, other_browser)

    started = time.monotonic()
    resp = await http.post("/api/auth/logout", headers={"Cookie": f"iv_session={token}"})
    assert resp.status == 200
    assert await cut_within(there, started) < CUT_WITHIN_S
    assert await cut_within(here, started) < CUT_WITHIN_S
    told = there.seen("session:ended")
    assert told and told[0]["reason"] == "logout" and told[0]["message"] == "您已退出登录，本页面的连接已断开"

    await asyncio.sleep(0.3)
    assert not kept.gone.is_set()  # the examiner's other login goes on
    assert (await kept.call("queue:room"))["ok"]
    with pytest.raises(socketio.exceptions.ConnectionError):  # the logged-out cookie opens nothing
        await peers(second_process, "/examiner", auth={"room_id": live.room.id}, services=services, token=token)


async def test_disabling_an_examiner_cuts_their_sockets_and_a_stale_one_calls_nobody(
    second_process, server, services, live, peers, http
):
    account, candidate = await candidate_peer(peers, server, services, live, 0)
    await candidate.wait_for("queue:state", lambda d: d["state"] == "waiting")
    there = await examiner_socket(peers, second_process, services, live, await new_token(services, live))
    here = await examiner_socket(peers, url_of(server), services, live, await new_token(services, live))
    await login(http, "admin-one", PASSWORD)

    started = time.monotonic()
    resp = await http.patch(f"/api/admin/users/{live.examiner.id}", json={"disabled": True})
    assert resp.status == 200 and (await resp.json())["user"]["disabled"] is True
    click = asyncio.create_task(here.call("queue:call_next"))  # the page clicks "call next" right after
    assert await cut_within(there, started) < CUT_WITHIN_S
    assert await cut_within(here, started) < CUT_WITHIN_S
    try:  # refused, or the socket was gone before the answer
        ack = await click
        assert ack["ok"] is False and ack["error"]["code"] == "session_ended", ack
    except (socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError):
        pass
    told = there.seen("session:ended")
    assert told and told[0]["reason"] == "account_disabled"
    assert told[0]["message"] == "账号已被停用，连接已断开。如有疑问请联系学校"

    await asyncio.sleep(0.3)
    assert candidate.seen("queue:called") == []
    assert (await candidate.call("queue:state"))["entries"][0]["state"] == "waiting"
    with pytest.raises(socketio.exceptions.ConnectionError):  # a disabled account opens no socket
        await peers(second_process, "/examiner", live.examiner, {"room_id": live.room.id}, services)


async def new_token(services, live) -> str:
    return await services.sessions.create(live.examiner.id, "examiner")


async def test_a_socket_whose_session_is_over_cannot_act(app, server, services, live, peers, redis):
    """No notice at all (the session's TTL ran out, or a notice was missed while Redis was away): the
    next event is refused and changes nothing, and the socket is cut; the periodic sweep cuts the
    silent ones."""
    account, candidate = await candidate_peer(peers, server, services, live, 0)
    await candidate.wait_for("queue:state", lambda d: d["state"] == "waiting")
    token = await new_token(services, live)
    examiner = await examiner_socket(peers, url_of(server), services, live, token)
    silent = await examiner_socket(peers, url_of(server), services, live, await new_token(services, live))
    for key_hash in await redis.smembers(services.store.keys.account_sessions(live.examiner.id)):
        await redis.delete(services.store.keys.session(key_hash))  # what the session's TTL does

    started = time.monotonic()
    ack = await examiner.call("queue:call_next")
    assert ack == {
        "ok": False,
        "error": {"code": "session_ended", "message": "登录已失效，请重新登录"},
    }
    assert await cut_within(examiner, started) < CUT_WITHIN_S
    assert examiner.seen("event_error")[0]["code"] == "session_ended"
    assert candidate.seen("queue:called") == []
    assert (await candidate.call("queue:state"))["entries"][0]["state"] == "waiting"

    assert not silent.gone.is_set()
    await hub.sweep_sessions(app[hub.SIO])  # what every process runs every SESSION_SWEEP_S
    await cut_within(silent, time.monotonic())

    # an account whose role was changed behind the socket's back: the candidate's socket stops too
    await redis.hset(services.store.keys.account(account.id), "role", "proctor")
    ack = await candidate.call("queue:state")
    assert ack["ok"] is False and ack["error"]["code"] == "session_ended"
    await cut_within(candidate, time.monotonic())


async def test_revoking_sessions_and_moving_an_identity_cut_the_candidate(
    second_process, server, services, live, peers, http
):
    account, candidate = await candidate_peer(peers, second_process, services, live, 0)
    await login(http, "admin-one", PASSWORD)
    started = time.monotonic()
    resp = await http.post(f"/api/admin/users/{account.id}/revoke-sessions")
    assert resp.status == 200 and (await resp.json())["revoked"] == 1
    assert await cut_within(candidate, started) < CUT_WITHIN_S
    assert candidate.seen("session:ended")[0]["message"] == "登录已被学校注销，请重新登录"

    # the entry point an identity appeal calls when it moves an ID number to another account
    again = await peers(second_process, "/candidate", account, services=services)
    await again.wait_for("queue:snapshot")
    started = time.monotonic()
    assert await services.sessions.end_account(account.id, "identity_moved") == 1
    assert await cut_within(again, started) < CUT_WITHIN_S
    assert again.seen("session:ended")[0]["message"] == "账号的身份信息已变更，请重新登录"
