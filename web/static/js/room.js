// The examiner's room (desktop): the room's queue live, call next, the candidate's main and auxiliary
// video, own preview, the room's face check, the interview timer against the subject's length,
// end / remove with a reason, the candidate's quick phrases, the recorder's real state.
import { el, faceStatusLabel, label, lang, reasonLabel, stateLabel, t } from "/static/js/common.js";
import { $, fmtClock, fmtDuration } from "/static/js/format.js";
import { audioContext, startCamera } from "/static/js/camera.js";
import { call, chime, clockSkew, connect, fresh, refusal, retrying, serverNow } from "/static/js/live.js";
import { Peer, playStream, retryable } from "/static/js/rtc.js";

const page = $("room-page");
const roomId = page.dataset.roomId;
let lengthS = Number(page.dataset.lengthS) || 600;
let room = null; // the last Room
let current = null; // the called / interviewed candidate
let peer = null, selfStream = null;
let face = null; // room:face of the current candidate: its state, reason, message
const flags = new Map(); // kind -> room:flag raised for the current candidate (docs/facecheck.md "Watching the interview")
let ended = null; // {interview_id, name}: an ended interview whose unverified check blocks its marks (marking.js)
const streams = {}; // participant id -> MediaStream
const kinds = {}; // participant id -> {kind, name}
const isFresh = fresh();
let soundOn = true; // chimes are audible once the page had a click (the browser's autoplay rule)

const socket = connect("/examiner", { room_id: roomId });

// --- the queue -----------------------------------------------------------------------------------

function signature(r) {
  return JSON.stringify([r.line.map((e) => [e.account_id, e.state, e.face_status, e.connected]), r.current && [r.current.account_id, r.current.state]]);
}

function onRoom(r) {
  if (!r || r.room_id !== roomId || !isFresh(r)) return;
  clockSkew(r.at);
  const changed = room && signature(room) !== signature(r);
  const arrived = room && r.waiting > room.waiting;
  room = r;
  page.dispatchEvent(new CustomEvent("queue-room", { detail: r })); // the marking card (marking.js)
  if (r.average_interview_s) page.dataset.averageS = r.average_interview_s;
  renderQueue(r);
  setCurrent(r.current);
  if (changed && soundOn) chime(audioContext());
  if (changed) page.dataset.changes = String(Number(page.dataset.changes || 0) + 1);
  if (arrived) flash($("queue"));
}

function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth;
  node.classList.add("flash");
}

function waited(entry) {
  return entry.joined_at ? fmtDuration(serverNow() - entry.joined_at) : entry.waiting_s !== null ? fmtDuration(entry.waiting_s) : "—";
}

function renderQueue(r) {
  $("waiting-count").textContent = r.waiting;
  $("queue-facts").textContent = t(`等待 ${r.waiting} 人 · 最长等待 ${fmtDuration(r.longest_wait_s)} · 平均面试时长 ${fmtDuration(r.average_interview_s)}`,
    `${r.waiting} waiting · longest wait ${fmtDuration(r.longest_wait_s)} · average interview ${fmtDuration(r.average_interview_s)}`);
  $("queue-table").tBodies[0].replaceChildren(...(r.line.length ? r.line.map((e) => el("tr", { "data-account": e.account_id, "data-state": e.state },
    el("td", { class: "num" }, String(e.position)),
    el("td", {}, e.name || e.account_id),
    el("td", {}, stateLabel(e.state)),
    el("td", { class: "face-" + e.face_status }, faceStatusLabel(e.face_status)),
    el("td", { class: e.connected ? "ok" : "error" }, e.connected ? t("在线", "online") : t("已断线", "disconnected")),
    el("td", { class: "num waited", "data-joined": e.joined_at || "" }, waited(e))))
    : [el("tr", {}, el("td", { colspan: "6", class: "empty" }, t("暂无考生候考", "Nobody is waiting")))]));
  $("recent-table").tBodies[0].replaceChildren(...r.recent.slice(0, 20).map((e) => el("tr", { "data-account": e.account_id },
    el("td", {}, e.name || e.account_id), el("td", {}, stateLabel(e.state)),
    el("td", { "data-reason": e.reason || "" }, reasonLabel(e.reason)))));
}

