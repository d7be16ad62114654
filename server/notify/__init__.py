"""Sending short messages to people: SMS and email, behind one small interface.

Domain-neutral: a ``Message`` is a destination and a text; who sends it is chosen by the settings
(``sms_backend``, ``email_backend``; docs/configuration.md) when the services are built:

- ``console`` (the default of both): a structured log line plus a plain line on the terminal, for
  the demo and development (``console.py``);
- ``http`` for SMS: one POST of JSON to a provider's URL, with an auth header and a body template
  (``sms_http.py``);
- ``smtp`` for email: aiosmtplib to a mail server (``smtp.py``).

A sender raises ``NotifyError`` when the message could not be handed over; nothing is retried here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

CHANNELS = ("sms", "email")


class NotifyError(RuntimeError):
    """The message was not handed over to the provider (the reason is for the log, not for users)."""


@dataclass(frozen=True)
class Message:
    channel: str  # sms | email
    to: str  # a normalized phone number or email address
    text: str
    subject: str = ""  # email only
    kind: str = ""  # what the message is (e.g. ``code_register``): for provider templates and logs
    params: dict[str, str] = field(default_factory=dict)  # e.g. {"code": "123456"}: for provider templates


class Sender(Protocol):
    async def send(self, message: Message) -> None: ...


class Notifier:
    """Sends each message through the sender of its channel."""

    def __init__(self, sms: Sender, email: Sender) -> None:
        self.senders: dict[str, Sender] = {"sms": sms, "email": email}

    async def send(self, message: Message) -> None:
        if message.channel not in self.senders:
            raise NotifyError(f"no sender for channel {message.channel!r}")
        await self.senders[message.channel].send(message)
