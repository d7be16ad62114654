"""A small, fast, deterministic slice of the fuzzing pass (bench/fuzz.py, docs/security.md "Fuzzing"):
every operation of docs/openapi.yaml as each role that may call it and anonymously, and every socket
event of every namespace, a few cases each. No answer may be a 5xx, no refused request may change
Redis, every socket ack is ``{ok: true, ...}`` or ``{ok: false, error: {code, message}}``.

Below it, the bugs the fuzzer found, each as a plain request."""

from __future__ import annotations

import json

from bench.fuzz import ALLOWED_HTTP, Digest, fuzz
from tests.conftest import PASSWORD, build_world, login, new_client

# A bug the fuzzer finds that cannot be fixed at once may be listed here while it is open, as
# {name: (file, text of its traceback)}, with a strict xfail test of its own below: the slice ignores
# it, and the xfail fails once it is fixed, so that both are removed together.
KNOWN_OPEN: dict[str, tuple[str, str]] = {}


def _known(error: dict) -> bool:
    tracebacks = "".join(r["traceback"] for r in error.get("server_log", []))
    return any(where in tracebacks and what in tracebacks for where, what in KNOWN_OPEN.values())


async def test_fuzz_slice(redis_url, prefix, redis):
    figures = await fuzz(redis_url, prefix, examples=3, seconds=60, derandomize=True)
    report = json.dumps(
        {k: figures[k] for k in figures if k.endswith("_details") and k != "operation_details"},
        ensure_ascii=False,
        default=str,
    )[:20000]
    assert [e for e in figures["server_error_details"] if not _known(e)] == [], report
    assert figures["state_changes_on_refusal"] == 0, report
    assert [e for e in figures["socket_error_details"] if not _known(e)] == [], report
    assert figures["socket_state_changes_on_refusal"] == 0, report
    # the slice reached every operation and event, and the deep ones answered something else than 401/404
    assert figures["pairs_not_reached"] == 0 and figures["requests"] >= 3 * figures["operation_role_pairs"] // 2
    assert figures["socket_events"] > 50 and figures["socket_acks"].get("ok", 0) > 0
    assert figures["generation_errors"] == []


async def test_digest_sees_every_change_but_the_allowed_keys(redis_url, prefix, redis):
    """The fuzzer's state check: any key added, removed or changed under the prefix, whatever its type."""
    digest = Digest(redis_url, prefix)
    try:
        await redis.hset(prefix + "h", mapping={"a": "1"})
        await redis.zadd(prefix + "z", {"m": 1})
        await redis.xadd(prefix + "s", {"f": "v"})
        before = digest.snapshot()
        assert digest.changed(before, digest.snapshot(), ALLOWED_HTTP) == []
        await redis.hset(prefix + "h", "a", "2")
        await redis.zadd(prefix + "z", {"m": 2})
        await redis.xadd(prefix + "s", {"f": "v"})
        await redis.set(prefix + "new", "x")
        await redis.incr(prefix + "ratelimit:login:x")
        assert digest.changed(before, digest.snapshot(), ALLOWED_HTTP) == ["~h", "+new", "~s", "~z"]
        await redis.delete(prefix + "h")
        assert "-h" in digest.changed(before, digest.snapshot(), ALLOWED_HTTP)
    finally:
        digest.close()


def _multipart(name: bytes, boundary: str = "fuzzb") -> tuple[bytes, dict]:
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="'
        + name
        + b'"\r\n\r\nvalue\r\n'
        + f"--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def test_roster_import_with_a_part_header_that_is_not_http_is_bad_multipart(http, services, redis, prefix):
    """Found by the fuzzer: a part named with bytes that are not a valid header was a 500."""
    world = await build_world(services)
    await login(http, "admin-one", PASSWORD)
    keys = sorted([k async for k in redis.scan_iter(match=prefix + "*")])
    body, headers = _multipart("名字\x07".encode())
    resp = await http.post(f"/api/admin/exams/{world.exam.id}/roster", data=body, headers=headers)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["code"] == "bad_multipart"
    assert sorted([k async for k in redis.scan_iter(match=prefix + "*")]) == keys


async def test_facecheck_with_a_part_header_that_is_not_http_is_bad_multipart(app, services):
    """Found by the fuzzer: the same in a face-check burst (the identity appeal's; the queue's is live now) was a 500."""
    world = await build_world(services)
    account = await world.candidate(0)
    client = await new_client(app)
    try:
        await login(client, account.phone, PASSWORD)
        body, headers = _multipart("名字\x07".encode())
        resp = await client.post("/api/candidate/identity/appeal", data=body, headers=headers)
        assert resp.status == 400, await resp.text()
    finally:
        await client.close()


async def test_aux_page_with_a_non_ascii_token_is_refused(http):
    """Found by the fuzzer: a token with non-ASCII characters (page or /aux socket) was a TypeError."""
    resp = await http.get("/aux/abc.%C3%A9t%C3%A9", allow_redirects=False)
    assert resp.status < 500, await resp.text()
