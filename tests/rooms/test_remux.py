"""The playback file of a take: the files recorded from a real aiortc publish (a candidate with an
aux camera, a reconnect in the middle) joined into one WebM per camera, by copying packets only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import av
import pytest

from server.rooms.recorder import InterviewRecorder, recover_manifest
from server.rooms.remux import PLAYABLE, RemuxError, make_playable
from server.rooms.track_writer import sha256_file

from .peers import wait_for

CHROMIUM = Path("/usr/bin/chromium")
PLAYER = """<!doctype html><video id=v muted playsinline src="/video"></video>"""


async def play_in_chromium(path: Path) -> dict:
    """Load the file in a <video> of headless Chromium over HTTP (Range requests, as the API serves
    it), play it, seek near its end; what the element reports."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from playwright.async_api import async_playwright

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PLAYER, content_type="text/html")

    async def video(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Content-Type": "video/webm"})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/video", video)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{server.port}/")
            result = await page.evaluate(
                """async () => {
                    const v = document.getElementById('v');
                    await new Promise((ok, ko) => {
                        if (v.readyState >= 1) ok(); else { v.onloadedmetadata = ok; v.onerror = ko; }
                    });
                    await v.play();
                    const t0 = v.currentTime;
                    await new Promise(ok => setTimeout(ok, 1800));
                    const advanced = v.currentTime - t0;
                    v.pause();
                    const seeked = await new Promise(ok => {
                        v.onseeked = () => ok(true);
                        setTimeout(() => ok(false), 3000);
                        v.currentTime = Math.max(0, v.duration - 0.5);
                    });
                    return {duration: v.duration, advanced, seeked, width: v.videoWidth,
                            error: v.error ? v.error.message || String(v.error.code) : null};
                }"""
            )
            await browser.close()
            return result
    finally:
        await server.close()


def packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [bytes(p) for p in container.demux(stream) if p.size]


def decoded_span(path: Path, kind: str) -> tuple[float, float, int]:
    """(first, last) decoded frame time and the frame count of the file's ``kind`` stream."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        times = [f.time for f in container.decode(stream) if f.time is not None]
    return min(times), max(times), len(times)


async def record_take(room, client, folder: Path, gap_s: float) -> tuple[dict, list[float]]:
    """A candidate (video + audio) and an aux camera publish; the candidate's connection drops for
    ``gap_s`` and comes back (a second segment). Returns the manifest and the seconds each of the
    candidate's two connections was recorded."""
    recorder = InterviewRecorder(folder, "take-1")
    room.set_recorder(recorder)
    cand = client("cand", "candidate")
    aux = client("aux_phone1", "aux", color="green", audio=False)
    await cand.join()
    await aux.join()

    def written(participant: str, kinds: int, segment: int = 0) -> bool:
        mine = [w for w in recorder.writers if w.participant_id == participant]
        return len(mine) >= kinds * (segment + 1) and all(w.packets > 5 for w in mine[kinds * segment :])

    assert await wait_for(lambda: written("cand", 2) and written("aux_phone1", 1), timeout=10)
    await asyncio.sleep(2.0)
    spans = [max(w.last_write_at for w in recorder.writers if w.participant_id == "cand")]
    first = min(w.started_at for w in recorder.writers if w.participant_id == "cand")
    spans[0] -= first
    await cand.pc.close()  # the connection is lost ...
    await asyncio.sleep(gap_s)
    await cand.reconnect()  # ... and the page makes a new one
    assert await wait_for(lambda: written("cand", 2, segment=1), timeout=10)
    await asyncio.sleep(1.5)
    manifest = await room.stop_recording()
    second = [t for t in manifest["tracks"] if t["participant_id"] == "cand" and t["file"].endswith("-02.webm")]
    spans.append(max(t["ended_at"] for t in second) - min(t["started_at"] for t in second))
    return manifest, spans


