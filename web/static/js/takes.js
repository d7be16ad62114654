// The recorded exam's media (docs/recorded.md): the camera for a take (front / rear, portrait / landscape),
// the take's WebRTC publish to the server (take:join, take:restart on a new connection, take:answer to the
// server's offers), the browser's device id, and the words for takes' states and reasons.
//   openTakeCamera(video, {camera, orientation}) -> MediaStream   (throws {code, message, advice})
//   new TakePeer(socket, {stream, takeId, sittingId, onState}); await peer.join(); peer.restart(); peer.close()
//   deviceId() -> a stable id of this browser (one device per sitting)
import { t } from "/static/js/common.js";
import { cameraError, cameraUnavailable, stopStream } from "/static/js/camera.js";
import { call } from "/static/js/live.js";
import { Peer } from "/static/js/rtc.js";

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const RETRY_MS = 3000;
// refusals a new connection will not change: the take or the sitting is over, or the media is refused
const FINAL = new Set(["take_not_found", "take_not_recording", "take_over", "sitting_over", "forbidden", "login_required",
  "media_not_allowed", "no_usable_codec", "sdp_invalid", "sdp_too_large", "not_found"]);

export function deviceId() {
  const key = "recorded-device";
  let id = null;
  try { id = localStorage.getItem(key); } catch { /* private mode: one id per page */ }
  if (!id) {
    id = "dev_" + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    try { localStorage.setItem(key, id); } catch { /* kept for this page only */ }
  }
  return id;
}

export function videoConstraints(camera, orientation) {
  const [w, h] = orientation === "landscape" ? [640, 480] : [480, 640];
  return { facingMode: camera === "rear" ? { ideal: "environment" } : "user", width: { ideal: w }, height: { ideal: h },
    frameRate: { ideal: 15, max: 30 } };
}

// A camera for a take; the old stream is stopped first (phones open one camera at a time).
export async function openTakeCamera(video, { camera = "front", orientation = "portrait", old = null } = {}) {
  const problem = cameraUnavailable();
  if (problem) throw problem;
  stopStream(old);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(camera, orientation), audio: AUDIO });
  } catch (err) {
    throw cameraError(err);
  }
  stream.choice = `${camera}/${orientation}`;
  if (video) {
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play().catch(() => {});
  }
  return stream;
}

// One take's publish: the rooms' Peer with the take's events. The server's offers come as rtc:offer
// with room_id = the sitting's id.
export class TakePeer extends Peer {
  constructor(socket, { stream, takeId, sittingId, onState = () => {} }) {
    super(socket, { stream, extra: { take_id: takeId }, onState });
    this.sittingId = sittingId;
  }

  join() {
    this.closed = false;
    return this.negotiate("take:join");
  }

  concerns(roomId) {
    return roomId === this.sittingId; // a take's media room is its sitting's
  }

  restart(why = "manual") {
    if (this.closed || !this.pc) return Promise.resolve();
    if (!this.restarting) {
      clearTimeout(this.retryTimer);
      this.onState("restarting", why);
      this.restarting = this.negotiate("take:restart")
        .then(() => this.onState("restarted", why))
        .catch((err) => {
          this.onState(FINAL.has(err && err.code) ? "restart_refused" : "restart_failed", err);
          if (!FINAL.has(err && err.code)) this.retryTimer = setTimeout(() => this.restart("retry"), RETRY_MS);
        })
        .finally(() => { this.restarting = null; });
    }
    return this.restarting;
  }

  async answer(data) {
    const pc = this.pc;
    if (!pc || this.closed || !data || !data.sdp) return;
    if (data.room_id && data.room_id !== this.sittingId && data.room_id !== this.extra.take_id) return;
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await call(this.socket, "take:answer", { ...this.extra, sdp: pc.localDescription.sdp });
    } catch (err) {
      this.onState("renegotiation_failed", err);
    }
  }
}

export const takeStateText = (state) => ({
  recording: t("录制中", "Recording"),
  complete: t("已保存", "Saved"),
  cut: t("录制中断（已保存的部分保留）", "Cut short (what was recorded is kept)"),
  failed: t("录制失败", "Recording failed"),
  discarded: t("已作废（已重置）", "Discarded (reset)"),
}[state] || state);

export const endReasonText = (reason) => ({
  stopped: t("录制已停止，视频已保存在服务器上。", "Recording stopped; the take is saved on the server."),
  limit: t("已达到本次最长录制时间，系统已自动停止录制，视频已保存在服务器上。", "The take reached its longest time and was stopped for you; it is saved on the server."),
  connection: t("网络中断时间过长，本次录制已中断；中断前录制的部分已保存。", "The connection was lost for too long; the take was cut, and what was recorded before is kept."),
  deadline: t("考试时间已到，录制已停止。", "The exam time is over; recording stopped."),
}[reason] || "");

export const sittingEndText = (state) => ({
  submitted: t("已提交", "Submitted"),
  auto_submitted: t("考试时间已到，系统已自动提交", "Time is up: submitted for you"),
  absent: t("考试时间已到，未录制完整视频，视为缺考", "Time is up with no complete take: marked absent"),
  reset: t("本次考试已重置", "This sitting was reset"),
}[state] || state);
