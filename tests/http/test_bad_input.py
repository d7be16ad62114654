"""Bad input over real HTTP gets a clear, prompt refusal and changes nothing: a lone surrogate in a
JSON string, and socket.io long-polling POSTs without a length or over the size limit."""

from __future__ import annotations

import asyncio
import json
import re
import time

from aiohttp import web

from server.signaling.hub import SIO
from tests.conftest import PASSWORD, login

LONE = '"\\ud800"'  # valid JSON, but not text: no UTF-8 encoding exists for it


async def post_raw_json(http, path: str, text: str, lang: str = "zh"):
    return await http.post(
        path, data=text.encode(), headers={"Content-Type": "application/json", "Accept-Language": lang}
    )


async def test_a_lone_surrogate_is_a_clear_400_not_a_500(http, world):
    for text in (
        '{"login": ' + LONE + ', "password": "x"}',
        '{"login": "examiner-one", "password": "a\\udfffb"}',
        '{"login": "examiner-one", "password": "x", ' + LONE + ": 1}",  # in a key
    ):
        resp = await post_raw_json(http, "/api/auth/login", text)
        err = (await resp.json())["error"]
        assert resp.status == 400 and err["code"] == "bad_text", (text, resp.status, err)
        assert "无法识别的字符" in err["message"], err
    resp = await post_raw_json(http, "/api/auth/login", '{"login": ' + LONE + ', "password": "x"}', lang="en")
    assert "not valid text" in (await resp.json())["error"]["message"]
    # a real surrogate pair is an ordinary character (U+1F600) and is read as such
    resp = await post_raw_json(http, "/api/auth/login", '{"login": "\\ud83d\\ude00", "password": "wrong-pass-1"}')
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "login_failed"


async def test_a_lone_surrogate_changes_nothing(http, services):
    text = '{"phone": "13800138000", "password": "abc12345", "name": "张' + LONE[1:-1] + '"}'
    resp = await post_raw_json(http, "/api/auth/register", text)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_text"
    assert "Set-Cookie" not in resp.headers
    assert await services.directory.find_by_login("13800138000") is None


async def test_a_lone_surrogate_in_an_admin_form_changes_nothing(http, world):
    await login(http, "admin-one", PASSWORD)
    before = await world.services.catalog.exams()
    text = json.dumps({"name": "x"})[:-1] + ', "school": ' + LONE + "}"
    resp = await post_raw_json(http, "/api/admin/exams", text)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_text"
    assert len(await world.services.catalog.exams()) == len(before)


# --- socket.io long polling -------------------------------------------------------------------


async def engine_session(http) -> str:
    """An engine.io long-polling session, as the socket.io client opens one."""
    resp = await http.get("/socket.io/?EIO=4&transport=polling")
    assert resp.status == 200
    text = await resp.text()
    return json.loads(text[1:])["sid"]


def limit_of(app: web.Application) -> int:
    return app[SIO].eio.max_http_buffer_size


async def test_an_oversized_polling_post_is_refused_at_once(app, http):
    sid = await engine_session(http)
    url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    body = b"4" + b"x" * limit_of(app)  # one message packet, one byte over the limit
    start = time.perf_counter()
    async with asyncio.timeout(5):  # before: no answer until the server stopped
        resp = await http.post(url, data=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert time.perf_counter() - start < 1.0
    err = (await resp.json())["error"]
    assert resp.status == 413 and err["code"] == "body_too_large" and str(limit_of(app) // 1024) in err["message"], err
    # a message within the limit is still taken (a new connection: the refused one was closed)
    sid = await engine_session(http)
    async with asyncio.timeout(5):  # a socket.io CONNECT to a namespace, as the client sends first
        resp = await http.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"40/candidate,")
    assert resp.status == 200 and await resp.text() == "OK"


async def test_a_polling_post_without_a_length_is_refused_at_once(app, http):
    sid = await engine_session(http)

    async def chunks():  # a chunked body: no Content-Length
        for _ in range(64):
            yield b"x" * 65536
            await asyncio.sleep(0.01)

    start = time.perf_counter()
    async with asyncio.timeout(5):
        try:
            resp = await http.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=chunks())
            status = resp.status
        except Exception as exc:  # the server may close while the client still sends: refused all the same
            status = type(exc).__name__
    assert time.perf_counter() - start < 2.0
    assert status in (413, "ClientOSError", "ServerDisconnectedError"), status


async def test_a_polling_post_claiming_a_huge_length_is_refused_and_closed(app, http):
    """A Content-Length of 10 MB and a few bytes sent: the answer comes at once; the connection is
    closed after aiohttp's lingering read of what the client still sends (10 s at most), not kept."""
    sid = await engine_session(http)
    port = http.server.port
    head = (
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 10000000\r\n\r\n4hello"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        start = time.perf_counter()
        writer.write(head.encode())
        await writer.drain()
        async with asyncio.timeout(1.0):  # before: no answer until the server stopped
            status = await reader.readline()
            headers = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = int(re.search(r"Content-Length: (\d+)", headers).group(1))
            body = json.loads(await reader.readexactly(length))
        assert status.startswith(b"HTTP/1.1 413"), status
        assert "Connection: close" in headers and body["error"]["code"] == "body_too_large"
        async with asyncio.timeout(12):
            assert await reader.read() == b""  # closed by the server
        assert time.perf_counter() - start < 11.5
    finally:
        writer.close()
    assert (await http.get("/healthz")).status == 200  # and the app serves on


async def test_a_refused_polling_packet_does_not_hang(app, http):
    """A packet engine.io refuses (``6``, a no-op only the server may send) made it disconnect the
    session and wait for a GET poll that never came: the POST hung until the server stopped."""
    from server.http.middleware import POLLING_POST_S

    sid = await engine_session(http)
    start = time.perf_counter()
    async with asyncio.timeout(POLLING_POST_S + 2):
        resp = await http.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"6")
    assert resp.status == 400 and resp.headers.get("Connection") == "close"
    assert time.perf_counter() - start < POLLING_POST_S + 1
    resp = await http.get(f"/socket.io/?EIO=4&transport=polling&sid={sid}")
    assert resp.status == 400  # the session is closed, as engine.io meant
    assert (await http.get("/healthz")).status == 200
