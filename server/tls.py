"""TLS for the server: a given certificate, or a self-signed one for a LAN demo (phones need HTTPS for cameras)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from pathlib import Path

from .config import ConfigError, Settings


def self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    """Make (once) a self-signed certificate for localhost, this machine's name and ``host``."""
    cert, key = folder / "selfsigned.crt", folder / "selfsigned.key"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if not openssl:
        raise ConfigError("tls_self_signed needs the `openssl` command (Debian: apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    names = {"DNS:localhost", "IP:127.0.0.1", f"DNS:{socket.gethostname()}"}
    if host not in ("0.0.0.0", "::", ""):
        names.add(("IP:" if host.replace(".", "").isdigit() else "DNS:") + host)
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
                    "-subj", "/CN=interview-server", "-addext", "subjectAltName=" + ",".join(sorted(names)),
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    if settings.tls_cert:
        cert, key = Path(settings.tls_cert), Path(settings.tls_key)
    else:
        cert, key = self_signed(settings.data_dir / "tls", settings.host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from None
    return context
