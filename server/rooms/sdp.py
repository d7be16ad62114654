"""SDP of an interview room: what a participant's offer or answer must contain, and how the
server's own offers are rewritten (docs/rooms.md, "Rooms, negotiation, rules").

Pure functions on SDP text (parsed with aiortc's own parser, so that what passes here is what
``setRemoteDescription`` will accept); nothing here creates a peer connection. A refusal is a
:class:`MediaError` whose ``code`` the client sees.
"""

from __future__ import annotations

import copy
import re

from aiortc import RTCRtpReceiver
from aiortc import sdp as aiortc_sdp

MAX_SDP_BYTES = 64 * 1024
PUBLISHES = {"candidate": ("audio", "video"), "examiner": ("audio", "video"), "aux": ("video",)}
CODEC_MIME = {"audio": "audio/opus", "video": "video/vp8"}


class MediaError(Exception):
    """A refused request; ``code`` is stable and meant for the client.

    Defined here because the SDP checks are the first to refuse; :mod:`server.rooms.media`
    raises it too and re-exports it (``from server.rooms.media import MediaError``).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def stream_id(participant_id: str) -> str:
    """The msid stream id of a participant's tracks at every subscriber (its id if it is a
    valid token), so that a browser groups them into one MediaStream per participant."""
    if re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", participant_id):
        return participant_id
    return "p-" + participant_id.encode().hex()[:60]


def codec_preferences(kind: str) -> list:
    """VP8 (+ rtx) or Opus only, for ``setCodecPreferences``: one codec everywhere means no
    transcoding."""
    capabilities = RTCRtpReceiver.getCapabilities(kind)
    assert capabilities is not None, kind  # aiortc knows "audio" and "video"
    caps = capabilities.codecs
    wanted = CODEC_MIME[kind]
    return [c for c in caps if c.mimeType.lower() in (wanted, f"{kind}/rtx")]


def check_offer(sdp_text: object, participant_kind: str, max_bytes: int = MAX_SDP_BYTES) -> list[str]:
    """Validate a participant's offer; return the kinds of its audio/video sections in order.

    Refused: not a string or empty, larger than ``max_bytes``, unparsable, no audio/video
    section, a section without ICE credentials, DTLS fingerprint or our codec, more than one
    section of a kind, or a sending section of a kind the participant may not publish."""
    return _check_description(sdp_text, participant_kind, max_bytes, "offer")


def check_answer(sdp_text: object, participant_kind: str, max_bytes: int = MAX_SDP_BYTES) -> list[str]:
    """Validate a participant's answer to a server offer (the same checks as an offer, except
    the publishing rules: an answer's directions follow our offer)."""
    return _check_description(sdp_text, participant_kind, max_bytes, "answer")


def _check_description(sdp_text, participant_kind, max_bytes, what) -> list[str]:
    if not isinstance(sdp_text, str) or not sdp_text.strip():
        raise MediaError("sdp_invalid", f"empty {what}")
    if len(sdp_text.encode("utf-8", "replace")) > max_bytes:
        raise MediaError("sdp_too_large", f"{what} larger than {max_bytes} bytes")
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp_text)
    except Exception as exc:  # aiortc's parser raises whatever the bad line makes it raise
        raise MediaError("sdp_invalid", f"unparsable {what}: {type(exc).__name__}") from None
    sections = [m for m in description.media if m.kind in ("audio", "video")]
    if not sections:
        raise MediaError("sdp_invalid", f"{what} has no audio or video section")
    for media in sections:
        if not (media.ice and media.ice.usernameFragment and media.ice.password):
            raise MediaError("sdp_invalid", "missing ICE credentials")
        if not (media.dtls and media.dtls.fingerprints):
            raise MediaError("sdp_invalid", "missing DTLS fingerprint")
        mimes = {c.mimeType.lower() for c in media.rtp.codecs}
        if CODEC_MIME[media.kind] not in mimes:
            raise MediaError("no_usable_codec", f"{media.kind} section without {CODEC_MIME[media.kind]}")
    if what == "offer":
        kinds = [m.kind for m in sections]
        allowed = PUBLISHES[participant_kind]
        for kind in ("audio", "video"):
            sending = [m for m in sections if m.kind == kind and m.direction in ("sendrecv", "sendonly")]
            if kinds.count(kind) > 1 or (sending and kind not in allowed):
                raise MediaError("media_not_allowed", f"a {participant_kind} may send {'+'.join(allowed)} once")
        return kinds
    return [m.kind for m in sections]


