"""deploy/coturn/turnserver.conf in a real coturn: a participant whose network allows only TLS gets a
relay with the time-limited credentials the server mints (the same secret on both sides), and that
relay reaches a media node and nothing else (another private address, the internet, another loopback
address); expired or forged credentials get no relay."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import time

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from server.rooms.ice import turn_credentials
from tests.deploy import kit

pytestmark = pytest.mark.skipif(not shutil.which("turnserver"), reason="coturn is not installed (scripts/setup.sh)")


@pytest.fixture(scope="module")
def coturn(tmp_path_factory, tls):
    folder = tmp_path_factory.mktemp("coturn")
    port, tls_port = kit.free_port(), kit.free_port()
    conf = folder / "turnserver.conf"
    conf.write_text(
        kit.render(
            (kit.DEPLOY / "coturn" / "turnserver.conf").read_text(),
            {
                "listening-ip=203.0.113.20\nlistening-ip=10.0.0.20\n": "listening-ip=127.0.0.1\n",
                "listening-port=3478": f"listening-port={port}",
                "tls-listening-port=443": f"tls-listening-port={tls_port}",
                "relay-ip=10.0.0.20": "relay-ip=127.0.0.1",
                "static-auth-secret=CHANGE-ME-turn-secret": f"static-auth-secret={kit.TURN_SECRET}",
                "cert=/etc/coturn/certs/fullchain.pem": f"cert={tls[0]}",
                "pkey=/etc/coturn/certs/privkey.pem": f"pkey={tls[1]}",
                # the media node is 127.0.0.1 here: the one loopback address it may relay to (coturn
                # refuses every loopback peer unless told; the other rules stay as deployed)
                "allowed-peer-ip=10.0.0.11-10.0.0.13": "allowed-peer-ip=127.0.0.1\nallow-loopback-peers",
                "\nsyslog\n": f"\nlog-file={folder}/turn.log\n",
            },
        )
    )
    log = folder / "turnserver.out"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["turnserver", "-c", str(conf), f"--pidfile={folder}/turn.pid", f"--userdb={folder}/turndb"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        kit.wait_for_port(tls_port, process, log, "coturn")
        yield tls_port
    finally:
        kit.stop(process)


class Echo(asyncio.DatagramProtocol):
    """A media node's UDP socket: sends back what it gets, and remembers it."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.got.append(data)
        self.transport.sendto(data, addr)


class Phone(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr) -> None:
        self.got.put_nowait((data, addr))


async def relay(port: int, cert, username: str, password: str):
    """A TURN allocation over TLS (a `turns:` URL), as a browser behind a firewall makes it."""
    context = ssl.create_default_context(cafile=str(cert))
    return await create_turn_endpoint(Phone, ("127.0.0.1", port), username, password, ssl=context, transport="tcp")


async def listen(host: str) -> tuple[asyncio.DatagramTransport, Echo]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(Echo, local_addr=(host, 0))


async def test_minted_credentials_relay_to_the_node_only(coturn, tls):
    node_transport, node = await listen("127.0.0.1")
    other_transport, other = await listen("127.0.0.2")  # any other address: loopback, private or public
    username, password = turn_credentials(kit.TURN_SECRET, "acc_candidate1", 3600)
    transport, phone = await relay(coturn, tls[0], username, password)
    try:
        node_addr = node_transport.get_extra_info("sockname")
        transport.sendto(b"media for the node", node_addr)
        data, source = await asyncio.wait_for(phone.got.get(), 5)
        assert data == b"media for the node" and source == node_addr
        for peer in (other_transport.get_extra_info("sockname"), ("10.0.0.5", 6379), ("8.8.8.8", 53)):
            transport.sendto(b"anywhere else", peer)
        await asyncio.sleep(1)
        assert other.got == [] and phone.got.empty()
        assert node.got == [b"media for the node"]
    finally:
        transport.close()
        node_transport.close()
        other_transport.close()


@pytest.mark.parametrize("case", ["expired", "another secret"])
async def test_expired_or_forged_credentials_get_no_relay(coturn, tls, case):
    if case == "expired":  # a token kept after the interview (turn_credential_ttl_s past)
        username, password = turn_credentials(kit.TURN_SECRET, "acc_candidate1", 3600, now=time.time() - 7200)
    else:
        username, password = turn_credentials("guessed-secret", "acc_candidate1", 3600)
    with pytest.raises(stun.TransactionFailed) as refused:
        transport, _ = await relay(coturn, tls[0], username, password)
        with contextlib.suppress(Exception):
            transport.close()
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401
