"""ICE servers come from configuration only: the setting is checked when it loads, a peer on a
network that blocks UDP reaches the room through TURN over TLS/TCP (a real coturn on loopback),
and with no servers configured the server offers host candidates and contacts nobody."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCIceTransportPolicy, RTCSessionDescription

from server.config import ConfigError, load_settings
from server.rooms.ice import TurnMint, parse_ice_servers, rtc_ice_servers, turn_credentials
from server.rooms.media import MediaRoom
from server.store.embedded import free_port

from .peers import Client, Switchboard, wait_for

TURN_USER, TURN_PASSWORD = "examroom", "turn-secret-1"
TURN_SECRET = "school-turn-rest-secret"


@dataclass
class Turn:
    url: str
    cert: Path
    log: Path

    def servers(self) -> list[dict]:
        return [{"urls": self.url, "username": TURN_USER, "credential": TURN_PASSWORD}]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, as a TURN server on the Internet would have for its name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def turn(tmp_path_factory):
    """coturn listening for TURN over TLS only (no plain UDP/TCP listener), as on port 443 of a
    deployment that must get through firewalls that block UDP."""
    yield from run_coturn(tmp_path_factory, ["--lt-cred-mech", f"--user={TURN_USER}:{TURN_PASSWORD}"])


@pytest.fixture(scope="module")
def rest_turn(tmp_path_factory):
    """coturn with time-limited credentials (``use-auth-secret``), as ``turn_secret`` expects."""
    yield from run_coturn(tmp_path_factory, ["--use-auth-secret", f"--static-auth-secret={TURN_SECRET}"])


def run_coturn(tmp_path_factory, auth: list[str]):
    binary = shutil.which("turnserver")
    assert binary, "coturn's turnserver is missing: `make setup` installs it (scripts/setup.sh)"
    folder = tmp_path_factory.mktemp("turn")
    cert, key = self_signed(folder)
    tls_port = free_port()
    log = folder / "turnserver.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "-n",
                "--no-cli",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                f"--listening-port={free_port()}",
                f"--tls-listening-port={tls_port}",
                "--no-udp",
                "--no-tcp",
                "--no-dtls",
                f"--cert={cert}",
                f"--pkey={key}",
                *auth,
                "--realm=interview.test",
                "--allow-loopback-peers",
                "--log-file=stdout",
                "--simple-log",
                "--verbose",
                f"--pidfile={folder / 'turnserver.pid'}",
                f"--userdb={folder / 'turndb'}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text(errors="replace")[-2000:]
                assert time.monotonic() < deadline, "coturn did not open its TLS port"
                time.sleep(0.1)
        yield Turn(f"turns:127.0.0.1:{tls_port}?transport=tcp", cert, log)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def nominated(pc):
    """The (local, remote) candidates of the pair ICE chose on ``pc``'s one bundled transport."""
    ice = pc.getTransceivers()[0].receiver.transport.transport
    pair = ice._connection._nominated.get(1)
    return None if pair is None else (pair.local_candidate, pair.remote_candidate)


def candidate_types(sdp: str) -> set[str]:
    return {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def test_a_peer_that_cannot_use_udp_reaches_the_room_through_turn_over_tls(turn, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(turn.cert))  # trust the test TURN server's certificate
    servers = rtc_ice_servers(parse_ice_servers(json.dumps(turn.servers())))
    board = Switchboard()
    room = MediaRoom("room-turn", board, ice_servers=servers)
    # the candidate's phone: only relayed candidates, its TURN connection is TLS over TCP
    phone = board.add(
        Client(
            room,
            "cand",
            "candidate",
            color="red",
            config=RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY),
        )
    )
    examiner = board.add(Client(room, "exam", "examiner", color="blue"))
    try:
        await examiner.join()
        offer = await phone.make_offer()
        assert candidate_types(offer) == {"relay"}
        answer = await room.join("cand", "candidate", offer)
        assert "relay" in candidate_types(answer)  # the server's peer allocated on the configured TURN too
        await phone.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

        assert await wait_for(lambda: examiner.received_from().get(("cand", "video"), 0) > 10, 20)
        assert await wait_for(lambda: phone.received_from().get(("exam", "video"), 0) > 10, 20)
        local, _ = nominated(phone.pc)
        assert local.type == "relay" and local.host == "127.0.0.1"
        sessions = [
            line
            for line in turn.log.read_text(errors="replace").splitlines()
            if f"new, realm=<interview.test>, username=<{TURN_USER}>" in line
        ]
        assert sessions and all("method=TLS" in line for line in sessions)
    finally:
        await room.close()
        for client in (phone, examiner):
            await client.close()


