// The proctor's live view of one exam over socket.io (/proctor): every room at a glance (who is in,
// how many wait, the longest wait, idle rooms), every candidate's state with filters, a candidate's
// timeline from the audit stream (proctor:history), and the review queue refreshed when it changes.
import { el, faceStatusLabel, reasonLabel, stateLabel, t } from "/static/js/common.js";
import { $, fmtDuration, fmtSeconds } from "/static/js/format.js";
import { call, clockSkew, connect, fresh, refusal, retrying, serverNow } from "/static/js/live.js";
import { auditDetails, eventLabel, knownNames, roleLabel } from "/static/js/proctor-lib.js";
const root = $("proctor-page");
let socket = null, examId = "";
let rooms = {}; // room id -> Room
let freshness = {};
const GROUPS = { line: ["waiting_face_check", "waiting"], room: ["called", "in_room"] };

function open(id) {
  if (socket) socket.disconnect();
  rooms = {};
  freshness = {};
  examId = id;
  render();
  $("live-error").hidden = true;
  root.dataset.live = "";
  if (!id) return;
  localStorage.setItem("proctor.live", id);
  const audit = document.querySelector("#audit-form [name=exam_id]");
  if (audit && !audit.value) audit.value = id;
  socket = connect("/proctor", { exam_id: id });
  socket.on("connect", () => { $("live-state").textContent = t("实时", "live"); root.dataset.live = "up"; });
  socket.on("disconnect", () => { $("live-state").textContent = t("连接中断，正在重连…", "reconnecting…"); root.dataset.live = "down"; });
  socket.on("connect_error", (err) => {
    const why = refusal(err);
    $("live-error").textContent = why.message;
    $("live-error").hidden = false;
    if (!retrying(why.code)) socket.disconnect();
  });
  socket.on("proctor:snapshot", (snap) => {
    rooms = Object.fromEntries(snap.rooms.map((r) => [r.room_id, r]));
    snap.rooms.forEach((r) => clockSkew(r.at));
    render();
    learnNames();
    dispatchEvent(new Event("proctor-reviews"));
  });
  socket.on("proctor:room", (r) => {
    freshness[r.room_id] = freshness[r.room_id] || fresh();
    if (!freshness[r.room_id](r)) return;
    clockSkew(r.at);
    rooms[r.room_id] = r;
    render();
    learnNames();
  });
  socket.on("proctor:reviews", () => dispatchEvent(new Event("proctor-reviews")));
  socket.on("proctor:flag", onFlag);
  socket.on("proctor:alarm", onAlarm);
}

// The server samples fewer frames than it should (its face pool is behind): shown until it says it keeps
// up again, with the node and how far apart the samples are meanwhile.
const degradedNodes = new Map();
function onAlarm(a) {
  if (a.kind !== "monitoring_degraded") return;
  if (a.state === "raised") degradedNodes.set(a.node, a);
  else degradedNodes.delete(a.node);
  const box = $("monitor-alarm");
  box.hidden = degradedNodes.size === 0;
  box.replaceChildren(...[...degradedNodes.values()].map((d) => el("span", { "data-node": d.node },
    (d.message && (d.message[document.documentElement.lang === "en" ? "en" : "zh"] || d.message.zh)) || d.kind,
    t(`（${fmtSeconds(d.at, { zone: false })} 起，节点 ${d.node}，约每 ${d.interval_s} 秒抽帧一次）`,
      ` (since ${fmtSeconds(d.at, { zone: false })}, node ${d.node}, a sample every ${d.interval_s} s)`))));
}

// Flags of the exam's watched interviews (docs/facecheck.md "Watching the interview"), newest first: who, which
// room, what and when, with the frame that raised it; a cleared flag stays listed, marked cleared.
function onFlag(f) {
  const list = $("flag-list");
  list.querySelector(".empty")?.remove();
  const room = rooms[f.room_id];
  const what = (f.label && (f.label[document.documentElement.lang === "en" ? "en" : "zh"] || f.label.zh)) || f.kind;
  const when = fmtSeconds(f.at, { zone: false });
  const known = list.querySelector(`[data-flag="${CSS.escape(f.flag_id)}"]`);
  if (f.state === "cleared") {
    if (known) { known.dataset.state = "cleared"; known.querySelector(".flag-state").textContent = t(` · ${when} 已恢复`, ` · cleared ${when}`); }
    return;
  }
  list.prepend(el("li", { "data-flag": f.flag_id, "data-kind": f.kind, "data-state": "raised" },
    f.snapshot_url ? el("img", { src: f.snapshot_url, alt: t("异常画面", "The frame"), class: "flag-snapshot", loading: "lazy" }) : "",
    el("span", { class: "hint" }, when + " "), el("strong", {}, f.name || f.account_id), " · ", room ? room.name : "", " · ", what,
    el("span", { class: "flag-state hint" }, "")));
}

// The live exam's rooms and candidates by id: the audit log and the timeline show names, not ids.
function learnNames() {
  let learned = false;
  const learn = (id, name) => { if (id && name && knownNames[id] !== name) { knownNames[id] = name; learned = true; } };
  for (const r of Object.values(rooms)) {
    learn(r.room_id, r.name);
    [r.current, ...r.line, ...r.recent].forEach((e) => e && learn(e.account_id, e.name));
  }
  if (learned) dispatchEvent(new Event("proctor-names"));
}

