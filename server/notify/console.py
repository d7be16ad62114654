"""The console backend: every message is a structured log line (logger ``server.notify``) and a plain
line on the terminal (stdout), so that whoever runs the demo sees the verification code.

Not for production: messages never leave the machine, and the log holds the codes.
"""

from __future__ import annotations

import logging
import sys

from . import Message

log = logging.getLogger("server.notify")


class ConsoleSender:
    def __init__(self, stream=None) -> None:
        self.stream = stream  # None: sys.stdout at the time of sending (pytest swaps it)

    async def send(self, message: Message) -> None:
        log.info(
            "notification (console backend)",
            extra={
                "channel": message.channel,
                "to": message.to,
                "kind": message.kind,
                "subject": message.subject,
                "text": message.text,
                "params": message.params,
            },
        )
        stream = self.stream or sys.stdout
        print(f"[{message.channel} -> {message.to}] {message.text}", file=stream, flush=True)
