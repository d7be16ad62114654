"""A private redis-server for running without REDIS_URL: AOF on, data under a folder, a free port.

While it runs, ``<folder>/server.json`` (mode 0600) says where it answers, so that another
``interview-server`` command on the same data folder (``set-photo`` while the demo runs) uses it
instead of starting a second redis-server on the same append-only file.

It asks for a password (``requirepass``): a random one kept in ``<folder>/redis.secret`` (0600) and
handed to redis-server in a config file of the same mode, never on its command line (which every
local user can read in ``ps``). Loopback is shared by every user of the machine.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "redis-server was not found. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`, "
    "macOS: `brew install redis`) or point REDIS_URL at a running Redis."
)


SERVER_FILE = "server.json"
SECRET_FILE = "redis.secret"
CONFIG_FILE = "redis.conf"


def _private_write(path: Path, text: str) -> None:
    """Write ``path`` atomically, readable by this user only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def redis_password(folder: Path) -> str:
    """The embedded Redis's password for ``folder``: made once, then read back."""
    path = Path(folder) / SECRET_FILE
    try:
        value = path.read_text().strip()
        if value:
            return value
    except OSError:
        pass
    value = secrets.token_urlsafe(24)
    _private_write(path, value + "\n")
    return value


class EmbeddedRedisError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _serves(port: int, folder: Path, password: str | None) -> bool:
    """True when a redis-server on ``port`` answers PING and keeps its data in ``folder``
    (a stale file may name a port that another Redis, for another folder, took since)."""
    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        password=password,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )  # a refused connection is the answer: no retries
    try:
        client.ping()
        return Path(client.config_get("dir").get("dir", "")) == folder.resolve()
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(data_dir: Path) -> dict | None:
    """What ``server.json`` says about the embedded redis-server running on ``data_dir``
    (url, port, pids), or None when there is none that answers."""
    folder = Path(data_dir)
    try:
        info = json.loads((folder / SERVER_FILE).read_text())
        port = int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if _serves(port, folder, info.get("password")) else None


def _read_replies(sock: socket.socket, count: int) -> bytes:
    """Up to ``count`` reply lines (each ends in CRLF), or what came before the socket went quiet."""
    data = b""
    while data.count(b"\r\n") < count:
        chunk = sock.recv(256)
        if not chunk:
            break
        data += chunk
    return data


class EmbeddedRedis:
    """Starts redis-server as a child process; ``stop()`` (or the context manager) ends it."""

    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.persist = persist
        self.proc: subprocess.Popen | None = None
        self.password = ""

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        binary = shutil.which("redis-server")
        if not binary:
            raise EmbeddedRedisError(INSTALL_HINT)
        other = running_server(self.data_dir)
        if other:  # two servers on one append-only file would corrupt it
            owner, child = other.get("owner_pid"), other.get("redis_pid", "?")
            if isinstance(owner, int) and not _alive(owner):
                raise EmbeddedRedisError(
                    f"a redis-server (pid {child}, port {other['port']}) still runs on {self.data_dir}, left by an "
                    f"interview-server that is gone: stop it (`kill {child}`) and start again"
                )
            raise EmbeddedRedisError(
                f"another interview-server (pid {owner or '?'}) already runs the embedded Redis of "
                f"{self.data_dir} on port {other['port']}: stop it first, or use another --data-dir"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.password = redis_password(self.data_dir)
        config = self.data_dir / CONFIG_FILE
        _private_write(config, f"requirepass {self.password}\n")
        args = [
            binary,
            str(config.resolve()),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--dir",
            str(self.data_dir.resolve()),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persist else "no",
            "--appendfsync",
            "everysec",
            "--logfile",
            "redis.log" if self.persist else "",
            "--daemonize",
            "no",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() or b"").decode(errors="replace").strip() if self.proc.stderr else ""
                raise EmbeddedRedisError(
                    f"redis-server exited at start (code {self.proc.returncode}): {err or 'see ' + str(self.data_dir / 'redis.log')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                    if b"+PONG" in _read_replies(s, 2):
                        self._publish()
                        log.info("embedded redis started", extra={"port": self.port, "data_dir": str(self.data_dir)})
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} within {timeout_s:.0f} s")

    @property
    def server_file(self) -> Path:
        return self.data_dir / SERVER_FILE

    def _publish(self) -> None:
        """Write ``server.json`` atomically, readable by this user only (it holds the password)."""
        assert self.proc is not None
        info = {
            "url": self.url,
            "port": self.port,
            "password": self.password,
            "redis_pid": self.proc.pid,
            "owner_pid": os.getpid(),
            "started_at": round(time.time(), 3),
        }
        _private_write(self.server_file, json.dumps(info))

    def _unpublish(self) -> None:
        """Remove ``server.json`` if it still describes this server (not one started after it)."""
        try:
            info = json.loads(self.server_file.read_text())
        except (OSError, ValueError):
            return
        if self.proc and info.get("redis_pid") == self.proc.pid:
            self.server_file.unlink(missing_ok=True)

    def stop(self) -> None:
        self._unpublish()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            log.info("embedded redis stopped", extra={"port": self.port})
        self.proc = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
