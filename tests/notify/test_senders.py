"""The senders, each against a real counterpart: the HTTP SMS adapter against a small aiohttp server,
the SMTP sender against aiosmtpd on loopback, the console backend into the log and the terminal."""

from __future__ import annotations

import pytest

from server.config import ConfigError, load_settings
from server.notify import Message, Notifier, NotifyError
from server.notify.console import ConsoleSender
from server.notify.sms_http import HttpSmsSender
from server.notify.smtp import SmtpSender
from server.store.embedded import free_port

from .inbox import SmsInbox, SmtpInbox, console_messages

SMS = Message("sms", "13800138000", "验证码 123456，5 分钟内有效", kind="code_register", params={"code": "123456"})
MAIL = Message(
    "email", "kim@example.org", "Your code is 654321", "Verification code", "code_register", {"code": "654321"}
)


async def test_http_sms_posts_the_filled_template_with_the_auth_header():
    inbox = await SmsInbox().start()
    try:
        template = '{"phone": "{to}", "template": "SMS_1", "params": {"code": "{code}", "kind": "{kind}"}, "n": 1}'
        sender = HttpSmsSender(inbox.url, template, "X-Api-Key", "key-1")
        await sender.send(SMS)
        [got] = inbox.requests
        assert got["headers"]["X-Api-Key"] == "key-1"
        assert got["headers"]["Content-Type"].startswith("application/json")
        assert got["body"] == {
            "phone": "13800138000",
            "template": "SMS_1",
            "params": {"code": "123456", "kind": "code_register"},
            "n": 1,
        }
        # the default template: the destination and the whole text; no auth header when none is set
        await HttpSmsSender(inbox.url).send(SMS)
        assert inbox.requests[1]["body"] == {"to": "13800138000", "text": SMS.text}
        assert "Authorization" not in inbox.requests[1]["headers"]
    finally:
        await inbox.stop()


async def test_http_sms_values_cannot_change_the_body_structure():
    inbox = await SmsInbox().start()
    try:
        evil = Message("sms", '1", "admin": true, "x": "', 'a"}, {"b": 1', params={"code": "{to}"})
        await HttpSmsSender(inbox.url, '{"to": "{to}", "text": "{text}", "code": "{code}"}').send(evil)
        assert inbox.requests[0]["body"] == {"to": evil.to, "text": evil.text, "code": "{to}"}
    finally:
        await inbox.stop()


async def test_http_sms_refusal_and_unreachable_provider_raise():
    inbox = await SmsInbox(status=500).start()
    try:
        with pytest.raises(NotifyError, match="500"):
            await HttpSmsSender(inbox.url).send(SMS)
    finally:
        await inbox.stop()
    with pytest.raises(NotifyError, match="unreachable"):
        await HttpSmsSender(f"http://127.0.0.1:{free_port()}/nothing", timeout_s=2).send(SMS)


async def test_smtp_delivers_to_a_real_server():
    with SmtpInbox() as inbox:
        sender = SmtpSender("127.0.0.1", inbox.port, "Admissions <noreply@school.example>", security="none")
        await sender.send(MAIL)
        await inbox.wait(1)
        [mail] = inbox.messages
        assert mail["To"] == "kim@example.org" and mail["Subject"] == "Verification code"
        assert "noreply@school.example" in mail["From"]
        assert "654321" in mail.get_content()


async def test_smtp_refused_recipient_and_no_server_raise():
    with SmtpInbox(refuse={"kim@example.org"}) as inbox:
        with pytest.raises(NotifyError, match="SMTP"):
            await SmtpSender("127.0.0.1", inbox.port, "noreply@school.example", security="none").send(MAIL)
        assert inbox.messages == []
    with pytest.raises(NotifyError, match="SMTP"):
        await SmtpSender("127.0.0.1", free_port(), "noreply@school.example", security="none", timeout_s=2).send(MAIL)


async def test_console_logs_one_structured_record_and_prints_a_plain_line(caplog, capsys):
    await Notifier(ConsoleSender(), ConsoleSender()).send(SMS)
    [record] = console_messages(caplog)
    assert (record.channel, record.to, record.kind, record.params) == (
        "sms",
        "13800138000",
        "code_register",
        {"code": "123456"},
    )
    assert record.text == SMS.text
    assert capsys.readouterr().out == f"[sms -> 13800138000] {SMS.text}\n"


def test_backend_settings_are_checked_at_load():
    assert load_settings(env={}).sms_backend == "console" and load_settings(env={}).email_backend == "console"
    cases = [
        ({"sms_backend": "pigeon"}, "sms_backend"),
        ({"sms_backend": "http"}, "sms_http_url"),
        ({"sms_backend": "http", "sms_http_url": "http://x", "sms_http_body": "[1]"}, "sms_http_body"),
        ({"sms_backend": "http", "sms_http_url": "http://x", "sms_http_body": "{no"}, "sms_http_body"),
        ({"email_backend": "smtp"}, "smtp_host"),
        ({"email_backend": "smtp", "smtp_host": "h", "smtp_from": "a@b.c", "smtp_security": "ssl"}, "smtp_security"),
        ({"email_backend": "mailgun"}, "email_backend"),
    ]
    for values, name in cases:
        with pytest.raises(ConfigError, match=name):
            load_settings(env={}, **values)
    ok = load_settings(env={"INTERVIEW_SMS_BACKEND": "http", "INTERVIEW_SMS_HTTP_URL": "https://sms.example/send"})
    assert ok.sms_backend == "http"