function people() {
  const out = [];
  for (const r of Object.values(rooms)) {
    if (r.current) out.push({ ...r.current, room: r });
    r.line.forEach((e) => out.push({ ...e, room: r }));
    r.recent.forEach((e) => out.push({ ...e, room: r }));
  }
  return out;
}

function render() {
  const list = Object.values(rooms).sort((a, b) => a.name.localeCompare(b.name, "zh"));
  const waiting = list.reduce((n, r) => n + r.waiting, 0);
  const idle = list.filter((r) => r.idle).length;
  const longest = Math.max(0, ...list.map((r) => r.longest_wait_s || 0));
  $("live-summary").textContent = examId ? t(`${list.length} 个考场，${list.length - idle} 个面试中，${idle} 个空闲；共 ${waiting} 人候考，最长等待 ${fmtDuration(longest)}`,
    `${list.length} rooms, ${list.length - idle} interviewing, ${idle} idle; ${waiting} waiting, longest wait ${fmtDuration(longest)}`) : "";
  $("rooms-grid").replaceChildren(...list.map((r) => el("div", { class: "room-tile", "data-room": r.room_id, "data-idle": String(r.idle) },
    el("h3", {}, r.name, " ", el("span", { class: "badge" }, r.idle ? t("空闲", "idle") : t("面试中", "busy"))),
    el("dl", {},
      el("dt", {}, t("当前", "In room")), el("dd", { class: "current" }, r.current ? `${r.current.name} · ${stateLabel(r.current.state)}` : "—"),
      el("dt", {}, t("候考", "Waiting")), el("dd", { class: "waiting" }, String(r.waiting)),
      el("dt", {}, t("最长等待", "Longest wait")), el("dd", {}, fmtDuration(r.longest_wait_s || 0)),
      el("dt", {}, t("平均面试", "Average")), el("dd", {}, fmtDuration(r.average_interview_s || 0))))));
  renderPeople();
}

function renderPeople() {
  const filter = $("state-filter").value;
  const name = $("name-filter").value.trim();
  const rows = people().filter((p) => {
    if (name && !(p.name || "").includes(name)) return false;
    if (!filter) return true;
    if (filter === "disconnected") return !p.connected && [...GROUPS.line, ...GROUPS.room].includes(p.state);
    return (GROUPS[filter] || [filter]).includes(p.state);
  });
  $("cand-table").tBodies[0].replaceChildren(...(rows.length ? rows.map((p) => el("tr", { "data-account": p.account_id, "data-state": p.state },
    el("td", {}, p.name || p.account_id),
    el("td", {}, p.room.name),
    el("td", {}, stateLabel(p.state)),
    el("td", { class: "face-" + p.face_status }, faceStatusLabel(p.face_status)),
    el("td", { class: p.connected ? "ok" : "error" }, p.connected ? t("在线", "online") : t("离线", "offline")),
    el("td", { class: "num" }, p.joined_at && GROUPS.line.includes(p.state) ? fmtDuration(serverNow() - p.joined_at) : "—"),
    el("td", { "data-reason": p.reason || "" }, reasonLabel(p.reason)),
    el("td", {}, el("button", { type: "button", class: "secondary small", onclick: () => timeline(p) }, t("时间线", "Timeline")))))
    : [el("tr", {}, el("td", { colspan: "8", class: "empty" }, examId ? t("没有符合条件的考生", "No candidate matches") : t("请选择考试", "Choose an exam")))]));
}

async function timeline(p) {
  const box = $("timeline");
  box.hidden = false;
  box.replaceChildren(el("p", { class: "progress" }, t("正在读取…", "Loading…")));
  try {
    const { entries } = await call(socket, "proctor:history", { account_id: p.account_id });
    box.replaceChildren(el("h3", {}, t(`${p.name} 的时间线`, `${p.name}'s timeline`), " ",
      el("span", { class: "hint" }, t("（北京时间）", "(Beijing time)"))),
      el("ol", { class: "timeline", "data-account": p.account_id }, entries.map((e) => el("li", { "data-event": e.event },
        el("span", { class: "hint" }, fmtSeconds(e.at, { zone: false }) + " "), el("strong", {}, eventLabel(e.event)),
        e.actor && e.actor !== p.account_id ? el("span", { class: "hint" }, ` · ${roleLabel(e.actor_role)}`) : "",
        auditDetails(e) ? el("span", { class: "hint details" }, ` · ${auditDetails(e)}`) : ""))));
    box.scrollIntoView({ behavior: "smooth", block: "nearest" });
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }
}

$("live-exam").addEventListener("change", (ev) => open(ev.target.value));
$("state-filter").addEventListener("change", renderPeople);
$("name-filter").addEventListener("input", renderPeople);
setInterval(() => { if (examId) renderPeople(); }, 5000);
const remembered = localStorage.getItem("proctor.live");
if (remembered && [...$("live-exam").options].some((o) => o.value === remembered)) {
  $("live-exam").value = remembered;
  open(remembered);
} else if ($("live-exam").options.length === 2) { // one exam: open it
  $("live-exam").selectedIndex = 1;
  open($("live-exam").value);
}
