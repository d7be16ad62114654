"""The ICE servers of the setting reach every browser that joins rooms (``rtc:config``)."""

from __future__ import annotations

import json

import pytest

from ..conftest import fast_settings
from .conftest import url_of
from .test_rooms import called_candidate

ICE = [
    {"urls": "stun:stun.school.example.edu:3478"},
    {"urls": ["turns:turn.school.example.edu:443?transport=tcp"], "username": "u", "credential": "p"},
]


@pytest.fixture
def settings(tmp_path, redis_url, prefix):
    return fast_settings(tmp_path, redis_url, prefix, ice_servers=json.dumps(ICE))


async def test_candidates_examiners_and_aux_cameras_get_the_configured_ice_servers(server, services, live, peers):
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    session = services.sessions.hash_of(await services.sessions.create(account.id, "candidate"))
    token = await services.aux_tokens.issue(live.exam.id, account.id, session)
    aux = await peers(url_of(server), "/aux", None, {"token": token, "device": "device0000abcd"}, services=services)
    for peer in (candidate, examiner, aux):
        ack = await peer.call("rtc:config")
        assert ack["ok"] and ack["ice_servers"] == ICE, (peer.namespace, ack)
    proctor = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    assert not (await proctor.call("rtc:config"))["ok"]  # proctors join no room
