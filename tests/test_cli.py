"""The ``interview-server`` command as a newcomer meets it: demo, clear start-up errors, roster import."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.store.embedded import EmbeddedRedis, free_port, running_server
from tests.conftest import ADMIN, fast_settings, jpeg

BIN = str(Path(sys.executable).with_name("interview-server"))


def run(args, env=None, timeout=60):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEW_") and k != "REDIS_URL"}
    full_env.update(env or {})
    return subprocess.run([BIN, *args], env=full_env, capture_output=True, text=True, timeout=timeout)


def start_demo(data_dir, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEW_") and k != "REDIS_URL"}
    proc = subprocess.Popen(
        [BIN, "demo", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(" Stop with Ctrl+C"):
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("demo did not start:\n" + "".join(lines) + proc.stderr.read())


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def post_json(url, body, cookie=None):
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})},
    )
    return urllib.request.urlopen(req, timeout=10)


def test_demo_prints_every_login_serves_them_and_keeps_data_across_restarts(tmp_path):
    port = free_port()
    proc, out = start_demo(tmp_path / "data", port)
    try:
        base = f"http://127.0.0.1:{port}"
        for path in ("/login", "/examiner", "/proctor", "/admin"):
            assert base + path in out
        exam_id = re.search(r"demo exam (exam_\w+)", out).group(1)
        admin_pw = re.search(r"login admin1\s+password (\S+)", out).group(1)
        with urllib.request.urlopen(base + "/healthz", timeout=10) as resp:
            assert json.load(resp)["status"] == "ok"
        resp = post_json(base + "/api/auth/login", {"login": "admin1", "password": admin_pw})
        cookie = resp.headers["Set-Cookie"].split(";")[0]
        req = urllib.request.Request(base + f"/api/admin/exams/{exam_id}", headers={"Cookie": cookie})
        exam = json.load(urllib.request.urlopen(req, timeout=10))
        assert [s["name"] for s in exam["subjects"]] == ["声乐", "器乐", "才艺展示"] and len(exam["slots"]) == 16
        cand_phone = re.search(r"login (1\d{10})\s+password (\S+)", out)
        post_json(base + "/api/auth/login", {"login": cand_phone.group(1), "password": cand_phone.group(2)})
        server_file = tmp_path / "data" / "redis" / "server.json"  # where other commands find this Redis
        assert server_file.stat().st_mode & 0o777 == 0o600 and running_server(server_file.parent)
    finally:
        stop(proc)
    assert (tmp_path / "data" / "redis" / "appendonlydir").is_dir()  # AOF on
    assert not server_file.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)

    proc, again = start_demo(tmp_path / "data", port)
    try:
        assert f"demo exam {exam_id}" in again and admin_pw in again
    finally:
        stop(proc)


def test_missing_redis_server_binary_says_how_to_install(tmp_path):
    python_dir = str(Path(sys.executable).parent)
    result = run(["run", "--data-dir", str(tmp_path), "--port", str(free_port())], env={"PATH": python_dir})
    assert result.returncode == 2
    assert "apt-get install redis-server" in result.stderr and "REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_redis_url_is_one_clear_line(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run(["run", "--port", str(free_port())], env={"REDIS_URL": url})
    assert result.returncode == 2
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr


def test_bad_setting_is_refused_with_its_name(tmp_path):
    result = run(["config"], env={"INTERVIEW_PORT": "eighty"})
    assert result.returncode == 2 and "'port'" in result.stderr
    config = tmp_path / "server.toml"
    config.write_text("port = 9000\nnot_a_setting = 1\n")
    result = run(["--config", str(config), "config"])
    assert result.returncode == 2 and "not_a_setting" in result.stderr
    config.write_text('[server]\nport = 9001\nlog_format = "text"\n')
    result = run(["--config", str(config), "config"], env={"INTERVIEW_LOG_FORMAT": "json"})
    assert result.returncode == 0
    assert re.search(r"^port\s+INTERVIEW_PORT\s+9001", result.stdout, re.M)
    assert re.search(r"^log_format\s+INTERVIEW_LOG_FORMAT\s+'json'", result.stdout, re.M)  # env wins over file


async def test_import_roster_command_prints_the_row_report(tmp_path, services, redis_url, prefix):
    now = time.time()
    exam = await services.catalog.create_exam(
        ADMIN,
        school="学院",
        name="考试",
        booking_opens=now,
        booking_closes=now + 60,
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
    from server.roster import idcard

    good = idcard.make("110101", "20060101", 1)
    (tmp_path / "photos").mkdir()
    from tests.conftest import jpeg

    (tmp_path / "photos" / f"{good}.jpg").write_bytes(jpeg())
    csv = tmp_path / "roster.csv"
    csv.write_bytes(f"姓名,身份证号,报考科目\n甲,{good},声乐\n乙,{good[:17]}0,声乐\n".encode("gbk"))
    env = {"REDIS_URL": redis_url, "INTERVIEW_REDIS_PREFIX": prefix, "INTERVIEW_DATA_DIR": str(tmp_path / "d")}
    result = run(["import-roster", "--exam", exam.id, "--csv", str(csv), "--photos", str(tmp_path / "photos")], env=env)
    assert result.returncode == 1, result.stderr  # one row rejected
    assert "imported 1, updated 0, rejected 1" in result.stdout
    assert "校验位" in result.stdout
    assert [e.id_number for e in await services.roster.entries(exam.id)] == [good]
    result = run(["import-roster", "--exam", "exam_nope", "--csv", str(csv)], env=env)
    assert result.returncode == 2 and "考试不存在" in result.stderr


def test_create_user_command(tmp_path, redis_url, prefix, redis):
    env = {"REDIS_URL": redis_url, "INTERVIEW_REDIS_PREFIX": prefix}
    result = run(["create-user", "--role", "admin", "--username", "root-admin", "--password", "abc12345"], env=env)
    assert result.returncode == 0 and "created admin" in result.stdout
    result = run(["create-user", "--role", "admin", "--username", "root-admin", "--password", "abc12345"], env=env)
    assert result.returncode == 2 and "用户名已存在" in result.stderr


def portraits():
    """Two public-domain portraits from the test extras (tests/facecheck/faces.py uses the same)."""
    matplotlib = pytest.importorskip("matplotlib")
    skimage = pytest.importorskip("skimage")
    return (
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
        Path(skimage.__file__).parent / "data" / "astronaut.png",
    )


async def test_set_photo_replaces_the_demo_photo_through_the_running_embedded_redis(tmp_path, models_dir):
    """set-photo beside a running demo: it finds the demo's embedded Redis (server.json) instead of starting a
    second redis-server on the same files, checks the photo's face and replaces the roster row's photo."""
    import hashlib

    from server.app import create_app
    from server.demo import CANDIDATES, demo_id_number, seed_demo
    from server.http.context import SERVICES
    from server.store.redis import connect

    hopper, astronaut = portraits()
    number = demo_id_number(CANDIDATES[0][2])
    data = tmp_path / "data"
    env = {"INTERVIEW_MODELS_DIR": str(models_dir)}
    with EmbeddedRedis(data / "redis", persist=False) as server:  # the demo's Redis, as `demo` starts it
        client = connect(server.url)
        try:
            settings = fast_settings(tmp_path, server.url, "iv:")
            services = create_app(settings, client)[SERVICES]
            demo = await seed_demo(services, settings)

            def row():
                return services.roster.entry(demo["exam_id"], number)

            assert (await row()).photo_sha256 == hashlib.sha256(hopper.read_bytes()).hexdigest()

            result = run(["set-photo", str(astronaut), "--data-dir", str(data)], env=env)
            assert result.returncode == 0, result.stderr
            new_sha = hashlib.sha256(astronaut.read_bytes()).hexdigest()
            assert (await row()).photo_sha256 == new_sha and f"sha256 {new_sha}" in result.stdout
            assert "one face found" in result.stdout and "张小艺" in result.stdout
            assert "using the running embedded redis" in result.stderr
            assert "embedded redis started" not in result.stderr
            assert services.photos.path(new_sha)  # stored by sha256 where the demo reads photos

            flat = tmp_path / "flat.jpg"
            flat.write_bytes(jpeg())
            result = run(["set-photo", str(flat), "--data-dir", str(data), "--lang", "en"], env=env)
            assert result.returncode == 1 and "No face found in the ID photo" in result.stderr
            assert (await row()).photo_sha256 == new_sha  # a refused photo changes nothing
            result = run(["set-photo", str(astronaut), "--data-dir", str(data), "--id-number", "110101200001010000"])
            assert result.returncode == 2 and "考生" in result.stderr and "Traceback" not in result.stderr
            result = run(["set-photo", str(tmp_path / "missing.jpg"), "--data-dir", str(data)])
            assert result.returncode == 2 and "photo not found" in result.stderr

            # a second server on the same Redis files is refused, with what to do
            result = run(["run", "--data-dir", str(data), "--port", str(free_port())])
            assert result.returncode == 2 and "already runs the embedded Redis" in result.stderr
        finally:
            await client.aclose()
    assert not (data / "redis" / "server.json").exists()


def test_a_stale_or_foreign_server_file_is_not_used(tmp_path, redis_url):
    """A server.json left by a killed demo, or naming a Redis of another folder: the command starts its own."""
    from urllib.parse import urlsplit

    folder = tmp_path / "redis"
    folder.mkdir()
    for port in (urlsplit(redis_url).port, free_port()):  # another folder's Redis; nobody there
        (folder / "server.json").write_text(json.dumps({"url": f"redis://127.0.0.1:{port}/0", "port": port}))
        assert running_server(folder) is None
    photo = tmp_path / "me.jpg"
    photo.write_bytes(jpeg())
    result = run(["set-photo", str(photo), "--data-dir", str(tmp_path)], env={"INTERVIEW_FACECHECK_WORKERS": "0"})
    assert result.returncode == 2 and "no demo exam in this Redis" in result.stderr
    assert "embedded redis started" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_tells_every_socket_to_reconnect_and_exits_quickly(redis_url, prefix, redis):
    """A real ``interview-server run`` holding 200 real socket.io clients: SIGTERM -> every client gets
    ``server:restarting`` and a clean disconnect from the server, and the process exits within seconds."""
    from bench.shutdown import run as measure

    figures = measure(200, 1, redis_url, prefix, free_port())  # its keys go with the redis fixture's
    assert figures["connected"] == 200
    assert figures["clients_told"] == 200
    assert figures["clients_disconnected"] == 200
    assert figures["exit_code"] == 0
    assert figures["stop_s"] < 5.0, figures
