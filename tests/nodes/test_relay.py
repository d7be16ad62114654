"""The signalling relay between nodes (server/nodes/relay.py) over a real Redis: a request runs on the
node it names and its answer (or its refusal, with the same code) comes back; a node nobody listens for
is NodeGone at once; one that does not answer is media_node_timeout; and a message that is not signed
with the nodes' secret, not addressed to the node, too old, or seen before is refused and logged,
running nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import pytest

from server.errors import UserError
from server.nodes.relay import NodeGone, Relay
from server.nodes.signing import Signer


@contextlib.asynccontextmanager
async def relays(services, *names: str, timeout_s: float = 5.0):
    made = {name: Relay(services.store, name, Signer(services.store), timeout_s) for name in names}
    tasks = [asyncio.create_task(r.run()) for r in made.values()]
    await asyncio.gather(*(asyncio.wait_for(r.subscribed.wait(), 5) for r in made.values()))
    try:
        yield made
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_request_runs_on_the_named_node_and_its_answer_or_refusal_comes_back(services):
    async with relays(services, "node-a", "node-b") as r:
        calls = []

        async def echo(body: dict) -> dict:
            calls.append(body)
            return {"echo": body["text"]}

        async def refuse(body: dict) -> dict:
            raise UserError("room_full_examiners", field="sdp", max=3)

        r["node-b"].handle("echo", echo)
        r["node-b"].handle("refuse", refuse)
        assert await r["node-a"].request("node-b", "echo", {"text": "你好"}) == {"echo": "你好"}
        with pytest.raises(UserError) as refused:
            await r["node-a"].request("node-b", "refuse", {})
        assert (refused.value.code, refused.value.field, refused.value.params) == (
            "room_full_examiners",
            "sdp",
            {"max": 3},
        )
        assert "3" in refused.value.message("zh")
        with pytest.raises(UserError) as unknown:
            await r["node-a"].request("node-b", "no-such-op", {})
        assert unknown.value.code == "event_unknown"
        with pytest.raises(NodeGone):  # nobody listens there: the caller places the room again
            await r["node-a"].request("node-c", "echo", {"text": "x"})
        assert len(calls) == 1


async def test_a_node_that_does_not_answer_is_a_timeout(services):
    # a short timeout (the product waits 10 s) so that the test does not wait for it
    async with relays(services, "node-a", "node-b", timeout_s=0.5) as r:

        async def slow(body: dict) -> dict:
            await asyncio.sleep(5)
            return {}

        r["node-b"].handle("slow", slow)
        started = time.monotonic()
        with pytest.raises(UserError) as late:
            await r["node-a"].request("node-b", "slow", {})
        assert late.value.code == "media_node_timeout" and time.monotonic() - started < 2
        assert "重新连接" in late.value.message("zh")


async def test_unsigned_misaddressed_stale_and_replayed_messages_run_nothing(services, caplog):
    caplog.set_level(logging.WARNING, "server.nodes")
    async with relays(services, "node-b") as r:
        calls = []

        async def act(body: dict) -> dict:
            calls.append(body)
            return {}

        r["node-b"].handle("act", act)
        signer = Signer(services.store)
        channel = services.store.keys.relay("node-b")

        def message(msg_id: str, to: str = "node-b", at: float | None = None) -> str:
            body = {
                "kind": "req",
                "id": msg_id,
                "op": "act",
                "from": "x",
                "to": to,
                "at": at or time.time(),
                "body": {},
            }
            return json.dumps(body)

        async def send(text: str, signature: str | None = None) -> None:
            sig = signature if signature is not None else await signer.sign(text)
            await services.store.redis.publish(channel, json.dumps({"p": text, "s": sig}))

        await send(message("m1"), "f" * 64)  # forged
        await send(message("m2"), "")  # unsigned
        await send(message("m3", to="node-c"))  # for another node
        await send(message("m4", at=time.time() - 120))  # two minutes old
        await services.store.redis.publish(channel, "not json")
        await services.store.redis.publish(channel, "x" * 300_000)  # oversized
        ok = message("m5")
        await send(ok)
        await send(ok)  # the same message again: a replay
        await asyncio.sleep(0.5)
        assert len(calls) == 1
        reasons = [r.reason for r in caplog.records if r.getMessage() == "relay message refused"]
        assert sorted(reasons) == sorted(
            [
                "bad signature",
                "bad signature",
                "not addressed to this node",
                "expired",
                "malformed",
                "malformed",
                "replayed",
            ]
        ), reasons
