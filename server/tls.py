"""TLS for the server: a given certificate, or a self-signed one for a LAN demo (phones need HTTPS for cameras).

The self-signed certificate names localhost, 127.0.0.1, this machine's name and every IPv4 address
of its network interfaces (found with ``ifaddr``, which only reads the interfaces: nothing is sent).
The names are kept next to it (``selfsigned.json``); when they change (another Wi-Fi, a new DHCP
lease) the certificate is made again at the next start.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .config import ConfigError, Settings

log = logging.getLogger(__name__)

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
# interfaces that container and VM tools make on the host (Docker names its networks br-<hex>; a
# bridge someone named br0 is kept): phones on the Wi-Fi cannot reach them
_BRIDGE_PREFIXES = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "cni", "flannel", "podman", "lxcbr", "lxdbr")
Interfaces = Iterable[tuple[str, str]]  # (interface name, IPv4 address)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reachable(address: str) -> bool:
    """An IPv4 address another machine may use: not loopback, link-local (169.254/16) or 0.0.0.0."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def interface_addresses() -> list[tuple[str, str]]:
    """(interface, IPv4 address) of every network interface of this machine (IPv6 ones left out)."""
    import ifaddr

    return [
        (adapter.name, ip.ip) for adapter in ifaddr.get_adapters() for ip in adapter.ips if isinstance(ip.ip, str)
    ]  # ifaddr gives IPv6 addresses as tuples


def _pairs(interfaces: Interfaces | None) -> list[tuple[str, str]]:
    return [(name, ip) for name, ip in (interface_addresses() if interfaces is None else interfaces) if _reachable(ip)]


def lan_addresses(host: str, interfaces: Interfaces | None = None) -> list[str]:
    """The IPv4 addresses a phone on the same network may use to reach a server bound to ``host``:
    ``host`` itself when it is one address, else every interface's (loopback and link-local left out),
    container bridges left out too unless nothing else is left."""
    if host not in WILDCARD_HOSTS:
        return [] if is_loopback(host) else [host]
    pairs = _pairs(interfaces)
    lan = [ip for name, ip in pairs if not name.lower().startswith(_BRIDGE_PREFIXES)]
    return list(dict.fromkeys(lan or [ip for _, ip in pairs]))


def certificate_names(host: str, interfaces: Interfaces | None = None) -> list[str]:
    """subjectAltName entries: localhost, 127.0.0.1, the host name, ``host`` and every interface address."""
    pairs = _pairs(interfaces)
    hostname = socket.gethostname()
    names = {"DNS:localhost", "IP:127.0.0.1", f"DNS:{hostname}"}
    if "." not in hostname:
        names.add(f"DNS:{hostname}.local")  # what phones resolve over mDNS
    if host not in WILDCARD_HOSTS:
        try:
            names.add(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            names.add(f"DNS:{host}")
    names.update(f"IP:{ip}" for _, ip in pairs)
    return sorted(names)


def self_signed(folder: Path, names: list[str]) -> tuple[Path, Path]:
    """The self-signed certificate and key for ``names`` (subjectAltName entries): the one on file when it
    was made for exactly these names, else a new one."""
    cert, key, made_for = folder / "selfsigned.crt", folder / "selfsigned.key", folder / "selfsigned.json"
    try:
        kept = json.loads(made_for.read_text()).get("names")
    except (OSError, ValueError, AttributeError):
        kept = None
    if cert.exists() and key.exists() and kept == sorted(names):
        return cert, key
    openssl = shutil.which("openssl")
    if not openssl:
        raise ConfigError("a self-signed certificate needs the `openssl` command (Debian: apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "825",
            "-subj",
            "/CN=interview-server",
            "-addext",
            "subjectAltName=" + ",".join(sorted(names)),
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"openssl could not make the self-signed certificate: {result.stderr.strip()[-300:]}")
    key.chmod(0o600)
    made_for.write_text(json.dumps({"names": sorted(names)}, indent=2))
    log.info(
        "self-signed certificate made", extra={"path": str(cert), "names": sorted(names), "previous_names": kept or []}
    )
    return cert, key


def ssl_context(settings: Settings, interfaces: Interfaces | None = None) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    if settings.tls_cert:
        cert, key = Path(settings.tls_cert), Path(settings.tls_key)
    else:
        cert, key = self_signed(settings.data_dir / "tls", certificate_names(settings.host, interfaces))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from None
    return context


def for_demo(settings: Settings) -> Settings:
    """``demo`` on a non-loopback host serves HTTPS with the self-signed certificate, since phones give a page
    the camera only over HTTPS; a configured certificate, and plain ``run``, keep their settings."""
    if settings.tls or is_loopback(settings.host):
        return settings
    return settings.replace(tls_self_signed=True)
