"""deploy/'s files run for real: rendered copies for the tests' ports, certificate and folders, and
the processes (redis-server, `interview-server run`, nginx, coturn) started from them.

``render`` replaces the example values each file names in its header (interview.example.edu.cn,
10.0.0.11:8080, ...) and fails when one is gone, so a test cannot go on checking a file it no
longer understands. Every process here is the test's own: its own folder, pid file and free ports
on 127.0.0.1, never a system service."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from server.store.embedded import free_port
from server.tls import self_signed

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SITE = "interview.test"  # the site's name in the tests (interview.example.edu.cn in deploy/)
REDIS_PASSWORD = "test-redis-password"
TURN_SECRET = "test-turn-secret"
NODE_SECRET = "5f" * 32  # 32 bytes in hex, as docs/nodes.md asks
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NODES = ("10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080")  # deploy/'s example nodes


def render(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the file: update tests/deploy/kit.py's rendering"
        text = text.replace(old, new)
    return text


def environment_file(text: str) -> dict[str, str]:
    """A systemd ``EnvironmentFile=``: KEY=value lines; blank lines and ``#`` comments skipped."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(
                    f"{what} exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}"
                ) from None
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} did not open port {port}:\n{log.read_text(errors='replace')[-3000:]}"
                ) from None
            time.sleep(0.05)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the test site (server/tls.py, as the LAN demo makes its own)."""
    return self_signed(folder, [f"DNS:{SITE}", "IP:127.0.0.1"])


# --- Redis ------------------------------------------------------------------------------------------


@dataclass
class Redis:
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[Redis]:
    """redis-server from deploy/redis/redis.conf: only the address, port, password and folder changed."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "redis.conf"
    conf.write_text(
        render(
            (DEPLOY / "redis" / "redis.conf").read_text(),
            {
                "bind 10.0.0.5 127.0.0.1": "bind 127.0.0.1",
                "port 6379": f"port {port}",
                "requirepass CHANGE-ME-long-random-password": f"requirepass {REDIS_PASSWORD}",
                "dir /var/lib/redis": f"dir {folder}",
            },
        )
    )
    log = folder / "redis.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["redis-server", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log, "redis-server")
        yield Redis(port, folder)
    finally:
        stop(process)


# --- the server node --------------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    port: int
    folder: Path  # its own: settings files, log
    shared: Path  # the shared folder (data_dir and recordings_dir), the same for every node
    log: Path
    process: subprocess.Popen
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def logged(nodes: list[Node]) -> list[str]:
    """Every node's log lines (the requests nginx spreads over them)."""
    return [line for node in nodes for line in node.lines()]


def node_settings(
    folder: Path, shared: Path, redis: Redis, public_url: str, port: int, name: str = "node1"
) -> dict[str, str]:
    """The node's environment as systemd gives it: the unit's, common.env, the node's file, with
    server.toml (INTERVIEW_CONFIG) rendered for the test's folders, proxy and site."""
    toml = folder / "server.toml"
    toml.write_text(
        render(
            (DEPLOY / "systemd" / "server.toml").read_text(),
            {
                "https://interview.example.edu.cn": public_url,
                "/srv/interview/data": str(shared / "data"),
                "/srv/interview/recordings": str(shared / "recordings"),
                "/opt/interview-server/models": str(Path(os.environ.get("INTERVIEW_MODELS_DIR") or REPO / "models")),
                'trusted_proxies = ["10.0.0.10"]': 'trusted_proxies = ["127.0.0.1"]',  # nginx runs here
                "turn.example.edu.cn": "127.0.0.1",
            },
        )
    )
    common = render(
        (DEPLOY / "systemd" / "common.env").read_text(),
        {
            "/etc/interview/server.toml": str(toml),
            "CHANGE-ME-long-random-password@10.0.0.5:6379": f"{REDIS_PASSWORD}@127.0.0.1:{redis.port}",
            "INTERVIEW_TURN_SECRET=CHANGE-ME-turn-secret": f"INTERVIEW_TURN_SECRET={TURN_SECRET}",
            "INTERVIEW_NODE_SECRET=CHANGE-ME-node-secret": f"INTERVIEW_NODE_SECRET={NODE_SECRET}",
        },
    )
    node = render(
        (DEPLOY / "systemd" / "node.env").read_text(),
        {
            "INTERVIEW_HOST=10.0.0.11": "INTERVIEW_HOST=127.0.0.1",
            "INTERVIEW_PORT=8080": f"INTERVIEW_PORT={port}",
            "INTERVIEW_NODE_INTERNAL_URL=http://10.0.0.11:8080": f"INTERVIEW_NODE_INTERNAL_URL=http://127.0.0.1:{port}",
        },
    )
    unit = {"INTERVIEW_NODE_ID": name}  # Environment=INTERVIEW_NODE_ID=%i of interview-server@.service
    return unit | environment_file(common) | environment_file(node)


