"""Stopping a server that holds many sockets: SIGTERM to exit, and how many sockets were told first.

Run: ``python -m bench.shutdown [--sockets 2000] [--client-processes 2]``.
Starts a private redis-server (or uses REDIS_URL) under its own key prefix and a real
``interview-server run`` process on a free loopback port; makes ``--sockets`` candidate accounts
with a session each; connects one real socket.io client (websocket) per account on ``/candidate``
(split over client processes); once all are connected, sends the server SIGTERM and measures the
time until the process has exited, and how many clients got ``server:restarting`` (the notice to
reconnect, docs/signaling.md) or at least a clean disconnect from the server before their
connection closed. Everything is bounded: the server is killed 90 s after SIGTERM, the clients give
up on their own, the whole run ends within about 3 minutes.
The last line is JSON: ``sockets``, ``connected``, ``stop_s``, ``clients_told``, ``clients_disconnected``,
``exit_code``, ``machine``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import socketio

from .common import PASSWORD, bench_redis, bench_services, start_server, wait_healthy

KILL_AFTER_S = 90.0


async def _seed(url: str, prefix: str, count: int, data_dir: Path) -> list[str]:
    from server.store.audit import Actor

    services = bench_services(url, prefix, data_dir)
    admin = Actor("bench", "admin")
    password_hash = await services.passwords.hash(PASSWORD)
    tokens = []
    for i in range(count):
        account = await services.directory.create(
            "candidate", "", admin, phone=f"136{i:08d}", password_hash=password_hash, contact_verified_at=1.0
        )
        tokens.append(await services.sessions.create(account.id, "candidate"))
    await services.store.redis.aclose()
    return tokens


async def _clients(url: str, tokens: list[str], ready, give_up_at: float) -> dict:
    """Connect every token's socket; say how many connected (``ready``); then wait until the server has
    closed them all (or ``give_up_at``): how many got the notice, how many a clean disconnect."""
    from server.accounts.sessions import COOKIE

    told = disconnected = 0
    clients: list[socketio.AsyncClient] = []
    gate = asyncio.Semaphore(50)
    left = asyncio.Event()
    open_count = 0

    async def one(token: str) -> None:
        nonlocal told, disconnected, open_count
        client = socketio.AsyncClient(reconnection=False)
        seen = {"told": False}

        @client.on("server:restarting", namespace="/candidate")
        async def restarting(data):
            seen["told"] = True

        @client.on("disconnect", namespace="/candidate")
        async def gone(reason=None):
            nonlocal told, disconnected, open_count
            disconnected += reason == client.reason.SERVER_DISCONNECT
            told += seen["told"]
            open_count -= 1
            if open_count <= 0:
                left.set()

        async with gate:
            try:
                await client.connect(
                    url,
                    headers={"Cookie": f"{COOKIE}={token}"},
                    namespaces=["/candidate"],
                    transports=["websocket"],
                    wait_timeout=30,
                )
            except Exception:
                return
        open_count += 1
        clients.append(client)

    await asyncio.wait_for(asyncio.gather(*(one(t) for t in tokens)), max(1.0, give_up_at - 60 - time.time()))
    connected = len(clients)
    ready.put(connected)
    try:
        await asyncio.wait_for(left.wait(), max(1.0, give_up_at - time.time()))
    except TimeoutError:
        pass
    for client in clients:  # any the server did not close
        if client.connected:
            await client.disconnect()
    return {"connected": connected, "told": told, "disconnected": disconnected}


def _run_clients(args) -> dict:
    return asyncio.run(_clients(*args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--client-processes", type=int, default=2)
    args = parser.parse_args()

    from server.store.embedded import free_port

    with bench_redis() as (redis_url, prefix):
        print(json.dumps(run(args.sockets, args.client_processes, redis_url, prefix, free_port())))


def run(sockets: int, processes: int, redis_url: str, prefix: str, port: int) -> dict:
    """The measurement (also used by tests/test_cli.py with fewer sockets)."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-shutdown-"))
    url = f"http://127.0.0.1:{port}"
    started = time.time()
    print(f"making {sockets} candidate sessions ...", flush=True)
    tokens = asyncio.run(_seed(redis_url, prefix, sockets, data_dir))
    server = start_server(redis_url, prefix, port, data_dir)
    stop_s = exit_code = None
    try:
        asyncio.run(wait_healthy(url, server))
        give_up_at = time.time() + max(60.0, sockets / 25) + KILL_AFTER_S
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager, ctx.Pool(processes) as pool:
            ready = manager.Queue()
            shares = [tokens[i::processes] for i in range(processes)]
            results = pool.map_async(_run_clients, [(url, share, ready, give_up_at) for share in shares])
            connected = sum(ready.get(timeout=max(1.0, give_up_at - KILL_AFTER_S - time.time())) for _ in shares)
            print(f"{connected} of {sockets} sockets connected in {time.time() - started:.1f} s; SIGTERM", flush=True)
            sent = time.monotonic()
            server.send_signal(signal.SIGTERM)
            try:
                exit_code = server.wait(KILL_AFTER_S)
            except subprocess.TimeoutExpired:
                print(f"the server did not stop within {KILL_AFTER_S:.0f} s of SIGTERM: killed", flush=True)
                server.kill()
                exit_code = server.wait()
            stop_s = time.monotonic() - sent
            counts = results.get(timeout=max(1.0, give_up_at - time.time()) + 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    figures = {
        "sockets": sockets,
        "connected": sum(c["connected"] for c in counts),
        "stop_s": round(stop_s, 2),
        "clients_told": sum(c["told"] for c in counts),
        "clients_disconnected": sum(c["disconnected"] for c in counts),
        "exit_code": exit_code,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}",
    }
    print(
        f"server exited {figures['stop_s']} s after SIGTERM (code {exit_code}); {figures['clients_told']} of "
        f"{figures['connected']} clients were told to reconnect, {figures['clients_disconnected']} disconnected "
        "cleanly by the server",
        flush=True,
    )
    return figures


if __name__ == "__main__":
    main()
