// The candidate's interview (docs/design.md): device check -> one tap to turn on sound and join the
// queue -> face check while waiting -> position, wait and the slot's countdown, a voice reminder when
// next -> the room (examiners' video, own preview, timer, quick phrases, recording state) -> the end screen.
import { api, el, label, phraseLabel, stateLabel, t } from "/static/js/common.js";
import { $, fmtClock, fmtDuration, fmtTime, fmtWait } from "/static/js/format.js";
import { audioContext, micMeter, reopenCamera, showCameraDead, stopStream, watchCamera } from "/static/js/camera.js";
import { renderDeviceCheck, runDeviceCheck } from "/static/js/device.js";
import { blocked, showBlockers } from "/static/js/blockers.js";
import { mountFaceCheck } from "/static/js/facecheck.js";
import { call, chime, clockSkew, connect, fresh, refusal, serverNow, speak } from "/static/js/live.js";
import { Peer, playStream } from "/static/js/rtc.js";
import { wireAuxQr } from "/static/js/aux-qr.js";

const page = $("interview-page");
const examId = page.dataset.examId;
const video = $("video");
const IN_LINE = ["waiting_face_check", "waiting"];
const FINISHED = ["done", "removed", "absent"];

let stream = null, meter = null, unwatch = () => {};
let report = null; // the device check's facts, sent with queue:join
let slot = null; // the booked slot this page queues for
let entry = null; // the candidate's last queue State for this exam
let face = null; // the mounted face check
let peer = null, roomId = null, roomSince = null;
let joined = false;
let firstCheck = Promise.resolve(); // the device check started with the page (it opens the camera)
const names = {}; // stream id (participant id) -> name
const freshState = fresh(), freshLine = fresh();

function setStage(stage) {
  page.dataset.stage = stage;
  $("stage-check").hidden = stage !== "check";
  $("stage-join").hidden = stage !== "check";
  $("stage-queue").hidden = stage !== "queue";
  $("stage-room").hidden = stage !== "room";
  $("stage-end").hidden = stage !== "end";
  $("camera-card").hidden = stage === "room" || stage === "end";
  $("aux-card").hidden = !(stage === "queue" || stage === "room");
}

showBlockers();

// --- booking -------------------------------------------------------------------------------------

async function loadBooking() {
  try {
    const [mine, slots] = await Promise.all([api("GET", `/api/candidate/exams/${examId}`),
      api("GET", `/api/candidate/exams/${examId}/slots`)]);
    const booked = mine.subjects.filter((s) => mine.bookings[s.id])
      .map((s) => ({ subject: s, slot: slots.slots.find((x) => x.id === mine.bookings[s.id]) })).filter((b) => b.slot);
    const now = Date.now() / 1000;
    // the slot running now, else the next one, else the last one
    const pick = booked.find((b) => b.slot.starts_at <= now + 1800 && now < b.slot.ends_at)
      || booked.filter((b) => b.slot.starts_at > now).sort((a, b) => a.slot.starts_at - b.slot.starts_at)[0]
      || booked[booked.length - 1];
    if (!pick) {
      $("slot-info").textContent = t("您还没有预约考试时段，请先在“我的考试”中完成预约。", "You have not booked a slot yet; book one under 'My exams' first.");
      $("slot-info").className = "warn";
      return;
    }
    slot = pick.slot;
    page.dataset.slotId = slot.id;
    $("slot-info").textContent = t(`已预约 ${pick.subject.name}：${fmtTime(slot.starts_at)} 开始。请严格按照预约时间进入面试。`,
      `Booked ${pick.subject.name}: starts ${fmtTime(slot.starts_at)}. Enter the interview at your booked time.`);
    tickEarly();
    updateJoinButton();
  } catch (err) {
    $("load-error").textContent = err.message;
    $("load-error").hidden = false;
  }
}

// --- camera and device check ---------------------------------------------------------------------

function useStream(s) {
  stream = s;
  $("placeholder").hidden = true;
  $("camera-dead").hidden = true;
  if (meter) meter.stop();
  const bar = $("mic-level");
  meter = micMeter(stream, (level) => { bar.style.width = Math.round(level * 100) + "%"; });
  unwatch();
  unwatch = watchCamera(video, stream, (problem) => {
    showCameraDead(problem);
    $("camera-card").hidden = false;
    page.dataset.camera = problem.code;
  });
  page.dataset.camera = "live";
  if (peer) {
    stream.getTracks().forEach((track) => peer.replaceTrack(track));
    peer.stream = stream;
    $("self-video").srcObject = stream;
    watchTracks();
  }
}

