"""The nodes for the school's admin (docs/nodes.md "Observing the nodes"): every registered node with
its load, and draining one for maintenance (audited ``node_drain`` / ``node_undrain``)."""

from __future__ import annotations

from aiohttp import web

from ..config import NODE_ID
from ..errors import UserError
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES
from .routing import Routes

routes = Routes()
ADMIN = ("admin",)
DRAIN_BODY = {"draining": Field("bool")}


@routes.get("/api/admin/nodes", ADMIN)
async def list_nodes(request: web.Request) -> web.Response:
    cluster = request.app[SERVICES].cluster
    nodes = await cluster.registry.nodes()
    return web.json_response({"node_id": cluster.node_id, "nodes": [n.to_json() for n in nodes]})


@routes.post("/api/admin/nodes/{node}/drain", ADMIN)
async def drain(request: web.Request) -> web.Response:
    """``{"draining": true}``: the node takes no new room (its interviews in progress go on); ``false``:
    it takes rooms again. The node reads it at its next beat (within ``process_ttl_s / 3``)."""
    body = check(await read_json(request), DRAIN_BODY)
    cluster = request.app[SERVICES].cluster
    node_id = request.match_info["node"]
    if not NODE_ID.match(node_id) or not any(n.node_id == node_id for n in await cluster.registry.nodes()):
        raise UserError("node_not_found")
    await cluster.registry.set_draining(actor(request), node_id, body["draining"])
    return web.json_response({"node_id": node_id, "draining": body["draining"]})
