"""The signalling relay (docs/nodes.md "The relay"): a message for a room held by another node goes
through Redis pub/sub to that node's channel (``relay:{process}``), which runs it and answers on the
asker's channel. Every message is signed (HMAC-SHA256, :class:`Signer`), names its sender and its
addressee, carries its time (refused beyond ``MAX_SKEW_S``) and an id that is run once (a replay is
refused), so nothing but a node can make another node act.

A request is ``{"kind": "req", "id", "op", "from", "to", "at", "body"}``; the answer
``{"kind": "rep", "id", "from", "to", "at", "ok", "body" | "error": {"code", "field", "params"}}``.
On the wire each is ``{"p": <the JSON text>, "s": <hex signature of it>}``. The handlers (``handle``)
are the signalling layer's; a ``UserError`` they raise reaches the asker as the same error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import UserError
from ..store.base import Store
from ..store.redis import RedisUnavailable
from ..tasks import cancelled
from .signing import Signer

log = logging.getLogger("server.nodes")
TIMEOUT_S = 10.0  # a relayed request not answered by then: media_node_timeout (the page retries)
MAX_SKEW_S = 30.0  # a message older (or further ahead) than this is refused: clocks of nodes run NTP
RETRY_MAX_S = 0.25  # a lost subscription is made again within this
MAX_MESSAGE_BYTES = 256 * 1024  # an SDP is at most 64 KB

Handler = Callable[[dict], Awaitable[dict]]
Observe = Callable[[str, str, float], None]  # op, outcome, seconds


class NodeGone(Exception):
    """Nobody listens on the node's channel: it died (or is not a node at all)."""


