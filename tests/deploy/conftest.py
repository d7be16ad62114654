"""One deployment for the kit's tests, started once: redis-server from deploy/redis/redis.conf, an
`interview-server run` node with deploy/systemd's settings (the product's defaults otherwise: the
face-check pool, argon2's cost, the log level), and nginx from deploy/nginx/interview.conf in front
of it with TLS (a self-signed certificate for ``interview.test``), all on 127.0.0.1."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from server.config import load_settings
from server.services import Services
from server.store.base import Store
from server.store.redis import connect
from tests.conftest import fast_settings
from tests.deploy import kit


@pytest.fixture(scope="session")
def tls(tmp_path_factory) -> tuple[Path, Path]:
    return kit.certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def deploy_redis(tmp_path_factory):
    with kit.redis_server(tmp_path_factory.mktemp("redis")) as redis:
        yield redis


@pytest.fixture(scope="session")
def ports() -> tuple[int, int]:
    """nginx's HTTPS and HTTP ports, known before the node starts (its public_url names them)."""
    return kit.free_port(), kit.free_port()


@pytest.fixture(scope="session")
def nodes(tmp_path_factory, deploy_redis, ports):
    """Two server nodes behind nginx: any node takes any socket."""
    with kit.server_nodes(tmp_path_factory.mktemp("nodes"), deploy_redis, f"https://{kit.SITE}:{ports[0]}", 2) as nodes:
        yield nodes


@pytest.fixture(scope="session")
def node(nodes):
    return nodes[0]


@pytest.fixture(scope="session")
def proxy(tmp_path_factory, nodes, tls, ports):
    """nginx in front of the nodes, as deploy/ configures it (without the optional static files)."""
    upstreams = [f"127.0.0.1:{n.port}" for n in nodes]
    site = kit.nginx_config(tmp_path_factory.mktemp("nginx"), upstreams, *tls, ports=ports)
    with kit.nginx_running(site):
        yield site


@pytest.fixture(scope="session")
def static_proxy(tmp_path_factory, node, tls):
    """The same with deploy/nginx/interview-static.conf: nginx serves /static/ itself."""
    site = kit.nginx_config(tmp_path_factory.mktemp("nginx-static"), [f"127.0.0.1:{node.port}"], *tls, static=True)
    with kit.nginx_running(site):
        yield site


@pytest.fixture
async def deployed_services(deploy_redis, node):
    """The domain services on the deployment's Redis and shared folder, to set up what an admin would
    through the admin page (accounts made with the tests' cheap hash: the node verifies any argon2id
    hash by its own parameters)."""
    client = connect(deploy_redis.url)
    yield Services.build(Store(client, "iv:"), fast_settings(node.shared, deploy_redis.url, "iv:"))
    await client.aclose()


@pytest.fixture
def node_settings(node):
    """The node's settings, read as the node reads them (its environment and server.toml)."""
    return load_settings(env=node.env)


class SiteResolver(AbstractResolver):
    """interview.test -> 127.0.0.1, as DNS would answer for the school's name."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        assert host == kit.SITE, host
        return [
            {"hostname": host, "host": "127.0.0.1", "port": port, "family": 2, "proto": 0, "flags": 0}  # AF_INET
        ]

    async def close(self) -> None:
        pass


def client_tls(cert: Path) -> ssl.SSLContext:
    """A client that trusts the test certificate and checks the name, as a phone checks a real one."""
    return ssl.create_default_context(cafile=str(cert))


@pytest.fixture
async def browser_http(tls):
    """``await browser_http(source="127.0.0.2")``: an HTTPS client of the site from that local address."""
    sessions = []

    async def make(source: str = "127.0.0.1") -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(resolver=SiteResolver(), ssl=client_tls(tls[0]), local_addr=(source, 0))
        session = aiohttp.ClientSession(connector=connector)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()
