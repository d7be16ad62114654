"""deploy/nginx/interview.conf in a real nginx, in front of a real node: it passes `nginx -t`; its
request size limits and socket.io timeouts agree with the server's own numbers (read from the
server's settings and its engine.io, so they cannot drift apart); and through it, with TLS, an
outsider cannot reach /metrics, forge their address past the login limits, or get an old TLS, and
the answers carry the server's headers."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import ssl

import crossplane
import pytest
from yarl import URL

from server.config import Settings
from server.http.middleware import POLLING_MAX_BYTES
from server.http.security_headers import HSTS, MEDIA_DENIED, NOT_A_PAGE
from server.signaling.hub import SIO
from server.store.audit import Actor
from tests.conftest import PASSWORD
from tests.deploy import kit

MB = 1024 * 1024
FORM_MARGIN = 64 * 1024  # a multipart form's boundaries and part headers, on top of its files


def size(text: str) -> int:
    """An nginx size: 1m, 512k, 1024."""
    units = {"k": 1024, "m": MB, "g": 1024 * MB}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", text)
    assert match, text
    return int(match[1]) * units[match[2] or "s"]


# --- the configuration as nginx reads it -------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory, tls):
    """The rendered configuration (static files included), parsed; nothing needs to run."""
    rendered = kit.nginx_config(tmp_path_factory.mktemp("parsed"), ["127.0.0.1:1"], *tls, static=True)
    rendered.cleanup()  # never run: no temporary files
    parsed = crossplane.parse(str(rendered.conf))
    assert parsed["status"] == "ok", parsed["errors"]
    (interview,) = [f["parsed"] for f in parsed["config"] if f["file"].endswith("/interview.conf")]
    (https,) = [
        d["block"]
        for d in interview
        if d["directive"] == "server"
        and any(c["directive"] == "server_name" and c["args"] == [kit.SITE] for c in d["block"])
        and any(c["directive"] == "listen" and "ssl" in c["args"] for c in d["block"])
    ]
    return interview, https


def directive(block: list[dict], name: str) -> list[str] | None:
    found = [d["args"] for d in block if d["directive"] == name]
    return found[-1] if found else None


def location_for(server: list[dict], uri: str) -> list[dict]:
    """The location block nginx picks for ``uri``: an exact match, else the longest prefix unless a
    regex (in order) matches, unless that prefix is ``^~``."""
    longest, stop = None, False
    regexes = []
    for d in server:
        if d["directive"] != "location":
            continue
        args = d["args"]
        if args[0] == "=":
            if args[1] == uri:
                return d["block"]
        elif args[0] in ("~", "~*"):
            regexes.append((args[1], d["block"]))
        elif not args[0].startswith("@"):
            prefix = args[-1]
            if uri.startswith(prefix) and (longest is None or len(prefix) > len(longest[0])):
                longest, stop = (prefix, d["block"]), args[0] == "^~"
    if longest and stop:
        return longest[1]
    for pattern, block in regexes:
        if re.search(pattern, uri):
            return block
    assert longest, uri
    return longest[1]


def map_value(http: list[dict], variable: str, value: str) -> str:
    """What an nginx ``map`` gives for ``value``: exact strings first, then regexes in order."""
    (entries,) = [d["block"] for d in http if d["directive"] == "map" and d["args"][1] == variable]
    for entry in entries:
        if entry["directive"] == value:
            return entry["args"][0]
    for entry in entries:
        if entry["directive"].startswith("~") and re.search(entry["directive"][1:], value):
            return entry["args"][0]
    return next(e["args"][0] for e in entries if e["directive"] == "default")


def test_the_configuration_passes_nginx_t(tmp_path, tls):
    """As shipped, and with the optional static files."""
    for static in (False, True):
        rendered = kit.nginx_config(tmp_path / f"static-{static}", ["127.0.0.1:8080"], *tls, static=static)
        result = kit.nginx_check(rendered)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "test is successful" in output and "[warn]" not in output and "[emerg]" not in output, output


# Every route that takes a body larger than a JSON object, the largest body the server accepts there
# (from its settings), and a request to it. The rest take JSON (max_json_bytes) or socket.io's
# long-polling POSTs (engine.io's max_http_buffer_size).
def largest_bodies(settings: Settings, polling_max: int) -> list[tuple[str, str, int | None]]:
    chunk = getattr(settings, "upload_chunk_max_bytes", None)
    return [
        ("JSON and socket.io polling", "/api/auth/login", max(settings.max_json_bytes, polling_max)),
        ("socket.io polling POST", "/socket.io/", polling_max),
        ("roster import (CSV + photo zip)", "/api/admin/exams/e1/roster", settings.max_upload_bytes + MB),
        ("an ID photo", "/api/admin/exams/e1/roster/110101200001010011/photo", settings.max_photo_bytes),
        (
            "an identity appeal's burst",
            "/api/candidate/identity/appeal",
            settings.facecheck_max_frames * settings.facecheck_max_frame_bytes + FORM_MARGIN,
        ),
        ("a tus upload chunk (PATCH)", "/api/candidate/uploads/take_1", chunk),
    ]


async def test_body_limits_match_the_servers(site, app, settings):
    """Each route's nginx limit is the server's largest body there, rounded up to (at most) a megabyte more: nginx
    never refuses what the server would accept (the server says why in the user's language), and
    stops the rest before reading them. nginx's own message names the same limit."""
    interview, https = site
    server_limit = size(directive(https, "client_max_body_size")[0])
    checked = 0
    for what, uri, largest in largest_bodies(settings, app[POLLING_MAX_BYTES]):
        if largest is None:
            continue  # the tus uploads (docs/recorded.md "Upload takes") are on another branch until merged
        limit_args = directive(location_for(https, uri), "client_max_body_size")
        limit = size(limit_args[0]) if limit_args else server_limit
        assert largest <= limit, f"{what} ({uri}): the server takes {largest} bytes, nginx stops at {limit}"
        assert limit - largest <= MB, f"{what} ({uri}): nginx takes {limit} bytes, far more than the server's {largest}"
        assert map_value(interview, "$body_limit_text", uri) == f"{limit // MB} MB", (what, uri)
        checked += 1
    assert checked >= 5
    # the server's own ceiling for a whole body (aiohttp's client_max_size) is what the admin route allows
    assert settings.max_upload_bytes + MB == size(
        directive(location_for(https, "/api/admin/x"), "client_max_body_size")[0]
    )


async def test_socket_timeouts_outlast_engineio_pings(site, app):
    """nginx must not cut a quiet socket.io connection: its read timeout on /socket.io/ is longer than
    engine.io's ping interval plus its ping timeout (the server's own numbers), and a long-polling GET,
    which waits up to the ping interval."""
    _, https = site
    eio = app[SIO].eio
    sockets = location_for(https, "/socket.io/")
    for name in ("proxy_read_timeout", "proxy_send_timeout"):
        assert seconds(directive(sockets, name)[0]) > eio.ping_interval + eio.ping_timeout, name
    assert directive(sockets, "proxy_set_header") is not None
    headers = {tuple(d["args"]) for d in sockets if d["directive"] == "proxy_set_header"}
    assert ("Upgrade", "$http_upgrade") in headers and ("Connection", "$connection_upgrade") in headers
    # a location that sets headers inherits none: the ones the server relies on are repeated
    assert {h[0] for h in headers} >= {"Host", "X-Forwarded-For", "X-Forwarded-Proto"}


def test_sockets_are_spread_over_every_node_by_session(site):
    """Any node takes any socket (it relays a room's signalling to the room's node, docs/nodes.md):
    sockets go to every node, none a backup, by the login session, so that engine.io's long-polling
    requests of one socket reach the same node; without a session cookie, by the client's address."""
    interview, _ = site
    (block,) = [d["block"] for d in interview if d["directive"] == "upstream" and d["args"] == ["interview_sockets"]]
    servers = [d["args"] for d in block if d["directive"] == "server"]
    assert len(servers) == len(kit.NODES) and not any("backup" in s for s in servers)
    assert directive(block, "hash") == ["$socket_affinity", "consistent"]
    (affinity,) = [d for d in interview if d["directive"] == "map" and d["args"][1] == "$socket_affinity"]
    assert affinity["args"][0] == "$cookie_iv_session"
    assert {d["directive"]: d["args"][0] for d in affinity["block"]} == {
        "": "$remote_addr",
        "default": "$cookie_iv_session",
    }


def test_forwarded_for_is_replaced_everywhere(site):
    """X-Forwarded-For is nginx's own $remote_addr wherever a location sets headers: a client's forged
    value never reaches a node (the server believes the last address of the header)."""
    _, https = site
    blocks = [https] + [d["block"] for d in https if d["directive"] == "location"]
    for block in blocks:
        for d in block:
            if d["directive"] == "proxy_set_header" and d["args"][0] == "X-Forwarded-For":
                assert d["args"][1] == "$remote_addr", d


# --- through the running nginx -------------------------------------------------------------------


async def test_metrics_and_the_internal_api_stay_inside(proxy, node, browser_http):
    """/metrics (no session needed) answers on the node, for Prometheus, and under none of its spellings
    through nginx; nor does the nodes' internal API (docs/nodes.md), which nginx answers itself."""
    http = await browser_http()
    async with http.get(f"{node.url}/metrics") as direct:
        assert direct.status == 200 and "iv_http_requests_total" in await direct.text()
    for path in (
        "/metrics",
        "/metrics/",
        "//metrics",
        "/%6Detrics",
        "/metrics?format=text",
        "/./metrics",
        "/static/../metrics",
        "/metrics%3F",
    ):
        async with http.get(URL(proxy.url(path), encoded=True), allow_redirects=False) as answer:
            body = await answer.text()
            assert answer.status == 404, (path, answer.status)
            assert "iv_" not in body, path
    for path in ("/internal/recordings/iv_1/a.webm", "//internal/recordings/iv_1/a.webm", "/%69nternal/x"):
        async with http.get(URL(proxy.url(path), encoded=True), allow_redirects=False) as answer:
            assert answer.status == 404 and "X-Request-Id" not in answer.headers, path  # never reached a node


async def account(services, role: str = "examiner") -> str:
    """An account in the deployment's Redis (made as create-user makes one)."""
    name = f"{role}-{secrets.token_hex(3)}"
    await services.directory.create(role, PASSWORD, Actor("cli", "admin"), name=name, username=name)
    return name


async def test_a_forged_forwarded_for_does_not_escape_the_login_limit(proxy, nodes, deployed_services, browser_http):
    """A guesser at 127.0.0.2 sends a new X-Forwarded-For with every wrong password: the server still
    counts them against 127.0.0.2 (5 per account and address), and logs that address."""
    username = await account(deployed_services)
    http = await browser_http(source="127.0.0.2")
    statuses = []
    for i in range(7):
        async with http.post(
            proxy.url("/api/auth/login"),
            json={"login": username, "password": "wrong-password"},
            headers={"X-Forwarded-For": f"203.0.113.{i}", "Origin": proxy.url("").rstrip("/")},
        ) as answer:
            statuses.append(answer.status)
            body = await answer.json()
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    assert body["error"]["code"] == "login_locked" and re.search(r"[\u4e00-\u9fff]", body["error"]["message"])
    logins = [line for line in kit.logged(nodes) if '"/api/auth/login"' in line and "127.0.0.2" in line]
    assert len(logins) == 7, logins  # every attempt, logged with the guesser's real address
    assert not any("203.0.113." in line for line in kit.logged(nodes))
    # the owner, from another address, still gets in (the pair limit is per address), with a secure cookie
    owner = await browser_http(source="127.0.0.3")
    async with owner.post(
        proxy.url("/api/auth/login"),
        json={"login": username, "password": PASSWORD},
        headers={"Origin": proxy.url("").rstrip("/")},
    ) as answer:
        assert answer.status == 200, await answer.text()
        cookie = answer.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie, cookie


async def test_body_limits_answer_in_the_users_language(proxy, nodes, browser_http):
    """A body over the server's limit but under nginx's: the server's own refusal. Over nginx's: nginx's
    JSON refusal with the limit, in Chinese (English with the lang cookie), the node never asked."""
    http = await browser_http()
    origin = {"Origin": proxy.url("").rstrip("/")}
    oversized_json = b'{"login": "' + b"x" * (64 * 1024) + b'"}'
    async with http.post(
        proxy.url("/api/auth/login"), data=oversized_json, headers={**origin, "Content-Type": "application/json"}
    ) as answer:
        body = await answer.json()
        assert answer.status == 413 and body["error"]["code"] == "body_too_large", body
        assert "上限 64 KB" in body["error"]["message"] and "X-Request-Id" in answer.headers  # the server's
    requests_before = sum('"/api/auth/login"' in line for line in kit.logged(nodes))
    async with http.post(
        proxy.url("/api/auth/login"), data=b"x" * (MB + 1), headers={**origin, "Content-Type": "application/json"}
    ) as answer:
        body = await answer.json()
        assert answer.status == 413 and body == {
            "error": {"code": "body_too_large", "message": "提交的内容过大（上限 1 MB）"}
        }
        assert "Content-Security-Policy" not in answer.headers  # nginx's, not the server's
    async with http.post(
        proxy.url("/api/candidate/identity/appeal"),
        data=b"x" * (5 * MB + 1),
        headers={**origin, "Cookie": "lang=en"},
    ) as answer:
        assert (await answer.json())["error"]["message"] == "Request body too large (limit 5 MB)"
    # a face-check burst (an identity appeal's) of 4.6 MB reaches the server (which wants a login first)
    async with http.post(
        proxy.url("/api/candidate/identity/appeal"), data=b"x" * (4 * MB + 600_000), headers=origin
    ) as answer:
        assert answer.status == 401 and (await answer.json())["error"]["code"] == "login_required"
    await asyncio.sleep(0.2)  # the node's log line follows its answer
    assert sum('"/api/auth/login"' in line for line in kit.logged(nodes)) == requests_before


async def test_http_redirects_to_https_and_strangers_get_nothing(proxy, tls):
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.http_port)
    writer.write(f"GET /login?next=/candidate HTTP/1.1\r\nHost: {kit.SITE}\r\nConnection: close\r\n\r\n".encode())
    head = (await reader.read()).decode()
    writer.close()
    assert head.startswith("HTTP/1.1 301"), head
    assert f"Location: https://{kit.SITE}/login?next=/candidate\r\n" in head
    # another name on port 80: the connection is closed without an answer
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.http_port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert await reader.read() == b""
    writer.close()
    # over TLS for the site, but asking for another host: no answer either
    context = ssl.create_default_context(cafile=str(tls[0]))
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.https_port, ssl=context, server_hostname=kit.SITE)
    writer.write(b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert await reader.read() == b""
    writer.close()
    # TLS for a client that does not name the site (a scanner on the bare address): refused, no certificate shown
    context = ssl.create_default_context(cafile=str(tls[0]))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", proxy.https_port)) as raw:
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME|unrecognized name"):
            context.wrap_socket(raw, server_hostname="scanner.example")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # the old client, on purpose
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"])
def test_only_tls_1_2_and_1_3(proxy, tls, version):
    """What an old phone or scanner offers is refused, even with Debian's nginx.conf allowing TLS 1.0
    and 1.1 for the whole http block (the versions are agreed in the default server)."""
    context = ssl.create_default_context(cafile=str(tls[0]))
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    if version in ("TLSv1", "TLSv1_1"):
        context.set_ciphers("ALL:@SECLEVEL=0")  # what an old client offers; OpenSSL 3 refuses it by default
    with socket.create_connection(("127.0.0.1", proxy.https_port)) as raw:
        if version in ("TLSv1_2", "TLSv1_3"):
            with context.wrap_socket(raw, server_hostname=kit.SITE) as tls_socket:
                assert tls_socket.version() == version.replace("_", ".")
        else:
            with pytest.raises(ssl.SSLError):
                context.wrap_socket(raw, server_hostname=kit.SITE)


SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy",
    "Permissions-Policy",
    "Strict-Transport-Security",
)