async function restartCamera() {
  unwatch();
  try {
    useStream(await reopenCamera(video, stream));
    blocked(null);
  } catch (err) {
    blocked(err);
  }
}

async function deviceCheck() {
  $("recheck").hidden = true;
  $("device-summary").hidden = true;
  try {
    const result = await runDeviceCheck({ stream: stream && stream.getVideoTracks()[0]?.readyState === "live" ? stream : null, video });
    renderDeviceCheck($("device-list"), result);
    if (result.stream) { useStream(result.stream); blocked(null); }
    else if (result.error && result.error.code !== "in_app") blocked(result.error);
    report = result.report;
    page.dataset.device = result.ok ? "ok" : "fail";
    const summary = $("device-summary");
    summary.hidden = false;
    summary.className = result.ok ? "ok" : "error";
    summary.textContent = result.ok ? t("设备检测通过。", "The device check passed.")
      : t("设备检测未通过，请按提示处理后重新检测。", "The device check found problems; fix them as shown and check again.");
  } catch (err) {
    blocked({ message: err.message || String(err) });
    page.dataset.device = "fail";
  }
  $("recheck").hidden = false;
  updateJoinButton();
}

function updateJoinButton() {
  $("join").disabled = !(slot && report && page.dataset.device === "ok" && !joined) || armed;
}

// --- too early: say when the queue opens, count down, and join by itself once the candidate has tapped ---

let armed = false; // tapped "join" before the queue opened: join as soon as it opens

const queueOpen = () => !slot || Date.now() / 1000 >= slot.queue_opens_at;

function tickEarly() {
  const box = $("too-early");
  if (!slot || joined || queueOpen()) {
    if (!box.hidden) box.hidden = true;
    page.dataset.early = "";
    $("join").textContent = t("开启声音并进入候考", "Turn on sound and join the queue");
    if (armed && slot && !joined) { armed = false; joinQueue(); }
    return;
  }
  const left = slot.queue_opens_at - Date.now() / 1000;
  page.dataset.early = "1";
  box.hidden = false;
  box.textContent = t(`候考将于 ${fmtTime(slot.queue_opens_at)} 开放（时段开始前 ${Math.round((slot.starts_at - slot.queue_opens_at) / 60)} 分钟），还有 ${fmtDuration(left)}。`
    + (armed ? "声音已开启，请保持本页面打开，到时将自动进入候考。" : "可先完成设备检测；点击下方按钮开启声音后，到时将自动进入候考。"),
  `The queue opens at ${fmtTime(slot.queue_opens_at)} (${Math.round((slot.starts_at - slot.queue_opens_at) / 60)} min before the slot), in ${fmtDuration(left)}. `
    + (armed ? "Sound is on: keep this page open and you join by yourself when it opens." : "Do the device check now; tap below to turn on sound and you join by yourself when it opens."));
  $("join").textContent = armed ? t("已开启声音，到时自动进入候考", "Sound on: joining when the queue opens")
    : t("开启声音，到时自动进入候考", "Turn on sound, join when the queue opens");
}
setInterval(tickEarly, 1000);

// --- sound: one tap, then check the AudioContext really runs -------------------------------------

async function enableSound() {
  const ctx = audioContext();
  let running = false;
  if (ctx) {
    try {
      await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 1500))]);
    } catch { /* judged below */ }
    running = ctx.state === "running";
    if (running) chime(ctx);
  }
  // iOS speaks only after a first utterance inside a tap
  try { if (window.speechSynthesis) speechSynthesis.speak(new SpeechSynthesisUtterance("")); } catch { /* optional */ }
  page.dataset.sound = running ? "on" : "off";
  const status = $("sound-status");
  status.className = running ? "ok" : "warn";
  status.textContent = running ? t("声音已开启。", "Sound is on.")
    : t("声音未能开启：请关闭静音模式、调高音量，再点一次按钮。", "Sound could not be turned on: turn off silent mode, raise the volume and tap again.");
  return running;
}

// --- the queue -----------------------------------------------------------------------------------

const socket = connect("/candidate");