async def test_segments_are_joined_by_copying_packets_and_the_gap_is_cut(room, client, tmp_path):
    folder = tmp_path / "exam" / "cand" / "take-1"
    manifest, spans = await record_take(room, client, folder, gap_s=3.0)
    tracks = {(t["participant_id"], t["kind"]): [] for t in manifest["tracks"]}
    for t in manifest["tracks"]:
        tracks[(t["participant_id"], t["kind"])].append(folder / t["file"])
    assert len(tracks[("cand", "video")]) == 2 and len(tracks[("cand", "audio")]) == 2

    files = await asyncio.to_thread(make_playable, folder, manifest)

    playable = folder / PLAYABLE
    assert set(files) == {PLAYABLE, "aux-1.webm"}
    main = files[PLAYABLE]
    assert main["kind"] == "main" and main["segments"] == 2
    assert main["sha256"] == sha256_file(playable) and main["size"] == playable.stat().st_size
    with av.open(str(playable)) as container:
        assert [(s.type, s.codec_context.name) for s in container.streams] == [("video", "vp8"), ("audio", "opus")]
    # no re-encoding: the packets are the recorded ones, byte for byte, in order
    for kind in ("video", "audio"):
        recorded = [p for path in sorted(tracks[("cand", kind)]) for p in packets(path, kind)]
        assert packets(playable, kind) == recorded, kind
    # it decodes to the recorded length (the two connections, not the 3 s between them)
    recorded_s = sum(spans)
    first, last, frames = decoded_span(playable, "video")
    assert first < 0.5 and abs((last - first) - recorded_s) < 1.0, (first, last, spans)
    assert abs(main["duration_s"] - recorded_s) < 1.0
    a_first, a_last, _ = decoded_span(playable, "audio")
    assert abs(a_first - first) < 0.5 and abs(a_last - last) < 0.5  # audio and video stay together
    assert frames > 20 * recorded_s

    # the aux camera: a file of its own, video only, its packets as recorded
    aux = files["aux-1.webm"]
    assert aux["kind"] == "aux" and aux["n"] == 1 and aux["participant_id"] == "aux_phone1"
    assert aux["sha256"] == sha256_file(folder / "aux-1.webm")
    with av.open(str(folder / "aux-1.webm")) as container:
        assert [s.type for s in container.streams] == ["video"]
    assert packets(folder / "aux-1.webm", "video") == packets(tracks[("aux_phone1", "video")][0], "video")
    assert 0 <= aux["offset_s"] < 1.0  # it joined with the candidate
    assert not list(folder.glob(".*.part"))

    # it plays in Chromium (the candidate's phone and the admin's desktop), served as takes_api serves it
    if CHROMIUM.exists():
        played = await play_in_chromium(playable)
        assert played["error"] is None and abs(played["duration"] - recorded_s) < 1.0, played
        assert played["advanced"] > 1.0 and played["width"] == 160 and played["seeked"], played

    # made again (e.g. after a crash during the first run): the same files
    again = await asyncio.to_thread(make_playable, folder, json.loads((folder / "manifest.json").read_text()))
    assert again[PLAYABLE]["sha256"] == main["sha256"] and again["aux-1.webm"]["sha256"] == aux["sha256"]


async def test_a_take_cut_off_by_a_crash_is_playable(room, client, tmp_path):
    """Files left by a killed process (no cues, no duration): recovered, then remuxed."""
    folder = tmp_path / "take-2"
    recorder = InterviewRecorder(folder, "take-2")
    room.set_recorder(recorder)
    cand = client("cand", "candidate")
    await cand.join()
    assert await wait_for(lambda: len(recorder.writers) == 2 and all(w.packets > 5 for w in recorder.writers), 10)
    await asyncio.sleep(2.0)
    # what a SIGKILL leaves: the files as they are, the manifest still "recording"
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    await room.stop_recording()
    manifest = recover_manifest(copy)
    assert manifest["status"] == "recovered"
    files = make_playable(copy, manifest)
    first, last, _ = decoded_span(copy / PLAYABLE, "video")
    assert last - first > 1.0 and abs(files[PLAYABLE]["duration_s"] - (last - first)) < 0.2


def test_nothing_recorded_is_not_playable(tmp_path):
    recorder = InterviewRecorder(tmp_path, "take-3")
    recorder.add_track("cand/video/1", "video", "cand", "candidate")
    manifest = recorder.close()
    with pytest.raises(RemuxError):
        make_playable(tmp_path, manifest)
    assert not (tmp_path / PLAYABLE).exists()