async def test_one_hsts_header_and_the_servers_own_headers(proxy, browser_http):
    http = await browser_http()
    async with http.get(proxy.url("/login")) as page:
        assert page.status == 200
        assert page.headers.getall("Strict-Transport-Security") == [HSTS]
        assert "connect-src 'self'" in page.headers["Content-Security-Policy"]  # the server's page policy
        assert page.headers["X-Request-Id"]


async def test_static_files_from_nginx_carry_the_servers_headers(proxy, static_proxy, browser_http):
    """With interview-static.conf nginx serves /static/ itself: the same bytes and the same security
    headers as the node sends for them (the server's constants), plus a revalidation hint."""
    http = await browser_http()
    for path in (
        "/static/js/live.js",
        "/static/css/app.css",
        "/static/favicon.svg",
        "/static/vendor/socket.io.esm.min.js",
    ):
        async with http.get(proxy.url(path)) as from_node, http.get(static_proxy.url(path)) as from_nginx:
            assert from_node.status == from_nginx.status == 200, path
            assert await from_node.read() == await from_nginx.read(), path
            assert "X-Request-Id" in from_node.headers and "X-Request-Id" not in from_nginx.headers  # who answered
            for header in SECURITY_HEADERS:
                assert from_nginx.headers.getall(header) == from_node.headers.getall(header), (path, header)
            assert from_nginx.headers["Content-Security-Policy"] == NOT_A_PAGE
            assert from_nginx.headers["Permissions-Policy"] == MEDIA_DENIED
            assert from_nginx.headers["Cache-Control"] == "no-cache"


async def test_no_node_answers_with_a_message(tmp_path, tls, browser_http):
    """Every node down: a page in Chinese, and for the API the JSON error shape the pages show."""
    site = kit.nginx_config(tmp_path, [f"127.0.0.1:{kit.free_port()}"], *tls)
    with kit.nginx_running(site):
        http = await browser_http()
        async with http.get(site.url("/candidate")) as page:
            assert page.status == 503 and page.headers["Content-Type"].startswith("text/html")
            assert "服务器正在重启或维护" in await page.text()
        async with http.post(site.url("/api/auth/login"), json={}, headers={"Cookie": "lang=en"}) as api:
            body = await api.json()
            assert api.status == 503 and body["error"]["code"] == "server_unavailable"
            assert body["error"]["message"].startswith("The server is restarting")
