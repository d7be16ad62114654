"""deploy/backup: the Redis backup takes a fresh snapshot of the deployment's Redis (configured from
deploy/redis/redis.conf) that restores into a new redis-server; the recordings backup copies real
recordings and its check finds a changed or missing byte against the manifests' sha256."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import redis as redis_client

from server.rooms.recorder import InterviewRecorder
from server.store.embedded import free_port
from tests.deploy import kit
from tests.rooms.test_recorder import feed

BACKUP = kit.DEPLOY / "backup"


def test_the_deployed_redis_keeps_everything(deploy_redis):
    """redis.conf as deployed: a password, the append-only file fsynced every second, never evicting."""
    with pytest.raises(redis_client.AuthenticationError):
        redis_client.Redis(port=deploy_redis.port).ping()
    client = redis_client.Redis(port=deploy_redis.port, password=kit.REDIS_PASSWORD, decode_responses=True)
    config = {
        k: v
        for key in ("appendonly", "appendfsync", "maxmemory-policy", "save")
        for k, v in client.config_get(key).items()
    }
    assert config == {
        "appendonly": "yes",
        "appendfsync": "everysec",
        "maxmemory-policy": "noeviction",
        "save": "3600 1 300 100 60 10000",
    }
    assert (deploy_redis.folder / "appendonlydir").is_dir()
    client.close()


def test_redis_backup_restores(deploy_redis, tmp_path):
    client = redis_client.Redis(port=deploy_redis.port, password=kit.REDIS_PASSWORD, decode_responses=True)
    marker = f"iv:backup-test:{time.time()}"
    client.set(marker, "预约 booking kept")
    keys = client.dbsize()
    client.close()
    backups = tmp_path / "backups"
    backups.mkdir()
    old = backups / "redis-20000101T000000Z.rdb"
    old.write_bytes(b"an old snapshot")
    os.utime(old, (time.time() - 20 * 86400,) * 2)  # past KEEP_DAYS (14)
    result = subprocess.run(
        [str(BACKUP / "redis-backup.sh")],
        env={
            **os.environ,
            "REDIS_CONF": str(deploy_redis.folder / "redis.conf"),
            "REDIS_PORT": str(deploy_redis.port),
            "BACKUP_DIR": str(backups),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "password" not in result.stdout + result.stderr
    (snapshot,) = backups.glob("redis-*.rdb")
    assert not old.exists()  # retention
    assert (
        subprocess.run(["sha256sum", "-c", snapshot.name + ".sha256"], cwd=backups, capture_output=True).returncode == 0
    )
    assert oct(snapshot.stat().st_mode)[-3:] == "600"

    # restore: a new redis-server started on the copy (as docs/deployment.md "Restore" says) has the data
    port = free_port()
    log = tmp_path / "restored.log"
    with open(log, "wb") as out:
        restored = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(backups), "--dbfilename", snapshot.name),
                *("--appendonly", "no", "--save", ""),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        kit.wait_for_port(port, restored, log, "restored redis")
        client = redis_client.Redis(port=port, decode_responses=True)
        assert client.get(marker) == "预约 booking kept" and client.dbsize() == keys
        client.close()
    finally:
        kit.stop(restored)


def recording(folder, interview_id: str, close: bool = True):
    recorder = InterviewRecorder(folder, interview_id)
    feed(recorder, 2.0)
    if close:
        recorder.close()
    return recorder


def test_recordings_backup_is_checked_against_the_manifests(tmp_path):
    source = tmp_path / "srv"
    recordings = source / "recordings" / "exam_1" / "acc_1"
    recording(recordings / "adm_1", "adm_1")
    running = recording(recordings / "adm_2", "adm_2", close=False)  # still recording when copied
    (recordings / "adm_1" / "playable.webm").write_bytes(b"derived file")  # listed nowhere
    (source / "data" / "photos").mkdir(parents=True)
    target = tmp_path / "backup"
    target.mkdir()
    env = {**os.environ, "SOURCE": str(source)}
    result = subprocess.run(
        [str(BACKUP / "recordings-backup.sh"), str(target)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 recordings: 2 files intact, 0 problems, 2 not closed yet" in result.stdout, result.stdout
    assert "1 files no manifest lists" in result.stdout
    assert (target / "data" / "photos").is_dir()

    # the running recording closes; the next run copies and checks it too
    running.close()
    result = subprocess.run(
        [str(BACKUP / "recordings-backup.sh"), str(target)], env=env, capture_output=True, text=True, timeout=120
    )
    assert "2 recordings: 4 files intact, 0 problems, 0 not closed" in result.stdout, result.stdout

    # one byte changed, one file gone: both named, exit status 1
    copied = sorted((target / "recordings" / "exam_1" / "acc_1" / "adm_1").glob("*-video-*.webm"))[0]
    data = bytearray(copied.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copied.write_bytes(bytes(data))
    gone = sorted((target / "recordings" / "exam_1" / "acc_1" / "adm_2").glob("*-audio-*.webm"))[0]
    gone.unlink()
    check = subprocess.run(
        ["python3", str(BACKUP / "verify_recordings.py"), str(target / "recordings")], capture_output=True, text=True
    )
    assert check.returncode == 1
    assert f"SHA256 {copied}" in check.stdout and f"MISSING {gone}" in check.stdout, check.stdout