function setCurrent(c) {
  const before = current;
  current = c;
  const same = before && c && before.account_id === c.account_id;
  if (!same) {
    face = null;
    flags.clear();
    renderFlags();
    $("phrases").replaceChildren(el("li", { class: "empty" }, t("暂无", "None yet")));
  }
  $("current-name").textContent = c ? c.name || c.account_id : t("当前无考生", "No candidate in the room");
  $("current-state").textContent = c ? stateLabel(c.state) : "";
  page.dataset.current = c ? c.account_id : "";
  page.dataset.currentState = c ? c.state : "";
  $("end").disabled = !c;
  $("remove-form").querySelector("button").disabled = !c;
  $("call-next").disabled = Boolean(c);
  renderFace();
  placeStreams();
}


// The room-entry face check fails closed: "unverified" shows why, with a retry and an override. An
// ended interview's check (named by the marking card when a seal is refused) can only be overridden.
function renderFace() {
  const state = (current && face && face.state) || "none";
  const badge = $("face-badge");
  badge.dataset.state = state;
  badge.textContent = label(`room_face_${state}`, label("room_face_none"));
  const box = $("face-check");
  const later = Boolean(ended) && !(face && face.interview_id === ended.interview_id && current);
  box.dataset.state = later ? "unverified" : state;
  box.hidden = !later && (!current || !["unverified", "failed", "overridden", "checking"].includes(state));
  const why = face && face.message ? face.message[lang] || face.message.zh : "";
  $("face-detail").textContent = later
    ? t(`${ended.name}：入场人脸核验未通过，提交评分前须由考官说明理由人工确认身份`,
      `${ended.name}: the room face check did not pass; confirm the identity with a reason before submitting marks`)
    : state === "overridden"
      ? t(`已由考官人工确认：${face.override_reason}`, `Confirmed by an examiner: ${face.override_reason}`)
      : state === "checking" ? t("正在从考生的视频中核验人脸，请稍候…", "Checking the face in the candidate's video…")
        : why ? t(`未核验：${why}`, `Not verified: ${why}`) : "";
  const open = !later && state === "unverified";
  $("face-retry").disabled = !open;
  $("face-retry").closest(".inline-form").hidden = !open;
  $("face-override").hidden = !open && !later;
  box.querySelector(".hint").hidden = !open;
}

function checkedInterview() {
  return ended && !(current && face && face.interview_id === ended.interview_id) ? ended.interview_id
    : face && face.interview_id;
}

setInterval(() => {
  document.querySelectorAll("#queue-table td.waited[data-joined]").forEach((td) => {
    if (td.dataset.joined) td.textContent = fmtDuration(serverNow() - Number(td.dataset.joined));
  });
  const timer = $("timer");
  if (current && current.since) {
    const s = serverNow() - current.since;
    timer.textContent = fmtDuration(s);
    timer.classList.toggle("over", s > lengthS);
  } else timer.textContent = "00:00";
}, 1000);

// --- actions -------------------------------------------------------------------------------------

function actionError(err) {
  const box = $("action-error");
  box.hidden = !err;
  box.textContent = err ? err.message : "";
  box.dataset.code = err ? err.code : "";
  box.dataset.why = (err && err.why) || ""; // nobody_ready: face_check_pending | disconnected | slot_not_started | mixed
}

// the server's storage is back: the refusal's message goes (what the action did arrives as a push)
document.addEventListener("storage-back", () => {
  if ($("action-error").dataset.code === "storage_unavailable") actionError(null);
});

$("call-next").addEventListener("click", async () => {
  audioContext(); // a click: alerts may play from now on
  actionError(null);
  $("call-next").disabled = true;
  try {
    const ack = await call(socket, "queue:call_next");
    page.dataset.called = ack.account_id;
  } catch (err) {
    actionError(err);
    $("call-next").disabled = false;
  }
});

$("end").addEventListener("click", async () => {
  if (!current) return;
  if (!window.confirm(t(`结束 ${current.name} 的面试？`, `End ${current.name}'s interview?`))) return;
  actionError(null);
  try {
    await call(socket, "queue:end", { account_id: current.account_id });
  } catch (err) {
    actionError(err);
  }
});

