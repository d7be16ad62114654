// The auxiliary camera (双机位, docs/rooms.md): a second phone opened from the QR code on the candidate's
// page. It connects to /aux with the token and a device id kept in localStorage, shows the candidate's
// queue state, and streams its rear camera (video only) once the candidate is in the room.
import { stateLabel, t } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { cameraError, cameraUnavailable, stopStream, watchCamera } from "/static/js/camera.js";
import { inAppBrowser } from "/static/js/device.js";
import { connect, refusal, retrying } from "/static/js/live.js";
import { Peer, retryable } from "/static/js/rtc.js";

const page = $("aux-page");
const video = $("aux-video");
const KEY = "aux.device";
let device = localStorage.getItem(KEY);
if (!/^[A-Za-z0-9]{8,64}$/.test(device || "")) { // letters and digits only (the server's rule)
  device = "dev" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  localStorage.setItem(KEY, device);
}
let stream = null, peer = null, state = null, unwatch = () => {};

if (inAppBrowser()) $("in-app").hidden = false;

function blocked(problem) {
  $("camera-blocked").hidden = !problem;
  if (problem) {
    $("camera-blocked-title").textContent = problem.message;
    $("camera-blocked-advice").textContent = problem.advice || "";
  }
}

async function startRear() {
  const problem = cameraUnavailable();
  if (problem) { blocked(problem); return null; }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } },
      audio: false,
    });
  } catch (err) {
    blocked(cameraError(err));
    return null;
  }
  blocked(null);
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  video.play().catch(() => {});
  $("aux-camera").hidden = true;
  page.dataset.camera = "live";
  unwatch();
  unwatch = watchCamera(video, stream, (p) => {
    page.dataset.camera = p.code;
    $("aux-media").textContent = p.message;
    $("aux-camera").hidden = false;
    $("aux-camera").textContent = t("重新打开摄像头", "Restart camera");
  });
  if (peer) stream.getTracks().forEach((track) => peer.replaceTrack(track));
  return stream;
}

const socket = connect("/aux", { token: page.dataset.token, device });

function showState(s) {
  state = s;
  page.dataset.state = s;
  const text = {
    in_room: t("考生正在面试，本机画面正在传送。", "The candidate is in the interview; this camera is live."),
    called: t("考生已被叫号，即将开始。", "The candidate has been called; starting soon."),
    take_ended: t("本条录制已结束，等待主考手机开始下一条录制。", "The take is over; waiting for the main phone's next take."),
    sitting_over: t("本科目考试已结束，本机画面已随录制保存。", "This subject's exam is over; this camera was saved with the takes."),
    take_recording: t("主考手机正在录制，本机画面一同录制。", "The main phone is recording a take; this camera is recorded with it."),
    done: t("面试已结束，可以关闭本页面。", "The interview is over; you can close this page."),
  }[s] || (["none", "connecting", ""].includes(s || "")
    ? t("已就绪，等待主考手机进入面试或开始录制…", "Ready: waiting for the main phone to enter the interview or start a take…")
    : t("等待主考手机进入面试…当前状态：", "Waiting for the main phone to enter the interview… State: ") + stateLabel(s));
  $("aux-state").textContent = text;
}

function closePeer() {
  if (peer) peer.close();
  peer = null;
  page.dataset.rtc = "";
}

async function joinRoom() {
  if (peer || !["called", "in_room", "take_recording"].includes(state)) return;
  if (!stream && !(await startRear())) return;
  peer = new Peer(socket, { stream, audio: false, video: true, onState: (st) => { page.dataset.rtc = st; } });
  try {
    await peer.join();
    $("aux-media").textContent = t("已连接，正在传送画面。", "Connected; streaming.");
  } catch (err) {
    peer.close();
    peer = null;
    $("aux-media").textContent = err.code !== "aux_wait" ? err.message : state === "take_recording"
      ? t("主考手机的录制尚未开始，稍后自动连接。", "The main phone's take has not started yet; this phone connects by itself.")
      : t("考生尚未进入面试房间，稍后自动连接。", "The candidate is not in the room yet; this phone connects by itself.");
    if (err.code === "aux_wait" || retryable(err)) setTimeout(joinRoom, err.code === "aux_wait" ? 2000 : 3000);
  }
}

socket.on("connect", () => { $("refused").hidden = true; });
socket.on("connect_error", (err) => {
  const why = refusal(err);
  page.dataset.refused = why.code;
  $("refused").hidden = false;
  $("refused-title").textContent = why.message;
  $("refused-text").textContent = {
    aux_device_limit: t("一个二维码最多可供 3 台设备使用。请使用已连接过的辅考手机，或联系考务人员。",
      "One code admits at most 3 devices. Use a phone that connected before, or contact the exam staff."),
    aux_token_invalid: t("二维码已过期或无效，请在主考手机的考试页面重新扫描最新的二维码。",
      "The code has expired or is invalid; scan the current code on the main phone's exam page again."),
  }[why.code] || "";
  if (!retrying(why.code)) socket.disconnect();
});
socket.on("aux:state", (data) => {
  // every take of a recorded exam is a new booth on the server: a new connection for each
  if (data.state === "take_recording" && peer && page.dataset.take !== data.take_id) closePeer();
  page.dataset.take = data.take_id || "";
  showState(data.state);
  joinRoom();
});
socket.on("take:ended", () => { // a take of a recorded exam is over: this camera waits for the next one
  closePeer();
  showState("take_ended");
  $("aux-media").textContent = t("本条录制已结束，主考手机开始下一条录制时本机自动连接。",
    "This take is over; this phone connects by itself when the main phone starts the next take.");
});
socket.on("sitting:ended", (data) => { // a recorded subject's sitting is over (submitted, reset, the deadline)
  closePeer();
  const over = data && data.state !== "reset";
  showState(over ? "sitting_over" : "take_ended");
  $("aux-media").textContent = over
    ? t("本科目的录制考试已结束，可以关闭本页面。如还要录制其他科目，保持本页面打开，主考手机开始录制时本机自动连接。",
      "This subject's recorded exam is over: you can close this page. To film another subject, keep it open; it connects when the main phone starts a take.")
    : t("本场考试已重置，主考手机重新开始录制时本机自动连接。", "The sitting was reset; this phone connects by itself when the main phone starts a new take.");
});
socket.on("room:ended", () => {
  closePeer();
  unwatch();
  stopStream(stream);
  stream = null;
  video.srcObject = null;
  showState("done");
});
$("aux-camera").addEventListener("click", startRear);
startRear();