function showProblem(box, err) {
  box.hidden = false;
  box.dataset.code = err.code;
  box.replaceChildren(el("p", { class: "error" }, err.message),
    ...(err.problems || []).map((p) => el("p", { class: "error problem", "data-code": p.code }, "· " + p.message)));
}

// the server's storage is back: a join answered "recovering" may have gone through meanwhile
document.addEventListener("storage-back", async () => {
  const box = $("join-error");
  if (box.dataset.code !== "storage_unavailable" || box.hidden) return;
  const ack = await call(socket, "queue:state").catch(() => ({ entries: [] }));
  const mine = ack.entries.find((e) => e.exam_id === examId);
  box.hidden = true;
  box.dataset.code = "";
  if (mine) {
    joined = true;
    showEntry(mine);
  }
});

async function joinQueue() {
  const box = $("join-error");
  box.hidden = true;
  if (!slot || !report) return;
  const button = $("join");
  button.disabled = true;
  await enableSound();
  if (!queueOpen()) { // too early: the tap turned on sound; the page joins by itself when the queue opens
    armed = true;
    tickEarly();
    updateJoinButton();
    return;
  }
  try {
    const ack = await call(socket, "queue:join", { exam_id: examId, slot_id: slot.id, device: report });
    joined = true;
    showEntry(ack.entry);
  } catch (err) {
    if (err.code === "already_in_queue") {
      joined = true;
      const ack = await call(socket, "queue:state").catch(() => ({ entries: [] }));
      const mine = ack.entries.find((e) => e.exam_id === examId);
      if (mine) return showEntry(mine);
    }
    showProblem(box, err);
    button.disabled = false;
  }
}

function mountFace() {
  if (face) return face.refresh();
  face = mountFaceCheck($("face-box"), examId, video, {
    prompt: $("prompt"),
    onPassed: () => { page.dataset.face = "passed"; },
  });
}

function showEntry(next) {
  if (!next || next.exam_id !== examId) return;
  if (!freshState(next)) return;
  clockSkew(next.at);
  const before = entry;
  entry = next;
  tickClocks(); // the slot's countdown at once, not a second later
  page.dataset.queueState = next.state;
  $("queue-state").textContent = stateLabel(next.state);
  const reason = next.reason_message ? Object.values(next.reason_message)[0] : reasonText(next.reason);
  if (IN_LINE.includes(next.state) || next.state === "review_pending") {
    joined = true;
    if (peer) closeRoom(); // e.g. sent back to the face check after a failed room check
    setStage("queue");
    setPosition(next.position, next.ahead, next.eta_s);
    $("queue-reason").hidden = !reason;
    $("queue-reason").textContent = reason || "";
    if (next.state === "waiting_face_check" || next.state === "review_pending" || next.reason === "face_room_failed") mountFace();
    else if (!face) { // passed before: show it
      mountFace();
    }
  } else if (next.state === "called" || next.state === "in_room") {
    joined = true;
    openRoom(next.room_id, next.room_name);
  } else if (FINISHED.includes(next.state) && (joined || before || peer)) {
    showEnd(next.state, reason);
  }
}

let lastPosition = null;

function setPosition(position, ahead, eta) {
  lastPosition = [position, ahead, eta];
  $("q-position").textContent = position ? t(`第 ${position} 位`, `No. ${position}`) : "—";
  $("q-ahead").textContent = ahead === null || ahead === undefined ? "—" : t(`${ahead} 人`, `${ahead}`);
  const before = entry && entry.slot_starts_at && serverNow() < entry.slot_starts_at;
  $("q-eta").textContent = !position ? "—" : before ? t(`${fmtClock(entry.slot_starts_at)} 开始叫号`, `calls from ${fmtClock(entry.slot_starts_at)}`) : fmtWait(eta);
  page.dataset.position = position || "";
}

function onLine(line) {
  if (!entry || line.room_id !== entry.room_id || !IN_LINE.includes(entry.state) || !freshLine(line)) return;
  clockSkew(line.at);
  const index = line.line.findIndex((item) => item.n === entry.n);
  if (index >= 0) setPosition(index + 1, index, line.line[index].eta_s);
}

function announceNext(data) {
  $("next-banner").hidden = false;
  const text = t("前一位考生已进入面试，下一位就是您，请做好准备。", "The candidate before you has entered the interview. You are next, get ready.");
  const rang = chime(audioContext());
  const spoke = speak(text, document.documentElement.lang === "en" ? "en-GB" : "zh-CN");
  page.dataset.prompted = [spoke && "speech", rang && "chime"].filter(Boolean).join("+") || "none";
  if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
}

