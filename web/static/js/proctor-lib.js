// What the proctor's pages (proctor.js, proctor-live.js) and the admin page share: the labels of audit
// codes, an audit entry's details as a readable phrase, and an exam's audit log view (`auditView`).
import { api, el, label, reasonLabel, stateLabel, t } from "/static/js/common.js";
import { fmtLength, fmtRange, fmtSeconds, fmtSize, fmtTime } from "/static/js/format.js";

// Every code's label comes from the server's catalogue (server/i18n.py, common.js label()).
export const eventLabel = (code) => label(`event_${code}`, code);
export const roleLabel = (role) => (role ? label(`role_${role}`, role) : "");

// Names the page knows (rooms, slots, subjects, accounts): id -> name. proctor-live.js adds the live exam's.
export const knownNames = {};

function deviceSummary(d) {
  if (!d || typeof d !== "object") return "";
  const battery = typeof d.battery_level === "number"
    ? t(`电量 ${Math.round(d.battery_level * 100)}%`, `battery ${Math.round(d.battery_level * 100)}%`)
      + (d.charging ? t("（充电中）", " (charging)") : "") : "";
  return [[d.browser, d.browser_version].filter(Boolean).join(" "), d.os, d.in_app, battery, d.network]
    .filter(Boolean).join(t("，", ", "));
}

// One value of an audit entry's data, as people read it.
function detailValue(key, value, names) {
  const name = (id) => (typeof id === "string" && names[id]) || id;
  if (value === null || value === undefined || value === "") return "";
  if (Array.isArray(value)) return value.map((v) => detailValue(key, v, names)).filter(Boolean).join(t("、", ", "));
  switch (key) {
    // an id the page has no name for says nothing to a person (the room, shown too, places the entry)
    case "room": case "room_id": case "slot": case "slot_id": case "subject_id": case "subjects": return names[value] || "";
    case "state": case "from": case "to": return stateLabel(value);
    case "reason": return reasonLabel(value);
    case "kind": return label(`face_kind_${value}`, value);
    case "status": return label(`rec_state_${value}`, value);
    case "role": return roleLabel(value);
    case "waited_s": case "away_s": return fmtLength(value);
    case "interview_minutes": return t(`${value} 分钟`, `${value} min`);
    case "bytes": return fmtSize(value);
    case "tracks": return t(`${value} 路`, String(value));
    case "strikes": return t(`${value} 次`, String(value));
    case "distance": return Number(value).toFixed(3);
    case "device": return deviceSummary(value);
    case "notice": case "pledge": return t("已修改", "changed");
    default: break;
  }
  if (typeof value === "boolean") return value ? t("是", "yes") : "";
  if (typeof value === "number" && /(_at|_opens|_closes|^deadline)$/.test(key) && value > 1e9) return fmtTime(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(name(value));
}

// An audit entry's data as a readable phrase: "考场 声乐第一考场 · 到达序号 3 · 设备 Chrome 124 ...".
// A key whose label is "" (detail_admission, ...: internal ids) is not shown.
const SHA256 = /^[0-9a-f]{64}$/;
export function auditDetails(entry, names = knownNames) {
  const d = { ...((entry && entry.data) || {}) };
  const parts = [];
  const add = (key, text) => { if (text) parts.push(`${label(`detail_${key}`, key)} ${text}`); };
  if ("from" in d && "to" in d) {
    parts.push(`${stateLabel(d.from)} → ${stateLabel(d.to)}`);
    delete d.from; delete d.to;
  }
  if ("before" in d && "after" in d) {
    if (SHA256.test(String(d.after)) || SHA256.test(String(d.before))) parts.push(`${label("detail_photo")} ${t("已更换", "replaced")}`);
    else parts.push(`${entry.event === "slot_capacity_changed" ? label("detail_capacity") : ""} ${d.before} → ${d.after}`.trim());
    delete d.before; delete d.after;
  }
  if (typeof d.starts_at === "number" && typeof d.ends_at === "number") {
    add("slot", fmtRange(d.starts_at, d.ends_at));
    delete d.starts_at; delete d.ends_at;
  }
  for (const [key, value] of Object.entries(d)) {
    if (label(`detail_${key}`, key) === "") continue;
    add(key, detailValue(key, value, names));
  }
  return parts.join(" · ");
}

// Render an exam's audit log (newest first) into `box`, with "load more". `names` maps ids (accounts, rooms,
// slots, subjects) -> what to show; the names the page already knows (knownNames) are used too.
let redrawAudit = null; // the audit view on the page, drawn again when more names are known
addEventListener("proctor-names", () => redrawAudit && redrawAudit());

export async function auditView(box, examId, { subject = "", names: given = {}, onSubject = null } = {}) {
  let names = { ...knownNames, ...given };
  const entries = [];
  const table = el("table", { class: "audit-table" },
    el("thead", {}, el("tr", {}, el("th", {}, t("时间（北京时间）", "Time (Beijing time)")), el("th", {}, t("事件", "Event")),
      el("th", {}, t("操作人", "Actor")), el("th", {}, t("对象账号", "Subject account")), el("th", {}, t("详情", "Details")))),
    el("tbody"));
  const more = el("button", { type: "button", class: "secondary small" }, t("加载更多", "Load more"));
  const status = el("p", { class: "hint" });
  box.replaceChildren(el("div", { class: "table-wrap" }, table), status, more);
  const who = (id, role) => {
    if (!id) return "";
    const main = id === "system" ? roleLabel("system") : names[id] || id;
    const sub = [id !== "system" && names[id] ? id : "", role && id !== "system" ? roleLabel(role) : ""].filter(Boolean).join(" · ");
    const head = !onSubject || id === "system" ? el("span", {}, main)
      : el("button", { type: "button", class: "link", title: t("只看该账号", "Only this account"), onclick: () => onSubject(id) }, main);
    return el("div", { class: "actor" }, head, sub ? el("div", { class: "hint mono" }, sub) : "");
  };
  let before = "+";
  let shown = 0;
  async function page() {
    more.disabled = true;
    const query = new URLSearchParams({ limit: "100", before });
    if (subject) query.set("subject", subject);
    const batch = (await api("GET", `/api/staff/exams/${encodeURIComponent(examId)}/audit?${query}`)).entries;
    entries.push(...batch);
    table.tBodies[0].append(...batch.map(entryRow));
    shown += batch.length;
    if (batch.length) before = batch[batch.length - 1].id;
    status.textContent = shown ? t(`共显示 ${shown} 条（最新在前）`, `${shown} entries shown (newest first)`)
      : t("暂无记录", "No entries");
    more.hidden = batch.length < 100;
    more.disabled = false;
  }
  const entryRow = (e) => el("tr", {},
    el("td", { class: "nowrap" }, fmtSeconds(e.at, { zone: false })),
    el("td", { title: e.event, "data-event": e.event }, eventLabel(e.event)),
    el("td", {}, who(e.actor, e.actor_role)),
    el("td", {}, who(e.subject)),
    el("td", { class: "details" }, auditDetails(e, names)));
  redrawAudit = () => {
    if (!table.isConnected) return;
    names = { ...knownNames, ...given };
    table.tBodies[0].replaceChildren(...entries.map(entryRow));
  };
  more.addEventListener("click", () => page().catch((err) => { status.textContent = err.message; more.disabled = false; }));
  await page();
}
