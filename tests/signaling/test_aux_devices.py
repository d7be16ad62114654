"""The auxiliary camera (双机位) as an attacker meets it: however many QR codes the candidate's page
fetches, one candidate gets at most ``aux_max_devices`` devices per exam and admission, also when
they all connect at once on two server processes; a code is bound to the login session that
fetched it and to the interview, so it admits nothing after logout or after the interview's end."""

from __future__ import annotations

import asyncio
import time

import pytest
import socketio

from ..conftest import PASSWORD, login, new_client
from .conftest import url_of
from .test_session_end import CUT_WITHIN_S, cut_within
from .test_sockets import candidate_peer, examiner_peer

LIMIT_MESSAGE = "该考生的辅机位设备已达上限（最多 3 台），请继续使用已连接过的设备"


async def mint(http, live, count: int) -> list[str]:
    """What the candidate's page gets from ``count`` fetches of its QR code: the tokens of the links."""
    tokens = []
    for _ in range(count):
        resp = await http.get(f"/api/candidate/exams/{live.exam.id}/aux-qr")
        assert resp.status == 200, await resp.text()
        tokens.append(resp.headers["X-Aux-Url"].rsplit("/", 1)[1])
    return tokens


async def aux_connect(peers, url: str, token: str, device: str, services):
    """An aux phone opening its link: (the socket, None) or (None, the connect_error data)."""
    try:
        return await peers(url, "/aux", None, {"token": token, "device": device}, services=services), None
    except socketio.exceptions.ConnectionError:
        pass
    client = socketio.AsyncClient(reconnection=False)  # again, to read the refusal as the page does
    refusals: list = []
    client.on("connect_error", lambda data: refusals.append(data), namespace="/aux")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url,
            namespaces=["/aux"],
            auth={"token": token, "device": device},
            transports=["websocket"],
            headers={"Cookie": "lang=zh"},
            wait_timeout=5,
        )
    for _ in range(50):
        if refusals:
            break
        await asyncio.sleep(0.02)
    return None, refusals[0]


async def logged_in_candidate(live, http, index: int = 0):
    account = await live.booked(index)
    await login(http, f"139{index:08d}", PASSWORD)
    return account


async def test_thirty_qr_codes_admit_only_the_device_limit(server, services, live, peers, http, settings):
    assert settings.aux_max_devices == 3  # the product's setting
    await logged_in_candidate(live, http)
    tokens = await mint(http, live, 30)
    assert len(set(tokens)) == 30
    admitted, refused = [], []
    for i, token in enumerate(tokens):
        peer, refusal = await aux_connect(peers, url_of(server), token, f"phone{i:04d}abcdef", services)
        (admitted if peer else refused).append(peer or refusal)
    assert len(admitted) == 3 and len(refused) == 27
    assert {(r["data"]["code"], r["message"]) for r in refused} == {("aux_device_limit", LIMIT_MESSAGE)}
    # an admitted phone that reconnects, with any of the codes, comes back
    peer, refusal = await aux_connect(peers, url_of(server), tokens[-1], "phone0001abcdef", services)
    assert peer is not None, refusal
    assert (await peer.wait_for("aux:state"))["state"] == "none"


async def test_concurrent_admits_on_two_processes_respect_the_limit(
    second_process, server, services, live, peers, http
):
    await logged_in_candidate(live, http)
    tokens = await mint(http, live, 20)
    results = await asyncio.gather(
        *(
            aux_connect(peers, (second_process, url_of(server))[i % 2], token, f"burst{i:04d}abcdef", services)
            for i, token in enumerate(tokens)
        )
    )
    admitted = [peer for peer, _ in results if peer is not None]
    assert len(admitted) == 3
    assert {r["data"]["code"] for _, r in results if r is not None} == {"aux_device_limit"}


async def test_a_code_fetched_before_logout_admits_nothing_after(second_process, server, services, live, peers, http):
    await logged_in_candidate(live, http)
    used, unused = await mint(http, live, 2)
    phone, _ = await aux_connect(peers, second_process, used, "sidecam0001abcd", services)
    assert phone is not None
    await phone.wait_for("aux:state")

    started = time.monotonic()
    assert (await http.post("/api/auth/logout")).status == 200
    assert await cut_within(phone, started) < CUT_WITHIN_S  # the connected phone is cut too
    assert phone.seen("session:ended")[0]["code"] == "aux_ended"

    peer, refusal = await aux_connect(peers, url_of(server), unused, "sidecam0002abcd", services)
    assert peer is None and refusal["data"]["code"] == "aux_token_logged_out"
    assert refusal["message"] == "考生已退出登录，此二维码已失效。请考生重新登录后刷新二维码，再重新扫码"
    peer, refusal = await aux_connect(peers, second_process, used, "sidecam0001abcd", services)
    assert peer is None and refusal["data"]["code"] == "aux_token_logged_out"  # nor the phone it admitted
    page = await http.get(f"/aux/{unused}")
    assert page.status == 403 and "考生已退出登录" in await page.text()

    # logged in again: a fresh code works, the codes of the old login stay void
    await login(http, "13900000000", PASSWORD)
    (fresh,) = await mint(http, live, 1)
    peer, refusal = await aux_connect(peers, url_of(server), fresh, "sidecam0001abcd", services)
    assert peer is not None, refusal
    peer, refusal = await aux_connect(peers, url_of(server), unused, "sidecam0003abcd", services)
    assert peer is None and refusal["data"]["code"] == "aux_token_replaced"
    assert "请在考生手机上刷新二维码后重新扫码" in refusal["message"]


async def test_the_end_of_the_interview_voids_the_codes_and_their_phones(server, services, live, peers, http):
    account, candidate = await candidate_peer(peers, server, services, live, 0)
    await login(http, "13900000000", PASSWORD)
    first, second = await mint(http, live, 2)
    phone, _ = await aux_connect(peers, url_of(server), first, "endcam0001abcd", services)
    assert phone is not None
    examiner = await examiner_peer(peers, server, services, live)
    assert (await examiner.call("queue:call_next"))["ok"]
    await phone.wait_for("aux:state", lambda d: d["state"] == "called")
    assert (await candidate.call("room:enter", {"room_id": live.room.id}))["ok"]
    assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
    await phone.wait_for("aux:state", lambda d: d["state"] == "done")

    ack = await phone.call("rtc:config")  # the phone left on: it can do nothing more
    assert ack["ok"] is False and ack["error"]["code"] == "aux_ended"
    assert "请在考生手机上刷新二维码后重新扫码" in ack["error"]["message"]
    await cut_within(phone, time.monotonic())
    peer, refusal = await aux_connect(peers, url_of(server), second, "endcam0002abcd", services)
    assert peer is None and refusal["data"]["code"] == "aux_token_replaced"


async def test_other_candidates_are_not_limited_by_one_candidates_devices(server, services, live, peers, http, app):
    await logged_in_candidate(live, http, 0)
    for i, token in enumerate(await mint(http, live, 3)):
        assert (await aux_connect(peers, url_of(server), token, f"firstcand{i}abcd", services))[0] is not None
    other = await new_client(app)
    try:
        await logged_in_candidate(live, other, 1)
        (token,) = await mint(other, live, 1)
        peer, refusal = await aux_connect(peers, url_of(server), token, "othercand0abcd", services)
        assert peer is not None, refusal
    finally:
        await other.close()