function tickClocks() {
  if (entry && entry.slot_ends_at) {
    // before the slot starts nobody is called: count down to its start, not to its end
    const before = entry.slot_starts_at && serverNow() < entry.slot_starts_at;
    $("q-countdown-label").textContent = before ? t("距时段开始", "Slot starts in") : t("本时段剩余", "Slot ends in");
    $("q-countdown").textContent = fmtDuration((before ? entry.slot_starts_at : entry.slot_ends_at) - serverNow());
    if (!before && page.dataset.beforeSlot === "1" && lastPosition) setPosition(...lastPosition); // the slot just started
    page.dataset.beforeSlot = before ? "1" : "";
  }
  if (roomSince) $("room-timer").textContent = fmtDuration(serverNow() - roomSince);
}
setInterval(tickClocks, 1000);

// --- the room ------------------------------------------------------------------------------------

function remoteTile(id) {
  let tile = document.querySelector(`#remote [data-participant="${CSS.escape(id)}"]`);
  if (!tile) {
    const v = el("video", { autoplay: "", playsinline: "" });
    tile = el("figure", { class: "tile", "data-participant": id }, v, el("figcaption", {}, names[id] || t("考官", "Examiner")));
    $("remote").append(tile);
    $("remote-empty").hidden = true;
  }
  return tile;
}

function onStream(remote) {
  const tile = remoteTile(remote.id);
  playStream(tile.querySelector("video"), remote);
}

function onParticipants(data) {
  if (!data || data.room_id !== roomId) return;
  const present = new Set();
  for (const p of data.participants || []) {
    names[p.stream_id || p.id] = p.name;
    present.add(p.stream_id || p.id);
  }
  document.querySelectorAll("#remote [data-participant]").forEach((tile) => {
    if (!present.has(tile.dataset.participant)) tile.remove();
    else tile.querySelector("figcaption").textContent = names[tile.dataset.participant] || "";
  });
  $("remote-empty").hidden = Boolean(document.querySelector("#remote [data-participant]"));
}

function roomStatus(state) {
  const text = {
    new: t("正在连接…", "Connecting…"), connecting: t("正在连接…", "Connecting…"),
    connected: t("已连接，请正面面对摄像头。", "Connected. Face the camera."),
    disconnected: t("网络不稳定，正在恢复连接…", "The network is unstable; reconnecting…"),
    failed: t("连接中断，正在重新连接…", "The connection dropped; reconnecting…"),
    restarting: t("网络变化，正在重新连接…", "The network changed; reconnecting…"),
    restart_failed: t("重新连接失败，请检查网络；系统会继续尝试。", "Reconnecting failed; check the network. Retrying."),
  }[state];
  page.dataset.rtc = state;
  if (text) $("room-status").textContent = text;
}

async function openRoom(id, name) {
  if (peer && roomId === id) return;
  roomId = id;
  setStage("room");
  $("room-name").textContent = name || "";
  $("next-banner").hidden = true;
  const self = $("self-video");
  self.muted = true;
  self.srcObject = stream;
  self.play().catch(() => {});
  const pc = new Peer(socket, { stream, extra: { room_id: id }, onStream, onState: roomStatus });
  peer = pc;
  if (!stream) { // e.g. the page was reloaded while called: the camera is still opening
    await Promise.race([firstCheck, new Promise((r) => setTimeout(r, 15000))]);
    if (peer !== pc) return;
    pc.stream = stream;
    self.srcObject = stream;
    self.play().catch(() => {});
  }
  try {
    await peer.join();
    roomSince = serverNow();
    page.dataset.inRoom = "1";
    watchTracks();
    watchBattery();
  } catch (err) {
    $("room-status").textContent = err.message || String(err);
    page.dataset.rtc = "join_failed:" + (err.code || "");
    if (err.code !== "room_not_admitted") setTimeout(() => { if (peer && page.dataset.stage === "room") peer.join().catch(() => {}); }, 3000);
  }
}

