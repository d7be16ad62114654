"""The embedded Redis asks for a password that no other local user can read."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from server.store.embedded import EmbeddedRedis


def test_the_embedded_redis_needs_its_password_and_keeps_it_private(tmp_path):
    with EmbeddedRedis(tmp_path / "redis", persist=False) as server:
        stranger = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):  # another local user, no password
            stranger.ping()
        stranger.close()
        owner = redis.Redis.from_url(server.url, socket_timeout=2)
        assert owner.ping()
        owner.close()
        folder = Path(tmp_path / "redis")
        for name in ("redis.secret", "redis.conf", "server.json"):
            assert (folder / name).stat().st_mode & 0o777 == 0o600, name
        assert server.proc is not None
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().decode()
        assert server.password not in cmdline  # `ps` shows the command line to every user
    # the next start on the same folder keeps the same password (the AOF's clients keep working)
    again = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    try:
        assert again.password == server.password
    finally:
        again.stop()