async def relayed_call(servers: list[dict], phone_servers: list[dict]) -> bool:
    """A phone that may only relay (``phone_servers``) calls a room whose server peer uses
    ``servers``: True when the examiner receives the phone's video."""
    board = Switchboard()
    room = MediaRoom("room-turn", board, ice_servers=lambda: rtc_ice_servers(servers))
    config = RTCConfiguration(iceServers=rtc_ice_servers(phone_servers), iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    phone = board.add(Client(room, "cand", "candidate", color="red", config=config))
    examiner = board.add(Client(room, "exam", "examiner", color="blue"))
    try:
        await examiner.join()
        offer = await asyncio.wait_for(phone.make_offer(), 15)
        if "relay" not in candidate_types(offer):
            return False  # coturn refused the phone's allocation
        answer = await room.join("cand", "candidate", offer)
        await phone.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return await wait_for(lambda: examiner.received_from().get(("cand", "video"), 0) > 10, 15)
    finally:
        await room.close()
        for client in (phone, examiner):
            await client.close()


async def test_turn_credentials_are_minted_per_participant_and_expire(rest_turn, monkeypatch):
    """Static TURN credentials handed to every socket let anyone relay through the school's TURN
    for ever; with ``turn_secret`` each participant gets coturn REST credentials that run out."""
    monkeypatch.setenv("SSL_CERT_FILE", str(rest_turn.cert))
    written = [{"urls": rest_turn.url}]  # no credentials in the setting: they are minted
    settings = load_settings(env={}, ice_servers=json.dumps(written), turn_secret=TURN_SECRET)
    mint = TurnMint(settings.turn_secret, settings.turn_credential_ttl_s)
    servers = parse_ice_servers(settings.ice_servers, settings.turn_secret)
    phone, other = mint.servers_for(servers, "acc_phone-1"), mint.servers_for(servers, "acc_other-2")
    assert phone[0]["username"].endswith(":acc_phone-1") and phone[0]["credential"] != other[0]["credential"]
    expiry = int(phone[0]["username"].split(":")[0])
    assert abs(expiry - (time.time() + 4 * 3600)) < 5
    assert await relayed_call(mint.servers_for(servers, "server-room"), phone)
    # credentials whose time is up (a token kept after the interview): coturn refuses them
    user, credential = turn_credentials(TURN_SECRET, "acc_phone-1", -60)
    stale = [{"urls": rest_turn.url, "username": user, "credential": credential}]
    assert not await relayed_call(mint.servers_for(servers, "server-room"), stale)
    # and a forged credential (not made with the school's secret) likewise
    user, credential = turn_credentials("guessed-secret", "acc_phone-1", 3600)
    assert not await relayed_call(
        mint.servers_for(servers, "server-room"), [{"urls": rest_turn.url, "username": user, "credential": credential}]
    )


def test_turn_without_credentials_needs_the_secret():
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, ice_servers='[{"urls": "turn:t.example.edu"}]')
    assert "turn_secret" in str(caught.value)


async def test_without_ice_servers_only_host_candidates_are_offered():
    board = Switchboard()
    room = MediaRoom("room-lan", board, ice_servers=[])
    phone = board.add(Client(room, "cand", "candidate"))
    try:
        started = time.monotonic()
        offer = await phone.make_offer()
        answer = await room.join("cand", "candidate", offer)
        assert candidate_types(answer) == {"host"}
        assert time.monotonic() - started < 3  # no STUN server waited for
    finally:
        await room.close()
        await phone.close()
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    "value, complaint",
    [
        ("not json", "not valid JSON"),
        ('{"urls": "stun:x"}', "JSON list"),
        ('[{"url": "stun:x"}]', "urls"),
        ('[{"urls": "stun:x", "password": "p"}]', "unknown keys"),
        ('[{"urls": "http://turn.example.edu"}]', "not a stun:, turn: or turns: URL"),
        ('[{"urls": "turns:t.example.edu:443?transport=udp", "username": "u", "credential": "p"}]', "TCP only"),
        ('[{"urls": "turn:t.example.edu:3478?transport=sctp", "username": "u", "credential": "p"}]', "udp or tcp"),
        ('[{"urls": ["stun:s.example.edu", "turn:t.example.edu"]}]', "username and a credential"),
        ('[{"urls": "stuns:s.example.edu"}]', "stuns: is not supported"),
        ('[{"urls": "stun:s.example.edu?transport=udp"}]', "must not contain transport"),
        ('[{"urls": []}]', "urls"),
        ('[{"urls": "turn:t.example.edu", "username": "u", "credential": 5}]', "credential must be a string"),
    ],
)
def test_a_bad_ice_servers_setting_stops_the_server_with_the_reason(value, complaint):
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, ice_servers=value)
    assert "ice_servers" in str(caught.value) and complaint in str(caught.value)


def test_a_good_ice_servers_setting_is_handed_over_as_written():
    value = json.dumps(
        [
            {"urls": "stun:stun.example.edu:3478"},
            {
                "urls": ["turns:turn.example.edu:443?transport=tcp", "turn:turn.example.edu"],
                "username": "u",
                "credential": "p",
            },
        ]
    )
    assert load_settings(env={}, ice_servers=value).ice_servers == value
    assert parse_ice_servers(value)[1]["urls"][0].startswith("turns:")
    assert parse_ice_servers("  ") == []
