"""Reading what the senders sent, for tests: the console backend's log records (the product's default
backend, so the app under test runs with default settings), and small real servers that the HTTP
SMS adapter and the SMTP sender deliver to."""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field

from aiohttp import web
from aiosmtpd.controller import Controller

from server.store.embedded import free_port

NOTIFY_LOGGER = "server.notify"


def console_messages(caplog, to: str | None = None) -> list:
    """The console backend's records (oldest first), for one destination when ``to`` is given."""
    return [
        r
        for r in caplog.records
        if r.name == NOTIFY_LOGGER and hasattr(r, "text") and (to is None or getattr(r, "to", None) == to)
    ]


def console_code(caplog, to: str) -> str:
    """The code of the newest message the console backend sent to ``to``."""
    found = [r for r in console_messages(caplog, to) if "code" in r.params]
    assert found, f"no code was sent to {to}"
    return found[-1].params["code"]


async def ask_code(client, purpose: str, headers: dict | None = None, **contact):
    return await client.post("/api/auth/codes", json={"purpose": purpose, **contact}, headers=headers or {})


async def code_for(client, caplog, purpose: str, to: str, headers: dict | None = None, **contact) -> str:
    """Ask the app for a code over HTTP and read it from the console backend."""
    resp = await ask_code(client, purpose, headers, **contact)
    assert resp.status == 200, await resp.text()
    return console_code(caplog, to)


@dataclass
class SmsInbox:
    """A small real HTTP server standing in for an SMS provider: it keeps every request it got."""

    status: int = 200
    requests: list[dict] = field(default_factory=list)
    port: int = 0
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/send"

    async def start(self) -> SmsInbox:
        async def receive(request: web.Request) -> web.Response:
            self.requests.append({"headers": dict(request.headers), "body": await request.json()})
            return web.json_response({"ok": self.status == 200}, status=self.status)

        app = web.Application()
        app.router.add_post("/sms/send", receive)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


class _Keep:
    def __init__(self, refuse: set[str]) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


class SmtpInbox:
    """A real SMTP server (aiosmtpd) on loopback, on a free port, keeping every message it accepted."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.handler = _Keep(refuse or set())
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.handler.messages

    def __enter__(self) -> SmtpInbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    async def wait(self, count: int, timeout_s: float = 5.0) -> None:
        for _ in range(int(timeout_s / 0.02)):
            if len(self.messages) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.messages)} of {count} messages arrived")