// While in the interview the page reports on itself (room:device; docs/facecheck.md "Watching the interview"):
// switched away or back, its camera or microphone muted, ended or live again, the battery's level. The server
// rate-limits these; a refusal is nothing to show.
function reportDevice(event, extra = {}) {
  if (!peer || !roomId || page.dataset.inRoom !== "1") return;
  call(socket, "room:device", { room_id: roomId, event, ...extra }).catch(() => {});
}
document.addEventListener("visibilitychange", () => reportDevice(document.hidden ? "hidden" : "visible"));
const watchedTracks = new WeakSet();
function watchTracks() {
  for (const track of (stream && stream.getTracks()) || []) {
    if (watchedTracks.has(track)) continue;
    watchedTracks.add(track);
    const kind = track.kind === "video" ? "camera" : "microphone";
    track.addEventListener("mute", () => reportDevice(`${kind}_muted`));
    track.addEventListener("unmute", () => reportDevice(`${kind}_live`));
    track.addEventListener("ended", () => reportDevice(`${kind}_ended`));
    if (page.dataset.inRoom === "1") reportDevice(`${kind}_live`); // a camera reopened: live again
  }
}
let battery = null;
async function watchBattery() {
  if (battery || !navigator.getBattery) return;
  try { battery = await navigator.getBattery(); } catch { return; }
  const report = () => reportDevice("battery", { level: Math.round(battery.level * 100), charging: battery.charging });
  battery.addEventListener("levelchange", report);
  battery.addEventListener("chargingchange", report);
  report();
}

function closeRoom() {
  if (peer) peer.close();
  peer = null;
  roomId = null;
  roomSince = null;
  document.querySelectorAll("#remote [data-participant]").forEach((tile) => tile.remove());
  $("remote-empty").hidden = false;
  $("self-video").srcObject = null;
}

// The room-entry face check (room:face, the examiners' too): the candidate is told only what helps them. While it
// runs, and when it could not be done (no video, the server busy: the examiners retry or confirm), nothing is
// their fault; a failure names the reason.
function onFace(data) {
  const box = $("room-face");
  const state = data.state || (data.passed ? "verified" : data.passed === false ? "failed" : "checking");
  box.hidden = state === "off";
  box.dataset.state = state;
  if (data.passed !== null && data.passed !== undefined) box.dataset.passed = String(Boolean(data.passed));
  else delete box.dataset.passed;
  const why = data.message && typeof data.message === "object" ? (data.message[document.documentElement.lang === "en" ? "en" : "zh"] || data.message.zh) : data.message;
  box.className = state === "failed" ? "error" : state === "verified" || state === "overridden" ? "ok" : "hint";
  box.textContent = {
    checking: t("正在进行入场人脸核验，请保持正脸在画面中。", "The room's face check is running: keep your face in the picture."),
    verified: t("入场人脸核验通过。", "The room's face check passed."),
    overridden: t("入场人脸核验通过。", "The room's face check passed."),
    unverified: t("入场人脸核验暂未完成，考官会处理，请保持正脸在画面中。", "The room's face check is not done yet; the examiners will see to it. Keep your face in the picture."),
    failed: why || t("入场人脸比对未通过，请重新进行人脸比对。", "The room's face check failed; do the face check again."),
  }[state] || "";
}

// While the interview is watched (docs/facecheck.md "Watching the interview"): only what helps the candidate, shown
// a while and spoken ("请保持正脸在画面中"); never which flag the examiners see.
let promptTimer = null;
function onPrompt(data) {
  const box = $("room-prompt");
  const zh = document.documentElement.lang !== "en";
  box.textContent = (data.message && (zh ? data.message.zh : data.message.en || data.message.zh)) || "";
  box.hidden = !box.textContent;
  clearTimeout(promptTimer);
  promptTimer = setTimeout(() => { box.hidden = true; }, 8000);
  const spoke = data.speak && box.textContent ? speak(box.textContent, zh ? "zh-CN" : "en-GB") : false;
  page.dataset.prompted = spoke ? "speech" : "none";
}

function onRecording(data) {
  const rec = $("rec");
  rec.dataset.state = data.state;
  rec.textContent = { recording: t("● 录制中", "● Recording"), failed: t("录制异常", "Recording failed"),
    stopped: t("录制已停止", "Recording stopped") }[data.state] || data.state;
}

// A reason code the server sent without its message, in the candidate's words (queue_reason_* messages).
function reasonText(reason) {
  return reason ? label(`queue_reason_${reason}`, reason) : reason;
}

