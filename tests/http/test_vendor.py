"""The socket.io browser client that scripts/setup.sh installs from the npm registry (pinned; not in git)."""

from pathlib import Path

BUNDLE = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "socket.io.esm.min.js"


async def test_socket_io_client_is_installed_and_served(http):
    assert BUNDLE.is_file(), f"{BUNDLE} is missing: run scripts/setup.sh (it installs socket.io-client with npm)"
    resp = await http.get("/static/vendor/socket.io.esm.min.js")
    assert resp.status == 200 and "javascript" in resp.content_type
    body = await resp.text()
    assert body.startswith("/*!\n * Socket.IO v4.8.4") and "export{" in body.replace(" ", "")
