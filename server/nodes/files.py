"""Recordings from any node (docs/nodes.md "Recordings"): a file written on another node is fetched from
that node's internal URL (``node_internal_url``) with a signed request, the asker's ``Range`` passed
through, so a ``<video>`` played from any node can seek without the file being copied first.

The signature: hex HMAC-SHA256(node secret, ``"GET\\n" + path + "\\n" + expires + "\\n" + node id``) in
``X-Node-Signature``, with ``X-Node-Id`` and ``X-Node-Expires`` (epoch seconds, at most
``MAX_AHEAD_S`` ahead); :func:`check` is the serving side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp

from ..errors import UserError
from .registry import NodeRegistry
from .signing import Signer

log = logging.getLogger("server.nodes")
PREFIX = "/internal/recordings"
MAX_AHEAD_S = 60  # a signed request is valid at most this long
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 30.0  # between two chunks of a file
CHUNK = 256 * 1024


def path_of(interview_id: str, name: str) -> str:
    return f"{PREFIX}/{quote(interview_id, safe='')}/{quote(name, safe='')}"


def _text(path: str, expires: int, node_id: str) -> str:
    return f"GET\n{path}\n{expires}\n{node_id}"


async def check(signer: Signer, path: str, headers) -> str:
    """The asking node's id, if the request is signed, unexpired and not too far ahead; else ``UserError``
    ``node_forbidden`` (403)."""
    node_id = headers.get("X-Node-Id", "")
    try:
        expires = int(headers.get("X-Node-Expires", ""))
    except ValueError:
        raise UserError("node_forbidden") from None
    now = time.time()
    if not node_id or expires < now or expires > now + MAX_AHEAD_S + 5:
        raise UserError("node_forbidden")
    if not await signer.valid(_text(path, expires, node_id), headers.get("X-Node-Signature")):
        raise UserError("node_forbidden")
    return node_id


class RemoteFiles:
    """Files of other nodes, by node id (looked up in the registry: its live process's internal URL)."""

    def __init__(self, registry: NodeRegistry, signer: Signer) -> None:
        self.registry = registry
        self.signer = signer
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        return self._session

    async def _signed(self, path: str) -> dict:
        expires = int(time.time()) + MAX_AHEAD_S
        node_id = self.registry.node_id
        return {
            "X-Node-Id": node_id,
            "X-Node-Expires": str(expires),
            "X-Node-Signature": await self.signer.sign(_text(path, expires, node_id)),
        }

    async def open(self, node_id: str, interview_id: str, name: str, range_header: str | None = None):
        """The node's answer for the file (an open ``aiohttp.ClientResponse``: the caller streams it and
        releases it). ``UserError`` ``recording_node_offline`` (503) when no live process of that node
        answers, ``not_found`` when it does not hold the file."""
        info = await self.registry.live_node(node_id)
        if info is None or not info.url:
            raise UserError("recording_node_offline", node=node_id)
        path = path_of(interview_id, name)
        headers = await self._signed(path)
        if range_header:
            headers["Range"] = range_header
        try:
            response = await self._client().get(info.url + path, headers=headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("recording fetch failed", extra={"node": node_id, "file": name, "error": str(exc)})
            raise UserError("recording_node_offline", node=node_id) from None
        if response.status in (200, 206):
            return response
        response.release()
        if response.status == 416:
            raise UserError("range_not_satisfiable")
        log.warning("recording fetch refused", extra={"node": node_id, "file": name, "status": response.status})
        raise UserError("not_found")

    async def download(self, node_id: str, interview_id: str, name: str, dest: Path) -> int:
        """Copy the whole file into ``dest`` (written to a temporary name, then renamed); its size."""
        response = await self.open(node_id, interview_id, name)
        tmp = dest.with_name(f".{dest.name}.part")
        size = 0
        try:
            with tmp.open("wb") as fh:
                async for chunk in response.content.iter_chunked(CHUNK):
                    await asyncio.to_thread(fh.write, chunk)
                    size += len(chunk)
            tmp.replace(dest)
        finally:
            response.release()
            tmp.unlink(missing_ok=True)
        return size

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