def _default_section(kind: str):
    """aiortc's own VP8+rtx / Opus parameters and header extensions for ``kind``."""
    from aiortc.codecs import CODECS, HEADER_EXTENSIONS

    codecs = [c for c in CODECS[kind] if c.mimeType.lower() == CODEC_MIME[kind]][:1]
    main = codecs[0].payloadType
    codecs += [c for c in CODECS[kind] if c.mimeType.lower() == f"{kind}/rtx" and c.parameters.get("apt") == main]
    return copy.deepcopy(codecs), copy.deepcopy(HEADER_EXTENSIONS[kind])


def negotiated_sections(answer_sdp: str) -> dict:
    """Payload types and header-extension ids per kind, as fixed by our first answer (the
    client's numbers), with aiortc's defaults, renumbered clear of collisions, for a kind the
    client did not offer. Server re-offers reuse them: aiortc would otherwise renumber every
    section with its own defaults, which a browser applies to what it sends while aiortc's
    running receivers keep the old numbers."""
    sections: dict = {}
    for media in aiortc_sdp.SessionDescription.parse(answer_sdp).media:
        if media.kind in CODEC_MIME and media.kind not in sections and media.rtp.codecs:
            sections[media.kind] = (copy.deepcopy(media.rtp.codecs), copy.deepcopy(media.rtp.headerExtensions))
    used_pts = {c.payloadType for codecs, _ in sections.values() for c in codecs}
    used_ids = {x.id: x.uri for _, exts in sections.values() for x in exts}
    for kind in CODEC_MIME:
        if kind in sections:
            continue
        codecs, exts = _default_section(kind)
        renumber: dict[int, int] = {}
        for codec in codecs:
            if codec.payloadType in used_pts:
                renumber[codec.payloadType] = next(
                    pt for pt in range(96, 128) if pt not in used_pts and pt not in renumber.values()
                )
            used_pts.add(renumber.get(codec.payloadType, codec.payloadType))
        for codec in codecs:
            codec.payloadType = renumber.get(codec.payloadType, codec.payloadType)
            if "apt" in codec.parameters:
                codec.parameters["apt"] = renumber.get(codec.parameters["apt"], codec.parameters["apt"])
        by_uri = {uri: i for i, uri in used_ids.items()}
        for ext in exts:
            if ext.uri in by_uri:
                ext.id = by_uri[ext.uri]
            elif ext.id in used_ids:
                ext.id = next(i for i in range(1, 15) if i not in used_ids)
            used_ids[ext.id] = ext.uri
        sections[kind] = (codecs, exts)
    return sections


def apply_sections(offer_sdp: str, sections: dict) -> str:
    """Rewrite every audio/video section of a server offer with ``sections``."""
    description = aiortc_sdp.SessionDescription.parse(offer_sdp)
    for media in description.media:
        if media.kind in sections:
            codecs, exts = sections[media.kind]
            media.rtp.codecs = copy.deepcopy(codecs)
            media.fmt = [c.payloadType for c in codecs]
            media.rtp.headerExtensions = copy.deepcopy(exts)
    return str(description)


CANDIDATE_LINE = re.compile(r"^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$")


def own_addresses() -> set[str]:
    """The machine's addresses as aiortc gathers them (its host candidates)."""
    from aioice.ice import get_host_addresses

    return set(get_host_addresses(use_ipv4=True, use_ipv6=True))


def announce_address(sdp_text: str, address: str, own: set[str]) -> str:
    """The server's SDP with its host candidates as browsers must see them (``node_media_address``,
    docs/nodes.md): ``address`` one of the machine's own addresses: only its host candidates are kept
    (a multi-homed node announces the one browsers reach); any other address (1:1 NAT): every host
    candidate is announced with it and its own port. Relay and reflexive candidates are kept as they
    are; so is an SDP with no host candidate on ``address`` to keep (nothing better to announce)."""
    lines = sdp_text.split("\r\n")
    hosts = [m for m in map(CANDIDATE_LINE.match, lines) if m and m.group(7) == "host"]
    if not hosts or (address in own and not any(m.group(5) == address for m in hosts)):
        return sdp_text
    out, seen = [], set()
    for line in lines:
        m = CANDIDATE_LINE.match(line)
        if m and m.group(7) == "host":
            if address in own:
                if m.group(5) != address:
                    continue
            else:
                key = (m.group(2), m.group(3).lower(), m.group(6))
                if key in seen:
                    continue
                seen.add(key)
                line = f"a=candidate:{m.group(1)} {m.group(2)} {m.group(3)} {m.group(4)} {address} {m.group(6)} typ host{m.group(8)}"
        elif line.startswith("c=IN IP") and address not in own:
            line = f"c=IN IP{'6' if ':' in address else '4'} {address}"
        out.append(line)
    return "\r\n".join(out)
