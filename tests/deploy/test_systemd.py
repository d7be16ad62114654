"""deploy/systemd/interview-server@.service: systemd accepts it (`systemd-analyze verify`, every key
known), it lets the server write exactly where its settings say it writes, waits longer than the
server's own bounded shutdown before killing it, and reads the settings files the kit ships."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from server.config import Settings
from server.signaling.hub import RESTART_CLOSE_S
from tests.deploy import kit

UNIT = kit.DEPLOY / "systemd" / "interview-server@.service"
ANALYZE = shutil.which("systemd-analyze")


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


@pytest.mark.skipif(not ANALYZE, reason="systemd-analyze is not installed (Debian: the systemd package)")
def test_systemd_accepts_the_unit(tmp_path):
    """`systemd-analyze verify` on an instance (node1); the binary is this checkout's."""
    binary = Path(sys.executable).with_name("interview-server")
    (tmp_path / UNIT.name).write_text(
        kit.render(UNIT.read_text(), {"/opt/interview-server/.venv/bin/interview-server": str(binary)})
    )
    result = subprocess.run(
        [ANALYZE, "verify", str(tmp_path / "interview-server@node1.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
    security = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(tmp_path / UNIT.name)], capture_output=True, text=True, timeout=60
    )
    level = [line for line in security.stdout.splitlines() if "Overall exposure level" in line]
    print(level)  # 1.7 "OK" with systemd 252 (10 = no hardening at all)
    assert level and float(level[0].split(":")[1].split()[0]) < 3, security.stdout[-2000:]


def test_the_unit_fits_the_server_and_the_kits_settings():
    service = unit()["Service"]
    settings = tomllib.loads((kit.DEPLOY / "systemd" / "server.toml").read_text())["server"]
    # it may write exactly the folders the server writes into
    assert set(service["ReadWritePaths"].split()) == {settings["data_dir"], settings["recordings_dir"]}
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    # SIGTERM first; the kill only long after the server's bounded shutdown (sockets told and closed
    # within RESTART_CLOSE_S, then the recordings closed), and after a node's drain (docs/nodes.md:
    # TimeoutStopSec >= node_drain_s + 30, the drain the kit sets, or the server's default)
    common = kit.environment_file((kit.DEPLOY / "systemd" / "common.env").read_text())
    drain_s = max(int(common["INTERVIEW_NODE_DRAIN_S"]), int(getattr(Settings(), "node_drain_s", 0)))
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) >= max(3 * RESTART_CLOSE_S, drain_s + 30)
    assert int(service["LimitNOFILE"]) >= 65536
    # the settings files it names are the kit's own, and common.env points at server.toml
    files = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith("EnvironmentFile=")]
    assert files == ["/etc/interview/common.env", "/etc/interview/%i.env"]
    assert common["INTERVIEW_CONFIG"] == "/etc/interview/server.toml"
    assert set(common) >= {"REDIS_URL", "INTERVIEW_TURN_SECRET"}
    node = kit.environment_file((kit.DEPLOY / "systemd" / "node.env").read_text())
    assert set(node) >= {
        "INTERVIEW_HOST",
        "INTERVIEW_PORT",
        "INTERVIEW_NODE_INTERNAL_URL",
        "INTERVIEW_NODE_MEDIA_ADDRESS",
    }
    assert node["INTERVIEW_NODE_INTERNAL_URL"] == f"http://{node['INTERVIEW_HOST']}:{node['INTERVIEW_PORT']}"
    # each node is named after its instance (node_id: stable across restarts, unique)
    assert "Environment=INTERVIEW_NODE_ID=%i" in UNIT.read_text().splitlines()
