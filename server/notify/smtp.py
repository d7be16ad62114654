"""Email through an SMTP server (aiosmtplib).

``smtp_security``: ``starttls`` (port 587, the default), ``tls`` (implicit TLS, port 465) or ``none``
(a relay on a trusted network, or a test server on loopback). A login is sent when ``smtp_username``
is set. Any refusal or connection problem raises ``NotifyError``.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from . import Message, NotifyError

SECURITY = ("starttls", "tls", "none")


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        security: str = "starttls",
        username: str = "",
        password: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        if security not in SECURITY:
            raise ValueError(f"smtp security must be one of {', '.join(SECURITY)}")
        self.host, self.port, self.sender = host, port, sender
        self.security = security
        self.username, self.password = username, password
        self.timeout_s = timeout_s

    def email(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or message.text.splitlines()[0][:60]
        mail.set_content(message.text)
        return mail

    async def send(self, message: Message) -> None:
        try:
            await aiosmtplib.send(
                self.email(message),
                hostname=self.host,
                port=self.port,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                username=self.username or None,
                password=self.password or None,
                timeout=self.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise NotifyError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
