"""The ``interview-server`` command: run, demo, import-roster, set-photo, create-user, fetch-models, config."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import hashlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from .config import ConfigError, Settings, describe, load_settings
from .errors import UserError
from .http.context import SERVICES
from .logs import setup_logging
from .store.embedded import EmbeddedRedis, EmbeddedRedisError, running_server
from .store.redis import RedisUnavailable, connect, redact, wait_until_reachable

log = logging.getLogger("server.cli")


def fail(message: str, code: int = 2) -> int:
    print(f"interview-server: {message}", file=sys.stderr)
    return code


@contextlib.contextmanager
def redis_for(settings: Settings, share: bool = True):
    """Yield settings with a usable ``redis_url``: the configured one; else the embedded server that another
    process (a running demo) already runs on this data folder, when ``share``; else a private one, started
    here and stopped on exit (it refuses to start beside a running one: one append-only file, one server)."""
    if settings.redis_url:
        yield settings
        return
    folder = settings.data_dir / "redis"
    running = running_server(folder) if share else None
    if running:
        log.info("using the running embedded redis", extra={"port": running["port"], "data_dir": str(folder)})
        yield settings.replace(redis_url=running["url"])
        return
    server = EmbeddedRedis(folder).start()
    try:
        yield settings.replace(redis_url=server.url)
    finally:
        server.stop()


async def serve(settings: Settings, after_start=None) -> None:
    from .app import create_app
    from .tls import ssl_context
    from .wiring import DRAIN

    app = create_app(settings)
    # open sockets (queue, rooms) are closed by the app on shutdown; do not wait a minute for them
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, ssl_context=ssl_context(settings))
    await site.start()
    log.info("server started", extra={"url": settings.base_url, "redis": redact(settings.redis_url)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    draining: list[asyncio.Task] = []

    def terminate() -> None:
        """SIGTERM: drain first (docs/nodes.md: no new room, the interviews in progress end, bounded by
        ``node_drain_s``), then stop; a second SIGTERM stops at once."""
        if draining or settings.node_drain_s <= 0 or DRAIN not in app:
            stop.set()
            return
        log.warning("SIGTERM: draining", extra={"node_drain_s": settings.node_drain_s})

        async def drain_then_stop() -> None:
            try:
                await app[DRAIN]()
            except Exception:
                log.exception("draining failed; stopping")
            stop.set()

        draining.append(asyncio.create_task(drain_then_stop()))

    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        if after_start:
            await after_start(app)
        await stop.wait()
    finally:
        log.info("server stopping")
        for task in draining:
            task.cancel()
        await runner.cleanup()


def cmd_run(settings: Settings, args: argparse.Namespace, demo: bool = False) -> int:
    if demo:
        from .tls import for_demo

        settings = for_demo(settings)

    async def seed(app: web.Application) -> None:
        from .demo import seed_demo
        from .demo_banner import print_demo

        print_demo(settings, await seed_demo(app[SERVICES], settings))

    with redis_for(settings, share=False) as ready:
        asyncio.run(serve(ready, seed if demo else None))
    return 0


async def _with_services(settings: Settings, work):
    from .services import Services
    from .store.base import Store

    client = connect(settings.redis_url)
    try:
        await wait_until_reachable(client, attempts=6)
        return await work(Services.build(Store(client, settings.redis_prefix), settings))
    finally:
        await client.aclose()


def cmd_import_roster(settings: Settings, args: argparse.Namespace) -> int:
    from .roster.photos import PhotoSource
    from .store.audit import Actor

    csv_path = Path(args.csv)
    if not csv_path.is_file():
        return fail(f"CSV file not found: {csv_path}")
    photos = PhotoSource.empty()
    if args.photos:
        path = Path(args.photos)
        if path.is_dir():
            photos = PhotoSource.from_folder(path, settings.max_photo_bytes)
        elif path.is_file():
            photos = PhotoSource.from_zip(path.read_bytes(), settings.max_photo_bytes)
        else:
            return fail(f"photos not found: {path}")

    async def work(services):
        return await services.importer.import_csv(Actor("cli", "admin"), args.exam, csv_path.read_bytes(), photos)

    with redis_for(settings) as ready:
        report = asyncio.run(_with_services(ready, work)).to_json(args.lang)
    for row in report["rows"]:
        reasons = "; ".join(r["message"] for r in row["reasons"])
        print(f"line {row['line']:>5}  {row['status']:<9} {row['id_number']:<20} {row['name']}  {reasons}")
    print(f"imported {report['imported']}, updated {report['updated']}, rejected {report['rejected']}")
    return 0 if report["rejected"] == 0 else 1


def cmd_set_photo(settings: Settings, args: argparse.Namespace) -> int:
    """Replace one roster row's ID photo (default: the demo candidate's in the current demo exam), checked
    and stored as an import does; works beside a running demo (it shares the demo's embedded Redis)."""
    from .demo import CANDIDATES, demo_id_number
    from .facecheck.models import ModelsMissing
    from .facecheck.pool import InferencePool
    from .i18n import message
    from .store.audit import Actor

    photo = Path(args.photo)
    if not photo.is_file():
        return fail(f"photo not found: {photo}")
    with photo.open("rb") as f:  # one byte past the limit is enough to refuse it as too large
        data = f.read(settings.max_photo_bytes + 1)
    number = args.id_number or demo_id_number(CANDIDATES[0][2])

    async def work(services):
        exam_id = args.exam or await services.store.redis.get(services.store.keys.demo_exam())
        if not exam_id:
            return None, None, "no demo exam in this Redis: start `interview-server demo` first, or give --exam"
        pool, note = None, "face check not run here (facecheck_workers = 0): the reference is made at the first check"
        if settings.facecheck_workers > 0:
            try:
                pool = InferencePool(
                    settings.models_dir,
                    settings.facecheck_model,
                    settings.facecheck_threshold,
                    workers=1,
                    max_pixels=settings.facecheck_max_pixels,
                )
                note = "one face found; the face check compares with it from now on"
            except ModelsMissing as exc:
                note = f"face check not run (models missing: {exc}); the reference is made at the first check"
        services.attach_face_pool(pool)
        try:
            result = await services.importer.replace_photo(Actor("cli", "admin"), exam_id, number, data)
        finally:
            if pool:
                pool.close()
        holder = await services.directory.find_by_login(result.id_number)  # the verified account, if any
        if result.status != "rejected" and holder and (await services.face_gate.status(exam_id, holder.id)).locked:
            note += (
                ". Their face check is locked after failed tries: a proctor decides it on the proctor page"
                " (a restarted demo makes a fresh exam instead)"
            )
        return exam_id, result, note

    with redis_for(settings) as ready:
        exam_id, result, note = asyncio.run(_with_services(ready, work))
    if result is None:
        return fail(note)
    who = f"{result.name} ({result.id_number}) in exam {exam_id}"
    if result.status == "rejected":
        reasons = "; ".join(message(code, args.lang, **params) for code, params in result.reasons)
        return fail(f"photo {photo} refused for {who}: {reasons}", code=1)
    print(f"replaced the ID photo of {who} with {photo} (sha256 {hashlib.sha256(data).hexdigest()}); {note}")
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    from .store.audit import Actor

    password = args.password or getpass.getpass("password: ")

    async def work(services):
        return await services.directory.create(
            args.role,
            password,
            Actor("cli", "admin"),
            name=args.name,
            username=args.username or "",
            phone=args.phone or "",
            email=args.email or "",
            contact_verified_at=time.time(),  # made by the school's operator: the contact is theirs to vouch for
        )

    with redis_for(settings) as ready:
        account = asyncio.run(_with_services(ready, work))
    print(f"created {account.role} {account.id} ({args.username or args.phone or args.email})")
    return 0


def cmd_fetch_models(settings: Settings, args: argparse.Namespace) -> int:
    from .facecheck.fetch import main as fetch_main

    return fetch_main(["--models-dir", str(settings.models_dir), "--model", args.model or settings.facecheck_model])


def cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    for name, env, default in describe():
        value = getattr(settings, name)
        shown = redact(value) if name == "redis_url" and value else value
        print(f"{name:<26} {env:<36} {shown!r}" + ("" if value == default else "   (changed)"))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="interview-server", description="Live interview server for admission exams.")
    p.add_argument("--config", help="TOML settings file (also INTERVIEW_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text in (("run", "run the server"), ("demo", "run the server with a demo exam and print logins")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("--host")
        s.add_argument("--port", type=int)
        s.add_argument("--data-dir", help="folder for the embedded Redis, photos, demo logins")
    data_dir_help = "data folder (a running demo's embedded Redis there is used)"
    s = sub.add_parser("import-roster", help="import a roster CSV with ID photos into an exam")
    s.add_argument("--exam", required=True, help="exam id")
    s.add_argument("--csv", required=True, help="roster CSV (UTF-8 or GBK)")
    s.add_argument("--photos", help="zip file or folder of ID photos")
    s.add_argument("--lang", choices=("zh", "en"), default="zh")
    s.add_argument("--data-dir", help=data_dir_help)
    s = sub.add_parser(
        "set-photo",
        help="replace a candidate's ID photo (default: the demo candidate's, "
        "to pass the demo's face check as yourself)",
    )
    s.add_argument("photo", help="JPEG or PNG photo with one face")
    s.add_argument("--exam", help="exam id (default: the current demo exam)")
    s.add_argument("--id-number", help="the roster row's ID number (default: the demo candidate 张小艺)")
    s.add_argument("--lang", choices=("zh", "en"), default="zh")
    s.add_argument("--data-dir", help=data_dir_help)
    s = sub.add_parser("create-user", help="create an account (e.g. the first admin)")
    s.add_argument("--data-dir", help=data_dir_help)
    s.add_argument("--role", required=True, choices=("admin", "proctor", "examiner", "candidate"))
    s.add_argument("--name", default="")
    s.add_argument("--username")
    s.add_argument("--phone")
    s.add_argument("--email")
    s.add_argument("--password", help="prompted for when omitted")
    s = sub.add_parser("fetch-models", help="put the face-check model files in place (checked by sha256)")
    s.add_argument("--model", help="embedding model (default: the facecheck_model setting)")
    sub.add_parser("config", help="print every setting, its environment variable and value")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {k: getattr(args, k, None) for k in ("host", "port")}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    try:
        settings = load_settings(args.config, **overrides)
    except ConfigError as exc:
        return fail(str(exc))
    setup_logging(settings.log_level, settings.log_format)
    # What the server writes (Redis's data, recordings, face frames, photos, keys) is the candidates'
    # personal data: readable by the server's own user only, whatever the shell's umask.
    os.umask(0o077)
    commands = {
        "run": cmd_run,
        "demo": lambda s, a: cmd_run(s, a, demo=True),
        "import-roster": cmd_import_roster,
        "set-photo": cmd_set_photo,
        "create-user": cmd_create_user,
        "fetch-models": cmd_fetch_models,
        "config": cmd_config,
    }
    try:
        return commands[args.command](settings, args)
    except (EmbeddedRedisError, ConfigError) as exc:
        return fail(str(exc))
    except UserError as exc:
        return fail(exc.message("zh") + f" [{exc.code}]")
    except RedisUnavailable as exc:
        return fail(f"Redis unreachable ({exc}); start it or fix REDIS_URL")
    except OSError as exc:
        return fail(f"{exc.strerror or exc} ({getattr(exc, 'filename', '') or settings.host}:{settings.port})")
    except Exception as exc:  # StartupError and friends: one line, no traceback soup
        if type(exc).__name__ == "StartupError":
            return fail(str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
