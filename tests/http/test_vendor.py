"""The socket.io browser client that scripts/setup.sh installs from the npm registry (pinned; not in git)."""

from pathlib import Path

BUNDLE = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "socket.io.esm.min.js"


async def test_socket_io_client_is_installed_and_served(http):
    assert BUNDLE.is_file(), f"{BUNDLE} is missing: run scripts/setup.sh (it installs socket.io-client with npm)"
    resp = await http.get("/static/vendor/socket.io.esm.min.js")
    assert resp.status == 200 and "javascript" in resp.content_type
    body = await resp.text()
    assert body.startswith("/*!\n * Socket.IO v4.8.4") and "export{" in body.replace(" ", "")


TUS = BUNDLE.with_name("tus.min.js")


async def test_tus_client_is_installed_pinned_and_served(http):
    """tus-js-client 4.3.1's UMD bundle (the page's resumable upload, docs/recorded.md "Upload takes")."""
    import hashlib

    assert TUS.is_file(), f"{TUS} is missing: run scripts/setup.sh (it installs tus-js-client with npm)"
    digest = hashlib.sha256(TUS.read_bytes()).hexdigest()
    assert digest == "8cbb1b63fccc3bba0ae73ad1deb160ce046c3750851d0c3e94921ae3ef070eb8"
    resp = await http.get("/static/vendor/tus.min.js")
    assert resp.status == 200 and "javascript" in resp.content_type
    assert ".tus=" in await resp.text()
