"""Room placement (docs/nodes.md "Placement"): which node holds a room's media, chosen by load when the
room gets its first participant, in one Lua script (``place_room.lua``) so that two nodes asking at
once, or re-homing a dead node's room at once, agree on one node; the choice is the room's claim
(``mediaroom:{room}``, :mod:`server.rooms.claims`), which the chosen node then holds and refreshes.

The rule: among the live nodes that are not draining and below ``node_max_rooms``, those under
``CPU_HIGH_PCT`` first; then the fewest media rooms (counted at once when a room is placed, so a
burst spreads out before the next beats); then the fewest participants; then the asking node itself
(no relay for its sockets); remaining ties in a random order.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from ..store.base import Store

log = logging.getLogger("server.nodes")
CPU_HIGH_PCT = 85.0  # a node above this takes a room only when every node is


@dataclass(frozen=True)
class Home:
    """Where a room's media is: ``process`` (a live node; "" when none), and whether it was chosen now
    (``placed``) in place of ``previous`` (a dead node's process, or "")."""

    process: str
    placed: bool = False
    previous: str = ""


class Placement:
    def __init__(self, store: Store, beat_max_age_s: float, claim_ttl_s: int, process: str = "") -> None:
        self.store = store
        self.process = process  # the asking node
        self.keys = store.keys
        self.beat_max_age_s = beat_max_age_s
        self.claim_ttl_s = claim_ttl_s

    async def _run(self, room_id: str, mode: str) -> list:
        return await self.store.script("place_room")(
            keys=[self.keys.media_owner(room_id), self.keys.nodes()],
            args=[
                self.keys.node(""),
                self.keys.relay(""),
                f"{time.time():.3f}",
                self.beat_max_age_s,
                self.claim_ttl_s,
                mode,
                secrets.token_hex(4),
                CPU_HIGH_PCT,
                self.process,
            ],
        )

    async def place(self, room_id: str) -> Home:
        """The live node holding the room, or the one chosen for it now (``Home("")``: no node can
        take a room: every node is draining, full or dead)."""
        result = await self._run(room_id, "place")
        if result[0] == "held":
            return Home(result[1])
        if result[0] == "placed":
            home = Home(result[1], placed=True, previous=result[2])
            log.info(
                "room re-homed" if home.previous else "room placed",
                extra={"room": room_id, "process_id": home.process, "previous": home.previous or None},
            )
            return home
        log.warning("no node can take the room", extra={"room": room_id})
        return Home("", previous=result[1])

    async def holder(self, room_id: str) -> str:
        """The live node holding the room ("" when none: nobody, or a dead node)."""
        result = await self._run(room_id, "peek")
        return result[1] if result[0] == "held" else ""
