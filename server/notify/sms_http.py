"""SMS through a provider's HTTP API: one POST of a JSON body to a configured URL.

The shape (docs/configuration.md, ``sms_http_*``):

- ``POST <sms_http_url>`` with ``Content-Type: application/json`` and, when ``sms_http_auth_value`` is
  set, the header ``<sms_http_auth_header>: <sms_http_auth_value>`` (e.g. ``Authorization: Bearer ...``);
- the body is ``sms_http_body``, a JSON object used as a template: in every string value (at any depth)
  ``{to}``, ``{text}``, ``{kind}`` and ``{<param>}`` (e.g. ``{code}``) are replaced by the message's
  values; other text stays as written. The default is ``{"to": "{to}", "text": "{text}"}``; a provider
  that sends from registered templates gets e.g.
  ``{"phone": "{to}", "template": "SMS_123", "params": {"code": "{code}"}}``.
- any 2xx answer is success; anything else (or no answer within ``sms_http_timeout_s``) raises
  ``NotifyError``.

Values are substituted into the parsed template, never into JSON text, so a message cannot change
the body's structure.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from . import Message, NotifyError

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
DEFAULT_BODY = '{"to": "{to}", "text": "{text}"}'


def parse_template(body: str) -> dict:
    """The body template as a JSON object (raises ``ValueError`` with what is wrong)."""
    try:
        template = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(template, dict):
        raise ValueError("must be a JSON object")
    return template


def fill(template: Any, values: dict[str, str]) -> Any:
    """``template`` with the placeholders of every string replaced (unknown placeholders stay)."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, values) for value in template]
    return template


class HttpSmsSender:
    def __init__(
        self,
        url: str,
        body: str = DEFAULT_BODY,
        auth_header: str = "Authorization",
        auth_value: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.template = parse_template(body)
        self.headers = {auth_header: auth_value} if auth_value else {}
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def body(self, message: Message) -> dict:
        return fill(self.template, {**message.params, "to": message.to, "text": message.text, "kind": message.kind})

    async def send(self, message: Message) -> None:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.post(self.url, json=self.body(message), headers=self.headers) as resp:
                    if not 200 <= resp.status < 300:
                        detail = (await resp.text())[:200]
                        raise NotifyError(f"SMS provider answered {resp.status}: {detail}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotifyError(f"SMS provider unreachable: {type(exc).__name__}: {exc}") from None
