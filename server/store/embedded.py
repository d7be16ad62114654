"""A private redis-server for running without REDIS_URL: AOF on, data under a folder, a free port.

While it runs, ``<folder>/server.json`` (mode 0600) says where it answers, so that another
``interview-server`` command on the same data folder (``set-photo`` while the demo runs) uses it
instead of starting a second redis-server on the same append-only file.
"""

from __future__ import annotations

import json
import logging
import os
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


class EmbeddedRedisError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _serves(port: int, folder: Path) -> bool:
    """True when a redis-server on ``port`` answers PING and keeps its data in ``folder``
    (a stale file may name a port that another Redis, for another folder, took since)."""
    client = redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
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
    return info if _serves(port, folder) else None


class EmbeddedRedis:
    """Starts redis-server as a child process; ``stop()`` (or the context manager) ends it."""

    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.persist = persist
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
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
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
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
        """Write ``server.json`` atomically, readable by this user only (it names a password-less Redis)."""
        assert self.proc is not None
        info = {
            "url": self.url,
            "port": self.port,
            "redis_pid": self.proc.pid,
            "owner_pid": os.getpid(),
            "started_at": round(time.time(), 3),
        }
        tmp = self.data_dir / f".{SERVER_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        os.replace(tmp, self.server_file)

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
