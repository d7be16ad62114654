"""The ``ice_servers`` setting: STUN/TURN servers for the server's peers and for browsers.

Checked when the settings load, so that a server that aiortc would silently skip (a ``turns:``
URL over UDP, a TURN entry without credentials, a typo in the scheme) is a configuration error
instead of a room that never connects from a network that blocks UDP. aiortc itself uses the
first STUN and the first TURN URL; browsers get the whole list.
"""

from __future__ import annotations

import json

from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

KEYS = {"urls", "username", "credential"}


def _urls(entry: dict) -> list:
    urls = entry.get("urls")
    if isinstance(urls, str):
        return [urls]
    return urls if isinstance(urls, list) else []  # not a list: refused by the caller as empty


def _check_url(where: str, url: object, entry: dict) -> None:
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
    if scheme in ("turn", "turns") and not (entry.get("username") and entry.get("credential")):
        raise ValueError(f"{where}: {url!r}: a TURN server needs a username and a credential")


def parse_ice_servers(text: str) -> list[dict]:
    """The setting's JSON, in ``RTCConfiguration.iceServers`` form; ValueError says what is
    wrong and where."""
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
        for url in urls:
            _check_url(where, url, entry)
    return servers


def rtc_ice_servers(servers: list[dict]) -> list[RTCIceServer]:
    """The same servers for aiortc's ``RTCConfiguration``."""
    return [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in servers]
