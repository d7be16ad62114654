"""The composition root of one process: who listens to whom, and the socket.io edge around the
domain services. Everything that connects one object to another (listeners, callbacks, the
namespaces' shared room signals) happens here, nowhere else.

``wire_domain`` runs inside ``Services.build`` (every user of the services, the commands too, gets
the same domain listeners); ``build_process`` runs once per server process in ``create_app``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import socketio
from aiohttp import web

from .accounts.identity import IdentityMove
from .accounts.sessions import IDENTITY_MOVED
from .config import Settings
from .http.context import METRICS
from .logs import library_logger
from .marking.interview_marks import Interview
from .nodes.booths import BoothIndex
from .nodes.files import RemoteFiles
from .nodes.node import Node
from .nodes.registry import Load
from .recorded import sweeper as recorded_sweeper
from .rooms import passthrough
from .rooms.ice import TurnMint, parse_ice_servers
from .rooms.interviews import Interviews
from .signaling import hub, redis_manager
from .signaling.aux import AuxNamespace
from .signaling.candidate import CandidateNamespace
from .signaling.examiner import ExaminerNamespace
from .signaling.face_live import FaceLiveSignals
from .signaling.fanout import AUX, CANDIDATE, EXAMINER, PROCTOR, Fanout
from .signaling.media_router import MediaRouter
from .signaling.monitoring import RoomMonitors
from .signaling.proctor import ProctorNamespace
from .signaling.recorded import TakeSignals
from .signaling.rooms import RoomSignals
from .signaling.uploads import UploadSignals
from .store.redis import connect
from .tasks import stop

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger("server.nodes")
NODE = web.AppKey("node", Node)
Drain = Callable[[], Awaitable[None]]
DRAIN: web.AppKey[Drain] = web.AppKey("drain")  # SIGTERM's drain (server/cli.py)


def wire_domain(services: Services) -> None:
    """The domain talks up through listeners: the face gate's results and decisions and the school's
    booking cancellations reach the waiting queue; the end of an interview voids the candidate's
    auxiliary-camera codes."""
    services.face_gate.on_result.append(services.queue.face_result)
    services.face_gate.on_review.append(services.queue.review_resolved)
    services.bookings.on_cancelled.append(services.queue.booking_cancelled)
    services.queue.listeners.append(services.aux_tokens.queue_changed)  # an interview's end voids its aux codes
    services.identity.on_moved.append(services.queue.identity_moved)
    services.queue.listeners.append(services.interview_marks.queue_changed)  # interviews to mark, and their end

    async def log_out_former_holder(move: IdentityMove) -> None:
        """The former holder of an identity moved by an appeal is logged out everywhere, sockets cut."""
        await services.sessions.end_account(move.from_account, IDENTITY_MOVED)

    services.identity.on_moved.append(log_out_former_holder)
    # a submitted take's frames are compared with the roster photo, in the background (never blocking)
    services.sittings.on_ended.append(services.take_identity.sitting_ended)
    services.sittings.on_playable.append(services.take_identity.take_playable)
    # a formal submission of a recorded subject is assigned to its graders at once (docs/marking.md)
    services.sittings.on_ended.append(services.take_marks.sitting_ended)
    # an upload still coming in when its sitting ends (the deadline) fails at once (recorded/uploads.py)
    services.sittings.on_ended.append(services.uploads.sitting_ended)
    # a submitted take's folder gets submission.json: the video files and the artwork photos with sha256
    services.sittings.on_ended.append(services.artwork.sitting_ended)

    async def room_check_cleared(interview: Interview) -> None:
        await services.room_checks.require_verified(interview.id)

    # a live interview's mark sheet is sealed only once its room-entry face check passed or was overridden
    services.interview_marks.seal_guards.append(room_check_cleared)
    # and those made before the subject had a rubric and graders, once it has (not at every queue listing)
    services.rubrics.on_set.append(services.take_marks.subject_changed)
    services.grading.on_graders_set.append(services.take_marks.subject_changed)


def socketio_manager(settings: Settings) -> socketio.AsyncManager:
    """Fan-out across processes through Redis (channel under the key prefix), with the same pool
    limits and timeouts as the project's own client (``store/redis.py`` ``connect``); it subscribes
    again at once after an outage (``signaling/redis_manager.py``), and ``build_process`` gives it
    the "Redis is back" refresh of every local socket."""
    if not settings.redis_url:
        return socketio.AsyncManager()
    redis_manager.check_internals()  # python-socketio as this module expects it, or no start
    channel = settings.redis_prefix + "socketio"
    options = redis_options(settings) | {"client_name": channel}  # its connections, told apart in CLIENT LIST
    return redis_manager.RedisManager(settings.redis_url, channel=channel, redis_options=options)


POOL_OPTIONS = ("socket_connect_timeout", "socket_timeout", "health_check_interval", "retry_on_timeout")


def redis_options(settings: Settings) -> dict:
    """The options of ``store.redis.connect``'s pool (read from a pool it builds, which opens no
    connection), so socket.io's client cannot drift from the project's own."""
    pool = connect(settings.redis_url, settings.redis_max_connections).connection_pool
    return {"max_connections": pool.max_connections, **{k: pool.connection_kwargs[k] for k in POOL_OPTIONS}}


def build_process(app: web.Application, settings: Settings, services: Services) -> socketio.AsyncServer:
    """socket.io on the app: one namespace per role, the room signals they share, the queue's
    listeners (fan-out and room endings), and the process's background tasks."""
    passthrough.check_internals()  # aiortc/aioice as pinned, with the private names the media uses, or no start
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=socketio_manager(settings),
        # the events' own limit counts characters; on the wire one may take up to 6 bytes (a JSON
        # \uXXXX escape), so the transport's byte limit leaves room for that: an event over the
        # character limit gets its bad_json answer instead of a closed connection
        max_http_buffer_size=6 * hub.MAX_EVENT_BYTES + 4096,
        logger=library_logger("socketio.server"),  # through the JSON log (server/logs.py), errors only
        engineio_logger=library_logger("engineio.server"),
    )
    interviews = Interviews(
        services.store,
        services.recordings,
        parse_ice_servers(settings.ice_servers, settings.turn_secret),
        settings.room_claim_ttl_s,
        max_aux=settings.aux_max_devices,
        turn=TurnMint(settings.turn_secret, settings.turn_credential_ttl_s),
        # the room signals are made next, with these interviews: the callbacks reach them by name
        on_offer=lambda room_id, participant_id, sdp: rooms.send_offer(room_id, participant_id, sdp),
        on_event=lambda room_id, event, payload: router.room_event(room_id, event, payload),
        media_address=settings.node_media_address,
    )
    rooms = RoomSignals(sio, services, interviews, settings.room_face_frames)
    rooms.monitors = RoomMonitors(sio, services, interviews, settings)  # watching the whole interview
    # recorded takes: their booths, clocks and pushes (server/signaling/recorded.py)
    rooms.booths = takes = TakeSignals(sio, services, interviews, settings.take_reconnect_grace_s)
    services.recordings.on_recovered.append(takes.recording_recovered)  # a dead process's take waits for its candidate
    services.sittings.on_ended.append(takes.sitting_ended)  # sitting:ended to the candidate's pages
    # several nodes (docs/nodes.md): this process in the registry, and media events routed to the room's node
    cluster = services.cluster
    node = Node(
        cluster.registry, cluster.relay, cluster.placement, lambda: Load(*interviews.load()), settings.process_ttl_s / 3
    )
    rooms.router = router = MediaRouter(sio, services, rooms, takes, node, BoothIndex(services.store, takes.grace_s))
    takes.held_elsewhere = router.held_elsewhere
    services.recordings.alive = cluster.registry.alive  # a recording is cut off when its process is no live node
    node.on_lost.append(router.node_lost)  # a dead node's rooms: their participants reconnect at once
    node.on_beat.append(router.draining_beat)  # a draining node gives up rooms without an interview
    metrics = app[METRICS]
    cluster.relay.observe = metrics.relayed
    metrics.node_draining.set_function(lambda: 1 if node.draining else 0)
    app[NODE] = node
    app[DRAIN] = lambda: drain(node, router, interviews, settings.node_drain_s)
    candidates = CandidateNamespace(CANDIDATE, services, settings, rooms)
    candidates.face_live = face_live = FaceLiveSignals(sio, services, interviews)  # the live face check
    examiners = ExaminerNamespace(EXAMINER, services, settings, rooms)
    services.interview_marks.on_status.append(examiners.marks_status)  # who of the panel sealed, pushed
    for namespace in (
        candidates,
        examiners,
        ProctorNamespace(PROCTOR, services, settings, rooms),
        AuxNamespace(AUX, services, settings, rooms),
    ):
        sio.register_namespace(namespace)
    sio.attach(app)
    app[hub.SIO] = sio
    fanout = Fanout(sio, services)
    services.queue.listeners.append(fanout.room_changed)
    services.queue.listeners.append(router.queue_changed)  # an interview's end reaches its room's node
    # before the sockets' tasks: the node (its relay, its beat) outlives them at shutdown
    app.cleanup_ctx.append(node_lifecycle(node, cluster.files))
    app.cleanup_ctx.append(hub.lifecycle(sio, services, settings, candidates, fanout, rooms))

    async def recorded_clock(app: web.Application):
        """The recorded sittings' deadlines and the practice takes' purge (server/recorded/sweeper.py)."""
        task = asyncio.create_task(recorded_sweeper.run(services.sittings, settings.recorded_sweep_s))
        yield
        await stop([task])

    app.cleanup_ctx.append(recorded_clock)

    async def live_face_checks(app: web.Application):
        """The live face checks' publishes are closed at shutdown (server/signaling/face_live.py)."""
        yield
        await face_live.close()

    app.cleanup_ctx.append(live_face_checks)

    async def identity_checks(app: web.Application):
        """The submitted takes' identity checks that are due (retries, a dead process's; take_identity.py)."""
        task = asyncio.create_task(services.take_identity.run())
        yield
        await stop([task])
        await services.take_identity.close()

    app.cleanup_ctx.append(identity_checks)

    async def upload_takes(app: web.Application):
        """Upload takes: their pushes to the page, and the sweep of abandoned ones (recorded/uploads.py)."""
        if not settings.recordings_shared and settings.node_internal_url:
            # several nodes on folders of their own: an upload's chunks and a take's photos are written
            # where each request lands (docs/nodes.md "Recordings": they need the shared folder)
            log.warning(
                "upload takes and artwork photos need recordings_shared",
                extra={"recordings_dir": str(settings.recordings_dir), "node": settings.node_name},
            )
        signals = UploadSignals(sio)
        services.uploads.on_progress.append(signals.progress)
        services.uploads.on_finished.append(signals.finished)
        task = asyncio.create_task(services.uploads.run())
        yield
        await stop([task])
        await services.uploads.close()

    app.cleanup_ctx.append(upload_takes)

    async def restarting(app: web.Application) -> None:
        takes.stopping()  # takes filmed here are left for another process, not ended (signaling/recorded.py)
        router.moving = True  # the sockets closed now reconnect elsewhere: their media is not left
        await hub.restarting(sio)

    # aiohttp's shutdown signal runs once it has stopped accepting connections, before it waits for
    # the open ones: every socket is told to reconnect and closed then (docs/design.md, "Stopping a process")
    app.on_shutdown.append(restarting)
    if isinstance(sio.manager, redis_manager.RedisManager):
        sio.manager.on_back.append(lambda: hub.redis_back(sio))  # pushes missed while unsubscribed
    return sio