$("face-retry").addEventListener("click", async () => {
  if (!current) return;
  const box = $("face-check");
  box.querySelector(":scope > .error")?.remove();
  $("face-retry").disabled = true;
  try {
    await call(socket, "room:face_retry", { interview_id: face && face.interview_id });
  } catch (err) {
    box.append(el("p", { class: "error", role: "alert" }, err.message));
    $("face-retry").disabled = false;
  }
});

$("face-override").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const input = form.elements.reason;
  form.querySelector(".error")?.remove();
  input.removeAttribute("aria-invalid");
  const interviewId = checkedInterview();
  if (!interviewId) return;
  try {
    await call(socket, "room:face_override", { interview_id: interviewId, reason: input.value.trim() });
    input.value = "";
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    form.append(el("p", { class: "error", role: "alert" }, err.message));
  }
});

$("remove-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const input = form.elements.reason;
  form.querySelector(".error")?.remove();
  input.removeAttribute("aria-invalid");
  if (!current) return;
  try {
    await call(socket, "queue:remove", { account_id: current.account_id, reason: input.value.trim() });
    input.value = "";
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    form.append(el("p", { class: "error", role: "alert" }, err.message));
  }
});

$("sound").addEventListener("click", () => {
  const ctx = audioContext();
  soundOn = Boolean(ctx);
  if (ctx) ctx.resume().then(() => chime(ctx)).catch(() => {});
  $("sound").textContent = t("提示音已开启", "Alerts on");
  $("sound").disabled = true;
});

// --- media ---------------------------------------------------------------------------------------

function placeStreams() {
  const cand = current && streams[current.account_id];
  const main = $("cand-video"), aux = $("aux-video");
  if (cand) { playStream(main, cand); $("cand-empty").hidden = true; }
  else if (main.srcObject) { main.srcObject = null; $("cand-empty").hidden = false; }
  const auxId = Object.keys(streams).find((id) => (kinds[id] && kinds[id].kind === "aux") || id.startsWith("aux_"));
  if (auxId) { playStream(aux, streams[auxId]); $("aux-empty").hidden = true; }
  else if (aux.srcObject) { aux.srcObject = null; $("aux-empty").hidden = false; }
  const others = Object.keys(streams).filter((id) => id !== auxId && !(current && id === current.account_id)
    && (!kinds[id] || kinds[id].kind === "examiner"));
  const box = $("other-examiners");
  box.querySelectorAll("figure").forEach((f) => { if (!others.includes(f.dataset.participant)) f.remove(); });
  for (const id of others) {
    let fig = box.querySelector(`[data-participant="${CSS.escape(id)}"]`);
    if (!fig) {
      fig = el("figure", { "data-participant": id }, el("video", { autoplay: "", playsinline: "" }), el("figcaption", {}, ""));
      box.append(fig);
    }
    fig.querySelector("figcaption").textContent = (kinds[id] && kinds[id].name) || t("考官", "Examiner");
    playStream(fig.querySelector("video"), streams[id]);
  }
}

function onStream(stream) {
  streams[stream.id] = stream;
  placeStreams();
}

function onParticipants(data) {
  if (!data) return;
  const present = new Set();
  for (const p of data.participants || []) {
    const id = p.stream_id || p.id;
    kinds[id] = { kind: p.kind, name: p.name };
    present.add(id);
  }
  for (const id of Object.keys(streams)) if (!present.has(id)) delete streams[id];
  placeStreams();
}

function mediaStatus(state) {
  page.dataset.rtc = state;
  const text = {
    connecting: t("正在连接媒体服务器…", "Connecting to the media server…"),
    connected: t("媒体已连接", "Media connected"),
    disconnected: t("网络不稳定，正在恢复…", "Network unstable; recovering…"),
    failed: t("连接中断，正在重新连接…", "Connection lost; reconnecting…"),
    restarting: t("正在重新连接…", "Reconnecting…"),
    restart_failed: t("重新连接失败，稍后自动重试…", "Reconnecting failed; retrying shortly…"),
  }[state];
  if (text) $("media-status").textContent = text;
}

