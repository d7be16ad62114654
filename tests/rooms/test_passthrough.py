"""aiortc's and aioice's private names are used in one module, server/rooms/passthrough.py, and
checked when the app starts: the exact list, the pinned versions, and a clear refusal when a
version or a name is not what the module was written for."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aioice
import aiortc
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from server.rooms import passthrough

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
PASSTHROUGH = SERVER / "rooms" / "passthrough.py"

# Every private name of aiortc/aioice the server uses. Adding one is a decision: list it here,
# in passthrough.INTERNALS (so that the start-up check covers it), and in docs/rooms.md.
EXPECTED = {
    "get_decoder",  # aiortc.rtcrtpreceiver module function, replaced (the patch)
    "_RTCRtpReceiver__decoder_queue",
    "_RTCRtpReceiver__started",
    "_RTCRtpReceiver__jitter_buffer",
    "_RTCRtpReceiver__rtx_ssrc",
    "_send_rtcp_pli",  # RTCRtpReceiver
    "_queue",  # RemoteStreamTrack
    "_is_video",  # JitterBuffer
    "_stream_id",  # RTCRtpSender
    "_send_keyframe",  # RTCRtpSender
    "_connection",  # RTCIceTransport -> aioice.Connection
    "_protocols",  # aioice.Connection
}


def library_private_names() -> set[str]:
    """Private names defined or used in aiortc's and aioice's own source (``__x`` mangled as the
    compiler does): what our code must not touch outside passthrough.py."""
    names: set[str] = set()
    for package in (aiortc, aioice):
        for path in Path(package.__file__).parent.rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
                for node in ast.walk(cls):
                    name = _defined_or_accessed(node)
                    if name and name.startswith("__") and not name.endswith("__"):
                        names.add(f"_{cls.name.lstrip('_')}{name}")
            for node in ast.walk(tree):
                name = _defined_or_accessed(node)
                if name and name.startswith("_") and not name.startswith("__"):
                    names.add(name)
    return names


def _defined_or_accessed(node) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name
    return None


def foreign_uses(path: Path, watched: set[str]) -> set[tuple[int, str]]:
    """(line, name) of every attribute a module reads or writes on an object other than
    ``self``/``cls`` whose name is private (``_x``) or in ``watched``, and of every such name
    given as a string to getattr/setattr/hasattr/delattr."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue  # our own classes' attributes
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        else:
            continue
        if (name.startswith("_") and not name.startswith("__")) or name in watched:
            found.add((node.lineno, name))
    return found


def test_the_private_names_are_listed_once():
    assert set(passthrough.PRIVATE_NAMES) == EXPECTED
    assert len(passthrough.PRIVATE_NAMES) == len(EXPECTED)
    assert {internal.name for internal in passthrough.INTERNALS} == EXPECTED


def test_passthrough_uses_exactly_the_listed_names():
    used = {name for _, name in foreign_uses(PASSTHROUGH, EXPECTED)}
    assert used == EXPECTED, f"used but not listed: {used - EXPECTED}; listed but not used: {EXPECTED - used}"


def test_no_other_module_of_the_server_uses_them():
    library = library_private_names() | EXPECTED
    assert EXPECTED <= library  # the scan sees aiortc's names, mangled ones included
    offenders = [
        (str(path.relative_to(ROOT)), line, name)
        for path in sorted(SERVER.rglob("*.py"))
        if path != PASSTHROUGH
        for line, name in sorted(foreign_uses(path, EXPECTED))
        if name in library
    ]
    mangled = [
        (str(path.relative_to(ROOT)), node.lineno, node.value)
        for path in sorted(SERVER.rglob("*.py"))
        if path != PASSTHROUGH
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"_[A-Z]\w*__\w+", node.value)
        and node.value in library
    ]
    assert not offenders and not mangled, (
        f"aiortc/aioice private names outside server/rooms/passthrough.py: {offenders + mangled}"
    )


def test_the_scan_sees_a_private_use(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(sender, receiver):\n    sender._send_keyframe = None\n"
        "    getattr(receiver, '_RTCRtpReceiver__rtx_ssrc')\n    self._mine = 1\n"
    )
    assert foreign_uses(sample, EXPECTED) == {(2, "_send_keyframe"), (3, "_RTCRtpReceiver__rtx_ssrc")}


def test_the_pins_are_those_of_constraints_and_pyproject():
    constraints = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE))
    assert {name: constraints[name] for name in passthrough.PINNED} == passthrough.PINNED
    assert f'"aiortc=={passthrough.PINNED["aiortc"]}"' in (ROOT / "pyproject.toml").read_text()


def test_the_installed_versions_pass_the_check():
    passthrough.check_internals()  # raises if anything is off


@pytest.mark.parametrize("package,version", [(aiortc, "1.17.0"), (aioice, "0.14.0")])
def test_a_wrong_version_is_refused_by_name(monkeypatch, package, version):
    monkeypatch.setattr(package, "__version__", version)
    with pytest.raises(passthrough.PassthroughError) as refused:
        passthrough.check_internals()
    message = str(refused.value)
    assert "aiortc==1.16.0 and aioice==0.13.0" in message
    assert f"{package.__name__} {version}" in message and "docs/rooms.md" in message


def test_a_missing_method_is_refused_by_name(monkeypatch):
    class Sender(aiortc.rtcrtpsender.RTCRtpSender):
        _send_keyframe = None  # gone: no longer a method

    monkeypatch.setattr(aiortc.rtcrtpsender, "RTCRtpSender", Sender)
    with pytest.raises(
        passthrough.PassthroughError,
        match=r"aiortc 1\.16\.0, aioice 0\.13\.0: .*"
        r"method aiortc\.rtcrtpsender\.RTCRtpSender\._send_keyframe\(\) not found",
    ):
        passthrough.check_internals()


def test_a_missing_instance_attribute_is_refused_by_name(monkeypatch):
    class Track(aiortc.rtcrtpreceiver.RemoteStreamTrack):
        def __init__(self, kind, id=None):  # keeps its frames elsewhere: no self._queue
            MediaStreamTrack.__init__(self)
            self.kind = kind

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "RemoteStreamTrack", Track)
    with pytest.raises(passthrough.PassthroughError) as refused:
        passthrough.check_internals()
    message = str(refused.value)
    assert "aiortc.rtcrtpreceiver.RemoteStreamTrack.__init__ no longer sets self._queue" in message
    assert message.count("; ") == 0  # only what is missing is named


def test_a_missing_module_function_is_refused_by_name(monkeypatch):
    monkeypatch.delattr(aiortc.rtcrtpreceiver, "get_decoder")
    with pytest.raises(passthrough.PassthroughError, match=r"aiortc\.rtcrtpreceiver\.get_decoder\(\) not found"):
        passthrough.check_internals()


def test_a_replaced_name_that_aiortc_no_longer_reads_is_refused(monkeypatch):
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "decoder_worker", lambda *args: None)
    with pytest.raises(passthrough.PassthroughError, match="decoder_worker no longer reads get_decoder"):
        passthrough.check_internals()


async def test_the_stream_id_reaches_the_offer_and_buffers_grow():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        passthrough.set_stream_id(transceiver.sender, "cand-1")
        await pc.setLocalDescription(await pc.createOffer())
        assert re.search(r"^a=msid:cand-1 ", pc.localDescription.sdp, re.MULTILINE)
        assert passthrough.enlarge_socket_buffers(pc) >= 1
        assert passthrough.rtx_ssrcs(transceiver.receiver) == frozenset()  # not receiving yet
    finally:
        await pc.close()
