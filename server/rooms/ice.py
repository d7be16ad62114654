"""The ``ice_servers`` setting: STUN/TURN servers for the server's peers and for browsers.

Checked when the settings load, so that a server that aiortc would silently skip (a ``turns:``
URL over UDP, a TURN entry without credentials, a typo in the scheme) is a configuration error
instead of a room that never connects from a network that blocks UDP. aiortc itself uses the
first STUN and the first TURN URL; browsers get the whole list.

TURN credentials: static ones (``username``/``credential`` in the setting) are handed to every
socket that asks, so anyone who once joined can relay through the school's TURN server for ever.
With ``turn_secret`` set (coturn's ``use-auth-secret`` + ``static-auth-secret``), a TURN entry
written without credentials gets time-limited ones minted per participant, as coturn's "TURN REST
API" defines them: username ``<expiry unix time>:<who>``, credential
``base64(HMAC-SHA1(secret, username))``. coturn refuses them once the expiry has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

KEYS = {"urls", "username", "credential"}


def _urls(entry: dict) -> list:
    urls = entry.get("urls")
    if isinstance(urls, str):
        return [urls]
    return urls if isinstance(urls, list) else []  # not a list: refused by the caller as empty


def _is_turn(url: str) -> bool:
    return url.startswith(("turn:", "turns:"))


def _check_url(where: str, url: object, entry: dict, minted: bool) -> None:
    if not isinstance(url, str):
        raise ValueError(f"{where}: a URL must be a string")
    try:
        parsed = parse_stun_turn_uri(url)
    except ValueError as exc:
        raise ValueError(
            f"{where}: {url!r} is not a stun:, turn: or turns: URL ({exc}; e.g. "
            "stun:stun.example.edu or turns:turn.example.edu:443?transport=tcp)"
        ) from None
    scheme, transport = parsed["scheme"], parsed.get("transport")
    if scheme == "stuns":
        raise ValueError(f"{where}: {url!r}: stuns: is not supported, use stun: or turns:")
    if scheme == "turns" and transport != "tcp":
        raise ValueError(f"{where}: {url!r}: turns: works over TCP only (?transport=tcp)")
    if scheme == "turn" and transport not in ("udp", "tcp"):
        raise ValueError(f"{where}: {url!r}: the transport must be udp or tcp")
    if scheme in ("turn", "turns") and not minted and not (entry.get("username") and entry.get("credential")):
        raise ValueError(
            f"{where}: {url!r}: a TURN server needs a username and a credential (or set turn_secret "
            "to mint time-limited ones, coturn's use-auth-secret)"
        )


def parse_ice_servers(text: str, turn_secret: str = "") -> list[dict]:
    """The setting's JSON, in ``RTCConfiguration.iceServers`` form; ValueError says what is
    wrong and where. With ``turn_secret``, TURN entries may leave their credentials out."""
    if not text.strip():
        return []
    try:
        servers = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"ice_servers is not valid JSON: {exc}") from None
    if not isinstance(servers, list):
        raise ValueError("ice_servers must be a JSON list of {urls, username?, credential?}")
    for i, entry in enumerate(servers):
        where = f"ice_servers[{i}]"
        if not isinstance(entry, dict) or not entry.get("urls"):
            raise ValueError(f"{where} must be an object with urls (and username, credential for TURN)")
        unknown = set(entry) - KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("username", "credential"):
            if key in entry and not isinstance(entry[key], str):
                raise ValueError(f"{where}: {key} must be a string")
        urls = _urls(entry)
        if not isinstance(urls, list) or not urls:
            raise ValueError(f"{where}: urls must be a URL or a list of URLs")
        minted = bool(turn_secret) and "username" not in entry and "credential" not in entry
        for url in urls:
            _check_url(where, url, entry, minted)
    return servers


_WHO = re.compile(r"[^A-Za-z0-9_.-]")


def turn_credentials(secret: str, who: str, ttl_s: int, now: float | None = None) -> tuple[str, str]:
    """coturn's time-limited credentials (``use-auth-secret``) for ``who``, valid ``ttl_s``."""
    expiry = int((time.time() if now is None else now) + ttl_s)
    username = f"{expiry}:{_WHO.sub('', who)[:64]}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


@dataclass(frozen=True)
class TurnMint:
    """``turn_secret`` and ``turn_credential_ttl_s``: what ``with_credentials`` needs (empty: off)."""

    secret: str = ""
    ttl_s: int = 4 * 3600

    def servers_for(self, servers: list[dict], who: str) -> list[dict]:
        return with_credentials(servers, self.secret, who, self.ttl_s)


def with_credentials(servers: list[dict], secret: str, who: str, ttl_s: int) -> list[dict]:
    """The servers for one participant: TURN entries written without credentials get minted ones."""
    if not secret:
        return servers
    out = []
    for entry in servers:
        urls = _urls(entry)
        if any(_is_turn(u) for u in urls) and "username" not in entry and "credential" not in entry:
            username, credential = turn_credentials(secret, who, ttl_s)
            entry = {**entry, "username": username, "credential": credential}
        out.append(entry)
    return out


def rtc_ice_servers(servers: list[dict]) -> list[RTCIceServer]:
    """The same servers for aiortc's ``RTCConfiguration``."""
    return [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in servers]