@contextlib.contextmanager
def server_nodes(root: Path, redis: Redis, public_url: str, count: int = 1) -> Iterator[list[Node]]:
    """``count`` `interview-server run` processes as interview-server@node1, @node2 ... start them:
    the unit's environment, nothing else of the test's own (no INTERVIEW_* variable of the shell leaks
    in), one shared folder. Started together, yielded once every one answers /healthz."""
    shared = root / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEW_") and k != "REDIS_URL"}
    nodes: list[Node] = []
    try:
        for i in range(1, count + 1):
            folder = root / f"node{i}"
            folder.mkdir(exist_ok=True)
            port = free_port()
            env = node_settings(folder, shared, redis, public_url, port, name=f"node{i}")
            log = folder / "server.log"
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    [str(Path(sys.executable).with_name("interview-server")), "run"],
                    env=clean | env,
                    cwd=folder,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            nodes.append(Node(f"node{i}", port, folder, shared, log, process, env))
        deadline = time.monotonic() + 120
        for node in nodes:
            wait_for_port(node.port, node.process, node.log, node.name, timeout_s=max(1, deadline - time.monotonic()))
            while not healthy(node.url):  # the face-check pool warms up after the port opens
                alive = node.process.poll() is None
                assert alive and time.monotonic() < deadline, "\n".join(node.lines()[-30:])
                time.sleep(0.2)
        yield nodes
    finally:
        for node in nodes:
            stop(node.process, timeout_s=30)


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --- nginx ------------------------------------------------------------------------------------------


@dataclass
class Nginx:
    folder: Path
    https_port: int
    http_port: int
    conf: Path
    temp: Path  # request bodies and answers in transit: a folder nginx's workers can reach

    def cleanup(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)

    def url(self, path: str = "/") -> str:
        return f"https://{SITE}:{self.https_port}{path}"

    @property
    def access_log(self) -> Path:
        return self.folder / "logs" / "interview.access.log"


def nginx_config(
    folder: Path,
    nodes: list[str],
    cert: Path,
    key: Path,
    static: bool = False,
    ports: tuple[int, int] | None = None,
) -> Nginx:
    """deploy/nginx/interview.conf for the tests (listening on 127.0.0.1, the nodes given, the test
    certificate, logs under ``folder``), inside a main file with the http settings of Debian's nginx.conf.
    ``static``: with deploy/nginx/interview-static.conf included (serving this checkout's web/static)."""
    assert Path(NGINX).exists(), "nginx is missing: `make setup` installs it (scripts/setup.sh)"
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "acme"):
        (folder / sub).mkdir(exist_ok=True)
    # run as root (as in CI), nginx's workers run as `nobody`: they cannot enter pytest's private
    # folders, so the temporary files go to a folder of their own they can reach (as /var/lib/nginx)
    temp = Path(tempfile.mkdtemp(prefix="iv-nginx-"))
    temp.chmod(0o711)
    https_port, http_port = ports or (free_port(), free_port())
    upstreams = {example: nodes[i % len(nodes)] for i, example in enumerate(NODES)}
    site = render(
        (DEPLOY / "nginx" / "interview.conf").read_text(),
        {
            "/etc/letsencrypt/live/interview.example.edu.cn/fullchain.pem": str(cert),
            "/etc/letsencrypt/live/interview.example.edu.cn/privkey.pem": str(key),
            "interview.example.edu.cn": SITE,
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
            "listen 443 ssl default_server;": f"listen 127.0.0.1:{https_port} ssl default_server;",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
            "/var/log/nginx/": f"{folder}/logs/",
            "/var/www/letsencrypt": str(folder / "acme"),
            **upstreams,
            **(
                {"# include /etc/nginx/snippets/interview-static.conf;": f"include {folder}/interview-static.conf;"}
                if static
                else {}
            ),
        },
    )
    (folder / "interview.conf").write_text(site)
    if static:
        (folder / "interview-static.conf").write_text(
            render(
                (DEPLOY / "nginx" / "interview-static.conf").read_text(),
                {"/opt/interview-server/web/static/": f"{REPO}/web/static/"},
            )
        )
    paths = "\n".join(
        f"    {kind}_temp_path {temp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log notice;
events {{ worker_connections 512; }}
http {{
    # Debian 12's /etc/nginx/nginx.conf, whose http block the site file is included into (TLS 1.0 and
    # 1.1 on by default there: the site's servers must turn them off themselves)
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    gzip on;
    access_log off;
{paths}
    include {folder}/interview.conf;
}}
"""
    )
    return Nginx(folder, https_port, http_port, conf, temp)


def nginx_check(site: Nginx) -> subprocess.CompletedProcess:
    """``nginx -t`` on the rendered configuration (its own prefix: nothing of the system's nginx)."""
    try:
        return subprocess.run(
            [NGINX, "-t", "-p", str(site.folder), "-c", str(site.conf), "-e", "stderr"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        site.cleanup()


@contextlib.contextmanager
def nginx_running(site: Nginx) -> Iterator[Nginx]:
    log = site.folder / "logs" / "nginx.out"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [NGINX, "-p", str(site.folder), "-c", str(site.conf), "-e", "stderr"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(site.https_port, process, log, "nginx")
        yield site
    finally:
        stop(process)
        site.cleanup()
