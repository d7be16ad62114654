"""The deadline loop: it ends due sittings, survives Redis being away (logged once), and stops."""

from __future__ import annotations

import asyncio
import logging
import socket

from server.recorded import sweeper
from server.recorded.sittings import Sittings
from server.store.base import Store
from server.store.redis import connect
from server.tasks import stop

from .conftest import DEVICE, filmed, make_recorded, pass_face


async def test_one_pass_ends_the_due_sittings(services, world):
    subject = await make_recorded(services, world, time_limit_min=1)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    take = await filmed(services, account, sitting)
    assert await sweeper.sweep_once(services.sittings, now=sitting.deadline - 1) == 0
    assert await sweeper.sweep_once(services.sittings, now=sitting.deadline + 1) == 1
    ended = await services.sittings.sitting_of(account, sitting.id)
    assert (ended.state, ended.submitted_take) == ("auto_submitted", take.id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_loop_survives_redis_being_away_and_logs_it_once(services, caplog):
    """A Redis nobody listens on: every pass fails, one warning is logged, the loop goes on and stops."""
    client = connect(f"redis://127.0.0.1:{free_port()}/0")
    away = Sittings(
        Store(client, "ivtest:away:"),
        services.catalog,
        services.enrolments,
        services.face_gate,
        services.sittings.recordings_dir,
    )
    caplog.set_level(logging.INFO, logger="server.recorded")
    task = asyncio.create_task(sweeper.run(away, 0.05))
    await asyncio.sleep(0.5)
    assert not task.done()
    await stop([task])
    await client.aclose()
    failures = [r for r in caplog.records if r.getMessage() == "recorded sweep failed"]
    assert len(failures) == 1 and failures[0].levelname == "WARNING"