async function joinMedia() {
  if (peer) return;
  try {
    selfStream = await startCamera($("self-video"));
  } catch (err) {
    $("media-status").textContent = `${err.message}。${err.advice || ""}`;
    selfStream = null; // receive only
  }
  peer = new Peer(socket, { stream: selfStream, onStream, onState: mediaStatus });
  try {
    await peer.join();
  } catch (err) {
    $("media-status").textContent = t("无法加入媒体房间：", "Cannot join the media room: ") + err.message;
    page.dataset.rtc = "join_failed:" + (err.code || "");
    peer.close();
    peer = null;
    // a server busy or the room moving to another server: try again by itself
    if (retryable(err)) setTimeout(() => { if (!peer && socket.connected) joinMedia(); }, 3000);
  }
}

// --- socket events -------------------------------------------------------------------------------

socket.on("connect", () => { $("conn").hidden = true; page.dataset.socket = "up"; joinMedia(); });
socket.on("disconnect", () => {
  page.dataset.socket = "down";
  $("conn").hidden = false;
  $("conn").textContent = t("与服务器的连接中断，正在重新连接…", "Lost the connection to the server; reconnecting…");
});
socket.on("connect_error", (err) => {
  const why = refusal(err);
  $("conn").hidden = false;
  $("conn").textContent = why.message;
  page.dataset.refused = why.code;
  if (why.code === "login_required") location.href = "/login?next=" + encodeURIComponent(location.pathname);
  if (!retrying(why.code)) socket.disconnect(); // refused for good: do not retry
});
socket.on("queue:room", onRoom);
socket.on("room:participants", onParticipants);
socket.on("marks:status", (status) => page.dispatchEvent(new CustomEvent("marks-status", { detail: status })));
socket.on("room:face", (data) => {
  if (ended && data.interview_id === ended.interview_id && data.state === "overridden") ended = null;
  if (current && data.account_id === current.account_id) face = data;
  renderFace();
});
page.addEventListener("room-check-needed", (ev) => { // marking.js: a seal refused (room_check_unverified)
  ended = ev.detail;
  renderFace();
});
// Flags of the watched interview: a badge on the candidate's video per raised flag, with its time; gone once cleared.
function renderFlags() {
  const list = $("flags");
  list.replaceChildren(...[...flags.values()].map((f) => el("li", { class: "flag", "data-kind": f.kind },
    el("strong", {}, (f.label && (f.label[lang] || f.label.zh)) || f.kind), " ",
    el("span", { class: "flag-time" }, fmtClock(f.at || serverNow(), { seconds: true, zone: false })))));
  list.hidden = flags.size === 0;
}
socket.on("room:flag", (data) => {
  if (!current || data.account_id !== current.account_id) return;
  if (data.state === "raised") flags.set(data.kind, data);
  else flags.delete(data.kind);
  renderFlags();
  if (data.state === "raised") { flash($("flags")); if (soundOn) chime(audioContext()); }
});
socket.on("room:recording", (data) => {
  const rec = $("rec");
  // "stopped" before anything was recorded (an examiner alone in the room) is not a stopped recording
  const never = data.state === "stopped" && (!data.interview_id || (data.tracks === 0 && !data.bytes));
  if (never) {
    rec.dataset.state = "none";
    rec.setAttribute("role", "status");
    rec.textContent = t("未开始录制", "Not recording yet");
    return;
  }
  rec.dataset.state = data.state;
  rec.setAttribute("role", data.state === "failed" ? "alert" : "status");
  rec.textContent = data.state === "recording"
    ? t(`● 录制中 · ${data.tracks || 0} 路 · ${Math.round((data.bytes || 0) / 1024 / 1024 * 10) / 10} MB`,
      `● Recording · ${data.tracks || 0} tracks · ${Math.round((data.bytes || 0) / 1024 / 1024 * 10) / 10} MB`)
    : data.state === "failed" ? t("录制失败：", "Recording FAILED: ") + (data.error || "")
      : t("录制已停止", "Recording stopped");
});
socket.on("room:phrase", (data) => {
  const list = $("phrases");
  list.querySelector(".empty")?.remove();
  const time = fmtClock(data.at || serverNow(), { seconds: true, zone: false }); // the heading says 北京时间
  const text = (data.message && (data.message[lang] || data.message.zh)) || data.phrase;
  list.prepend(el("li", { "data-phrase": data.phrase }, el("span", { class: "hint" }, time + " "), el("strong", {}, data.name || ""), "：", text));
  if (soundOn) chime(audioContext());
  flash(list);
});
$("length").textContent = fmtDuration(lengthS);
