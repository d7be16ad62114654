"""Which sender each channel uses, from the settings (``sms_backend``, ``email_backend`` and their
options; docs/configuration.md). Reads the settings' attributes only: this package imports nothing of
the server."""

from __future__ import annotations

import logging
from typing import Any

from . import Notifier, Sender
from .console import ConsoleSender

log = logging.getLogger("server.notify")

SMS_BACKENDS = ("console", "http")
EMAIL_BACKENDS = ("console", "smtp")


def check(settings: Any) -> None:
    """Raise ``ValueError`` naming the setting when the chosen backends cannot work."""
    if settings.sms_backend not in SMS_BACKENDS:
        raise ValueError(f"setting 'sms_backend' must be one of {', '.join(SMS_BACKENDS)}")
    if settings.email_backend not in EMAIL_BACKENDS:
        raise ValueError(f"setting 'email_backend' must be one of {', '.join(EMAIL_BACKENDS)}")
    if settings.sms_backend == "http":
        from .sms_http import parse_template

        if not settings.sms_http_url.startswith(("http://", "https://")):
            raise ValueError("setting 'sms_http_url' must be an http(s) URL when sms_backend is 'http'")
        try:
            parse_template(settings.sms_http_body)
        except ValueError as exc:
            raise ValueError(f"setting 'sms_http_body': {exc}") from None
    if settings.email_backend == "smtp":
        from .smtp import SECURITY

        if not settings.smtp_host or not settings.smtp_from:
            raise ValueError("settings 'smtp_host' and 'smtp_from' are needed when email_backend is 'smtp'")
        if settings.smtp_security not in SECURITY:
            raise ValueError(f"setting 'smtp_security' must be one of {', '.join(SECURITY)}")


def build(settings: Any) -> Notifier:
    sms: Sender
    email: Sender
    if settings.sms_backend == "http":
        from .sms_http import HttpSmsSender

        sms = HttpSmsSender(
            settings.sms_http_url,
            settings.sms_http_body,
            settings.sms_http_auth_header,
            settings.sms_http_auth_value,
            settings.sms_http_timeout_s,
        )
    else:
        sms = ConsoleSender()
    if settings.email_backend == "smtp":
        from .smtp import SmtpSender

        email = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_timeout_s,
        )
    else:
        email = ConsoleSender()
    console = [
        name
        for name, backend in (("sms", settings.sms_backend), ("email", settings.email_backend))
        if backend == "console"
    ]
    if console:
        log.warning(
            "notifications are printed, not sent (console backend): set sms_backend / email_backend for production",
            extra={"channels": console},
        )
    return Notifier(sms, email)
