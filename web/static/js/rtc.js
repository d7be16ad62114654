// One RTCPeerConnection to the server per participant (docs/signaling.md, docs/rooms.md):
// the browser offers first with send-only VP8/Opus transceivers, after ICE gathering is complete;
// the server answers, then sends its own offers (rtc:offer) for what we receive: we answer them.
// A failed or long-disconnected connection, or a network change, makes a new connection (rtc:restart,
// retried every few seconds until it works);
// forwarding and recording go on on the server.
//   const peer = new Peer(socket, {stream, extra, video: true, audio: true, onStream, onState})
//   await peer.join(); peer.restart(); peer.replaceTrack(track); peer.close()
//   publishVideo(socket, event, extra, stream) -> {pc, ack}: a one-off send-only publish (the live face check)
import { call } from "/static/js/live.js";

const VIDEO_BITRATE = 1_000_000; // the server forwards, never re-encodes: cap at the source
const GATHER_TIMEOUT_MS = 4000;
const RETRY_MS = 3000; // a failed reconnect is tried again after this
const FINAL_REFUSALS = new Set(["room_not_admitted", "aux_wait", "media_not_allowed", "no_usable_codec",
  "sdp_invalid", "sdp_too_large", "forbidden", "login_required"]);

// Whether a failed join is worth trying again by itself (a server busy, restarting, or its room moving
// to another server: no_media_node, media_node_timeout, storage_unavailable, timeout ...).
export const retryable = (err) => !FINAL_REFUSALS.has(err && err.code);

function codecs(kind) {
  const caps = (window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities(kind))
    || (RTCRtpSender.getCapabilities && RTCRtpSender.getCapabilities(kind));
  if (!caps) return null;
  const want = kind === "video" ? ["video/vp8", "video/rtx"] : ["audio/opus"];
  const list = caps.codecs.filter((c) => want.includes(c.mimeType.toLowerCase()));
  return list.some((c) => c.mimeType.toLowerCase() !== "video/rtx") ? list : null;
}

function preferCodecs(transceiver, kind) {
  const list = codecs(kind);
  if (list && transceiver.setCodecPreferences) {
    try { transceiver.setCodecPreferences(list); } catch { /* the server refuses what it cannot use */ }
  }
}

function gathered(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    const timer = setTimeout(() => { pc.removeEventListener("icegatheringstatechange", done); resolve(); }, timeoutMs);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

export async function capBitrate(sender, maxBitrate = VIDEO_BITRATE) {
  if (!sender || !sender.track || sender.track.kind !== "video") return;
  try {
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) params.encodings = [{}];
    params.encodings.forEach((e) => { e.maxBitrate = maxBitrate; });
    await sender.setParameters(params);
  } catch { /* a cap is best effort */ }
}

export class Peer {
  constructor(socket, { stream = null, extra = {}, audio = true, video = true, onStream = () => {}, onState = () => {} } = {}) {
    Object.assign(this, { socket, stream, extra, audio, video, onStream, onState });
    this.pc = null;
    this.iceServers = null;
    this.closed = false;
    this.restarting = null;
    this.disconnectTimer = null;
    this.retryTimer = null;
    this.onOffer = (data) => this.answer(data);
    socket.on("rtc:offer", this.onOffer);
    // the room's media moved to another server (its server died, is draining, or gave the room up):
    // a new connection at once, which reaches the room's new server (docs/nodes.md)
    this.onMoved = (data) => { if (data && this.concerns(data.room_id)) this.restart("moved"); };
    socket.on("rtc:reconnect", this.onMoved);
    this.onOnline = () => this.restart("online");
    window.addEventListener("online", this.onOnline);
    if (navigator.connection && navigator.connection.addEventListener) {
      this.onNetChange = () => this.restart("network");
      navigator.connection.addEventListener("change", this.onNetChange);
    }
  }

  // Whether a room's notice is about this connection (a candidate's names its room; an examiner's or
  // an aux camera's socket is in one room only).
  concerns(roomId) {
    return !this.extra.room_id || roomId === this.extra.room_id;
  }

  async config() {
    if (this.iceServers === null) {
      try {
        this.iceServers = (await call(this.socket, "rtc:config")).ice_servers || [];
      } catch {
        this.iceServers = [];
      }
    }
    return this.iceServers;
  }

  async build() {
    const pc = new RTCPeerConnection({ iceServers: await this.config(), bundlePolicy: "max-bundle" });
    const tracks = this.stream ? this.stream.getTracks() : [];
    for (const kind of ["audio", "video"]) {
      if (!this[kind]) continue;
      const track = tracks.find((t) => t.kind === kind);
      const init = track
        ? { direction: "sendonly", streams: [this.stream], sendEncodings: kind === "video" ? [{ maxBitrate: VIDEO_BITRATE }] : undefined }
        : { direction: "recvonly" };
      const transceiver = pc.addTransceiver(track || kind, init);
      preferCodecs(transceiver, kind);
    }
    pc.ontrack = (ev) => {
      const stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
      this.onStream(stream, ev.track);
    };
    pc.onconnectionstatechange = () => this.watch(pc);
    pc.oniceconnectionstatechange = () => this.watch(pc);
    return pc;
  }

