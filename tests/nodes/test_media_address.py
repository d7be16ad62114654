"""``node_media_address`` (docs/nodes.md): the host candidates a node's SDP announces. One of the
machine's own addresses: only its candidates are kept (a multi-homed node hides the others); any other
address (1:1 NAT): every host candidate is announced with it, ports kept. Checked on a real aiortc
description of this machine; the setting takes an IP address only."""

from __future__ import annotations

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from server.config import ConfigError, load_settings
from server.rooms.sdp import CANDIDATE_LINE, announce_address, own_addresses


async def described() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def hosts(sdp: str) -> list[tuple[str, int]]:
    return [
        (m.group(5), int(m.group(6)))
        for m in map(CANDIDATE_LINE.match, sdp.split("\r\n"))
        if m and m.group(7) == "host"
    ]


async def test_a_node_announces_the_address_browsers_reach():
    sdp = await described()
    mine = own_addresses()
    before = hosts(sdp)
    assert before and {a for a, _ in before} <= mine
    chosen = before[0][0]
    only = hosts(announce_address(sdp, chosen, mine))
    assert only == [h for h in before if h[0] == chosen]  # the other interfaces' candidates are gone

    natted = announce_address(sdp, "203.0.113.7", mine)
    assert {a for a, _ in hosts(natted)} == {"203.0.113.7"}
    assert sorted(p for _, p in hosts(natted)) == sorted({p for _, p in before})  # every port, once
    assert "c=IN IP4 203.0.113.7" in natted
    assert announce_address(sdp, "192.0.2.254", mine | {"192.0.2.254"}) == sdp  # own, but no candidate on it


def test_the_setting_takes_an_ip_address():
    assert load_settings(env={}, node_media_address="203.0.113.7").node_media_address == "203.0.113.7"
    with pytest.raises(ConfigError, match="node_media_address"):
        load_settings(env={}, node_media_address="media.example.edu")
    with pytest.raises(ConfigError, match="node_id"):
        load_settings(env={}, node_id="node 1:x")