def node_lifecycle(node: Node, files: RemoteFiles):
    """This process as a node: its relay channel and its registry beat, from start to exit; on a clean
    exit its entry goes at once (the others need not wait for it to lapse)."""

    async def run(app: web.Application):
        tasks = [asyncio.create_task(node.relay.run()), asyncio.create_task(node.run())]
        yield
        await stop(tasks)
        await node.relay.close()
        await node.leave()
        await files.close()

    return run


async def drain(node: Node, router: MediaRouter, interviews: Interviews, within_s: float) -> None:
    """SIGTERM (``server/cli.py``): take no new room, let the interviews in progress here end (a room
    without one is given up at once: its people reconnect to another node), for ``within_s`` at most;
    then give up what is left (those participants reconnect and the recording goes on elsewhere)."""
    started = time.monotonic()
    await node.drain()
    await router.draining_beat()
    log.warning(
        "draining: waiting for the interviews in progress", extra={"rooms": len(interviews.rooms), "within_s": within_s}
    )
    while interviews.rooms and time.monotonic() - started < within_s:
        await asyncio.sleep(min(1.0, node.every_s))
        await router.draining_beat()
    left = await router.give_up_all("node_draining")
    log.warning("drained", extra={"took_s": round(time.monotonic() - started, 1), "rooms_given_up": left})