  watch(pc) {
    if (pc !== this.pc || this.closed) return;
    const state = pc.connectionState || pc.iceConnectionState;
    this.onState(state);
    clearTimeout(this.disconnectTimer);
    if (state === "failed" || pc.iceConnectionState === "failed") this.restart("failed");
    else if (state === "disconnected") this.disconnectTimer = setTimeout(() => {
      if (pc === this.pc && pc.connectionState === "disconnected") this.restart("disconnected");
    }, 4000);
  }

  async negotiate(event) {
    const pc = await this.build();
    const old = this.pc;
    this.pc = pc;
    if (old) old.close();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const ack = await call(this.socket, event, { ...this.extra, sdp: pc.localDescription.sdp });
    if (pc !== this.pc) return;
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    await Promise.all(pc.getSenders().map((s) => capBitrate(s)));
    this.onState(pc.connectionState);
  }

  join() {
    this.closed = false;
    return this.negotiate("rtc:join");
  }

  // A new connection after a network change or a failure; forwarding and recording go on server-side.
  restart(why = "manual") {
    if (this.closed || !this.pc) return Promise.resolve();
    if (!this.restarting) {
      clearTimeout(this.retryTimer);
      this.onState("restarting", why);
      this.restarting = this.negotiate("rtc:restart")
        .catch((err) => {
          this.onState("restart_failed", err);
          // e.g. room_on_other_server while a dead server's claim on the room runs out, or a
          // timeout: try again; a refusal that will not change (the interview is over) is final
          if (!FINAL_REFUSALS.has(err && err.code)) this.retryTimer = setTimeout(() => this.restart("retry"), RETRY_MS);
        })
        .finally(() => { this.restarting = null; });
    }
    return this.restarting;
  }

  // The server's own offer (tracks of others appeared or went): answer it.
  async answer(data) {
    const pc = this.pc;
    if (!pc || this.closed || !data || !data.sdp) return;
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc, 1000);
      await call(this.socket, "rtc:answer", { ...this.extra, sdp: pc.localDescription.sdp });
    } catch (err) {
      this.onState("renegotiation_failed", err);
    }
  }

  // A recovered camera: swap the track in place (no renegotiation).
  async replaceTrack(track) {
    if (!this.pc) return;
    const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === track.kind)
      || this.pc.getTransceivers().find((t) => t.receiver.track.kind === track.kind && t.direction === "sendonly")?.sender;
    if (sender) await sender.replaceTrack(track);
  }

  close() {
    this.closed = true;
    clearTimeout(this.disconnectTimer);
    clearTimeout(this.retryTimer);
    this.socket.off("rtc:offer", this.onOffer);
    this.socket.off("rtc:reconnect", this.onMoved);
    window.removeEventListener("online", this.onOnline);
    if (this.onNetChange) navigator.connection.removeEventListener("change", this.onNetChange);
    if (this.pc) this.pc.close();
    this.pc = null;
  }
}

// A one-off publish of the camera's video to the server (the live face check, docs/facecheck.md):
// send-only VP8, offered after ICE gathering, answered in the ack of `event`. No restarts: the check
// it serves is short, and a lost connection ends it. Returns {pc, ack}; the caller closes pc.
export async function publishVideo(socket, event, extra, stream) {
  let iceServers = [];
  try { iceServers = (await call(socket, "rtc:config")).ice_servers || []; } catch { /* host candidates only */ }
  const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
  try {
    const track = stream && stream.getVideoTracks()[0];
    if (!track) throw { code: "no_video", message: "no camera" };
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream], sendEncodings: [{ maxBitrate: VIDEO_BITRATE }] });
    preferCodecs(transceiver, "video");
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const ack = await call(socket, event, { ...extra, sdp: pc.localDescription.sdp });
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    await Promise.all(pc.getSenders().map((s) => capBitrate(s)));
    // the check judges a picture of one size: under load the browser drops frames, not resolution
    await Promise.all(pc.getSenders().map(async (s) => {
      try {
        const params = s.getParameters();
        params.degradationPreference = "maintain-resolution";
        await s.setParameters(params);
      } catch { /* best effort: a size change before the first move is allowed anyway */ }
    }));
    return { pc, ack };
  } catch (err) {
    pc.close();
    throw err;
  }
}

// Play a remote stream in a <video>: playsinline; audio plays once the page had a tap (autoplay policy).
export function playStream(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.autoplay = true;
  const p = video.play();
  if (p && p.catch) p.catch(() => { video.muted = true; video.play().catch(() => {}); video.dataset.autoplayMuted = "1"; });
}