class Relay:
    def __init__(self, store: Store, process: str, signer: Signer, timeout_s: float = TIMEOUT_S) -> None:
        self.store = store
        self.keys = store.keys
        self.process = process
        self.signer = signer
        self.timeout_s = timeout_s
        self.handlers: dict[str, Handler] = {}
        self.waiting: dict[str, asyncio.Future] = {}
        self.seen: dict[str, float] = {}  # message id -> when it may be forgotten (replays refused until then)
        self.tasks: set[asyncio.Task] = set()
        self.subscribed = asyncio.Event()
        self.observe: Observe | None = None  # metrics (server/wiring.py)
        self._count = 0

    def handle(self, op: str, handler: Handler) -> None:
        self.handlers[op] = handler

    # --- asking another node -----------------------------------------------------------------
    async def request(self, process: str, op: str, body: dict) -> dict:
        """Run ``op`` on the node ``process`` and return its answer's body. Raises ``NodeGone`` when
        nobody listens there, ``UserError`` with the node's refusal, ``UserError("media_node_timeout")``
        when it does not answer within the timeout."""
        self._count += 1
        msg_id = f"{self.process}/{self._count}/{time.monotonic_ns()}"
        started = time.monotonic()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiting[msg_id] = future
        outcome = "error"
        try:
            envelope = {"kind": "req", "id": msg_id, "op": op, "from": self.process, "to": process}
            receivers = await self._send(process, envelope | {"at": time.time(), "body": body})
            if not receivers:
                outcome = "no_node"
                raise NodeGone(process)
            try:
                reply = await asyncio.wait_for(future, self.timeout_s)
            except TimeoutError:
                outcome = "timeout"
                log.warning("relay request not answered", extra={"op": op, "to": process, "timeout_s": self.timeout_s})
                raise UserError("media_node_timeout") from None
            if reply.get("ok"):
                outcome = "ok"
                return reply.get("body") or {}
            error = reply.get("error") or {}
            raise UserError(
                str(error.get("code") or "internal"), field=error.get("field"), **(error.get("params") or {})
            )
        finally:
            self.waiting.pop(msg_id, None)
            if self.observe is not None:
                self.observe(op, outcome, time.monotonic() - started)

    async def _send(self, process: str, message: dict) -> int:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        wire = json.dumps({"p": text, "s": await self.signer.sign(text)})
        return int(await self.store.redis.publish(self.keys.relay(process), wire))

    # --- listening ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Listen on this node's channel until cancelled; a lost subscription is made again at once
        (retries every 50 ms doubling up to ``RETRY_MAX_S``)."""
        channel = self.keys.relay(self.process)
        pause, failing = 0.05, False
        while True:
            pubsub = self.store.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self.subscribed.set()
                if failing:
                    log.info("relay channel subscribed again")
                pause, failing = 0.05, False
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        await self._received(msg.get("data"))
                    self._forget_old()
            except RedisUnavailable as exc:
                if cancelled():
                    raise
                if not failing:
                    log.warning("relay channel: redis unavailable", extra={"error": str(exc)})
                failing = True
            except Exception:
                if cancelled():
                    raise
                log.exception("relay channel failed")
                failing = True
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(RETRY_MAX_S, pause * 2)

    async def _received(self, data: Any) -> None:
        message = await self._open(data)
        if message is None:
            return
        if message["kind"] == "rep":
            future = self.waiting.get(message["id"])
            if future is not None and not future.done():
                future.set_result(message)
            return
        task = asyncio.create_task(self._serve(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open(self, data: Any) -> dict | None:
        """The message if it is signed, addressed to this node, recent and new; else None (logged)."""
        why = ""
        message: Any = None
        try:
            if not isinstance(data, str) or len(data) > MAX_MESSAGE_BYTES:
                raise ValueError("not a message")
            wire = json.loads(data)
            if not isinstance(wire, dict) or not await self.signer.valid(str(wire.get("p")), wire.get("s")):
                why = "bad signature"
            else:
                message = json.loads(wire["p"])
                if not isinstance(message, dict) or message.get("kind") not in ("req", "rep"):
                    why = "malformed"
                elif message.get("to") != self.process:
                    why = "not addressed to this node"
                elif abs(time.time() - float(message.get("at") or 0)) > MAX_SKEW_S:
                    why = "expired"
                elif not isinstance(message.get("id"), str) or f"{message['kind']}:{message['id']}" in self.seen:
                    why = "replayed"
        except (ValueError, TypeError, KeyError):
            why = "malformed"
        if why:
            log.warning("relay message refused", extra={"reason": why, "op": str((message or {}).get("op", ""))[:40]})
            return None
        self.seen[f"{message['kind']}:{message['id']}"] = time.monotonic() + 2 * MAX_SKEW_S
        return message

    def _forget_old(self) -> None:
        if len(self.seen) < 256:
            return
        now = time.monotonic()
        for msg_id in [m for m, until in self.seen.items() if until < now]:
            del self.seen[msg_id]

    async def _serve(self, message: dict) -> None:
        op = str(message.get("op") or "")
        reply: dict[str, Any] = {"kind": "rep", "id": message["id"], "from": self.process, "to": message["from"]}
        handler = self.handlers.get(op)
        try:
            if handler is None:
                raise UserError("event_unknown", name=op[:60])
            body = message.get("body")
            reply |= {"ok": True, "body": await handler(body if isinstance(body, dict) else {})}
        except UserError as err:
            reply |= {"ok": False, "error": {"code": err.code, "field": err.field, "params": _plain(err.params)}}
        except Exception:
            if cancelled():
                raise
            log.exception("relayed request failed", extra={"op": op[:40], "from_process": message.get("from")})
            reply |= {"ok": False, "error": {"code": "internal"}}
        try:
            await self._send(message["from"], reply | {"at": time.time()})
        except RedisUnavailable as exc:
            log.warning("relay answer not sent: redis unavailable", extra={"op": op[:40], "error": str(exc)})

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)


def _plain(params: dict) -> dict:
    """The error's parameters that survive JSON (the message is made again on the asker's side)."""
    try:
        return json.loads(json.dumps(params, default=str))
    except (TypeError, ValueError):
        return {}