function showEnd(state, reason) {
  closeRoom();
  setStage("end");
  page.dataset.end = state;
  const done = state === "done";
  $("end-title").textContent = done ? t("面试已结束", "The interview is over")
    : state === "removed" ? t("您已被退出面试", "You were taken out of the interview") : t("您已离开候考队列", "You have left the queue");
  $("end-text").textContent = done
    ? t("考生面试完成后，会自动退出面试房间，无需手动操作。感谢您参加考试。", "The interview has finished and you have left the room automatically. Thank you.")
    : t("如考生在考试的时段内进入面试后，被退出考试，请仔细查看提示原因，调整后再次进入即可。",
      "If you were taken out during your slot, read the reason, fix it and join again.");
  $("end-reason").hidden = !reason || done;
  $("end-reason").textContent = reason ? t("原因：", "Reason: ") + reason : "";
  const open = entry && entry.slot_ends_at && serverNow() < entry.slot_ends_at;
  $("reenter").hidden = done || !open;
  if (done) { unwatch(); if (meter) meter.stop(); stopStream(stream); }
}

function onEnded(data) {
  const reason = data.reason_message ? Object.values(data.reason_message)[0] : reasonText(data.reason);
  showEnd(data.state, reason);
}

async function reenter() {
  $("reenter").disabled = true;
  joined = false;
  if (!stream || stream.getVideoTracks()[0]?.readyState !== "live") await restartCamera();
  setStage("check");
  await joinQueue();
  $("reenter").disabled = false;
}

// The quick phrases' codes (server/signaling/candidate.py PHRASES); their words are the server's phrase_* messages,
// the same the examiners see.
const PHRASES = ["cant_hear", "cant_see", "frozen", "echo", "repeat", "ready"];

function phraseButtons() {
  $("phrases").replaceChildren(...PHRASES.map((code) => el("button", {
    type: "button", class: "secondary small", "data-phrase": code,
    onclick: async (ev) => {
      const status = $("phrase-status");
      ev.target.disabled = true;
      try {
        await call(socket, "room:phrase", { room_id: roomId, phrase: code });
        status.className = "ok";
        status.textContent = t("已发送：", "Sent: ") + phraseLabel(code);
      } catch (err) {
        status.className = "error";
        status.textContent = err.message;
      } finally {
        setTimeout(() => { ev.target.disabled = false; }, 1500);
      }
    },
  }, phraseLabel(code))));
}

// --- socket events -------------------------------------------------------------------------------

socket.on("connect", () => { $("offline").hidden = true; page.dataset.socket = "up"; });
socket.on("disconnect", () => {
  page.dataset.socket = "down";
  $("offline").hidden = false;
  $("offline").textContent = t("网络连接中断，正在重新连接…短时间内恢复可保留您的排队位置。",
    "The connection dropped; reconnecting… Your place is kept if you are back soon.");
});
socket.on("connect_error", (err) => {
  const why = refusal(err);
  $("offline").hidden = false;
  $("offline").textContent = why.message;
  if (why.code === "login_required") location.href = "/login?next=" + encodeURIComponent(location.pathname);
});
socket.on("queue:snapshot", (data) => {
  const mine = (data.entries || []).filter((e) => e.exam_id === examId);
  const active = mine.find((e) => !FINISHED.includes(e.state)) || null;
  // the interview on screen may have ended while a push was lost (a Redis outage): the snapshot says so
  const ended = !active && roomId ? mine.find((e) => e.room_id === roomId) : null;
  if (active || ended) showEntry(active || ended);
});
socket.on("queue:state", showEntry);
socket.on("queue:line", onLine);
socket.on("queue:next", announceNext);
socket.on("queue:called", (data) => { if (data.exam_id === examId || !data.exam_id) openRoom(data.room_id, data.room_name); });
socket.on("room:participants", onParticipants);
socket.on("room:face", onFace);
socket.on("room:prompt", onPrompt);
socket.on("room:recording", onRecording);
socket.on("room:ended", onEnded);

$("join").addEventListener("click", joinQueue);
$("recheck").addEventListener("click", deviceCheck);
$("camera-restart").addEventListener("click", restartCamera);
$("reenter").addEventListener("click", reenter);
wireAuxQr($("aux-card"), examId);
phraseButtons();
setStage("check");
loadBooking();
firstCheck = deviceCheck();
addEventListener("pagehide", () => { unwatch(); if (meter) meter.stop(); if (peer) peer.close(); stopStream(stream); });
