"""The nodes as the domain services see them (``Services.cluster``): this node's entry in the registry,
the shared secret, room placement, the relay and the other nodes' recording files. The beat that keeps
the entry alive, with this process's load, is :class:`server.nodes.node.Node` (started by the server
process, ``server/wiring.py``)."""

from __future__ import annotations

from ..config import Settings
from ..store.base import Store
from .files import RemoteFiles
from .placement import Placement
from .registry import NodeRegistry
from .relay import Relay
from .signing import Signer


class Cluster:
    def __init__(self, store: Store, settings: Settings, process: str) -> None:
        self.process = process
        self.node_id = settings.node_name
        self.signer = Signer(store, settings.node_secret)
        self.registry = NodeRegistry(
            store,
            process,
            settings.node_name,
            settings.node_media_address,
            settings.node_url,
            settings.process_ttl_s,
            settings.node_max_rooms,
        )
        self.placement = Placement(store, settings.process_ttl_s, settings.room_claim_ttl_s, process)
        self.relay = Relay(store, process, self.signer)
        self.files = RemoteFiles(self.registry, self.signer)
