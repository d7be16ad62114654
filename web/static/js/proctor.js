// Proctor desk: identity appeals (approve/reject with a required comment) and an exam's audit timeline.
// `auditView` is also used by the admin page.
import { api, clearErrors, el, faceStatusLabel, fmtLength, fmtRange, fmtTime, label, reasonLabel, showError, t }
  from "/static/js/common.js";

// Every code's label comes from the server's catalogue (server/i18n.py, common.js label()).
export { faceStatusLabel, reasonLabel };
export const eventLabel = (code) => label(`event_${code}`, code);
export const roleLabel = (role) => (role ? label(`role_${role}`, role) : "");
export const stateName = (state) => (state ? label(`queue_state_${state}`, state) : "—");

// Date and time with seconds (audit log, reviews); {zone: false} where the view says 北京时间 once.
export const fmtSeconds = (epoch, opts = {}) => fmtTime(epoch, { seconds: true, ...opts });

// Names the page knows (rooms, slots, subjects, accounts): id -> name. proctor-live.js adds the live exam's.
export const knownNames = {};

const mb = (bytes) => `${(Number(bytes || 0) / 1024 / 1024).toFixed(1)} MB`;

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
    case "state": case "from": case "to": return stateName(value);
    case "reason": return reasonLabel(value);
    case "kind": return label(`face_kind_${value}`, value);
    case "status": return label(`rec_state_${value}`, value);
    case "role": return roleLabel(value);
    case "waited_s": case "away_s": return fmtLength(value);
    case "interview_minutes": return t(`${value} 分钟`, `${value} min`);
    case "bytes": return mb(value);
    case "tracks": return t(`${value} 路`, String(value));
    case "strikes": return t(`${value} 次`, String(value));
    case "distance": return Number(value).toFixed(3);
    case "device": return deviceSummary(value);
    case "notice": case "pledge": return t("已修改", "changed");
    default: break;
  }
  if (typeof value === "boolean") return value ? t("是", "yes") : "";
  if (typeof value === "number" && /(_at|_opens|_closes)$/.test(key) && value > 1e9) return fmtTime(value);
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
    parts.push(`${stateName(d.from)} → ${stateName(d.to)}`);
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

// --- the proctor page itself -------------------------------------------------------------------

const root = document.getElementById("proctor-page");
if (root) initProctor(root);

function initProctor(root) {
  const $ = (id) => document.getElementById(id);

  async function loadAppeals() {
    const body = $("appeal-table").tBodies[0];
    try {
      const { appeals } = await api("GET", "/api/proctor/appeals");
      $("appeal-error").hidden = true;
      body.replaceChildren(...(appeals.length ? appeals.map(appealRow)
        : [el("tr", {}, el("td", { colspan: "6", class: "empty" }, t("暂无待处理的申诉", "No open appeals")))]));
    } catch (err) {
      $("appeal-error").textContent = err.message;
      $("appeal-error").hidden = false;
    }
  }

  // Approve / reject with a required comment, posted to `path`; `confirmText(approve)` may ask first.
  function decisionForm(path, approveLabel, confirmText, done) {
    const form = el("form", { class: "inline-form", novalidate: "" },
      el("input", { name: "comment", maxlength: "500", required: "", placeholder: t("审核意见（必填）", "Comment (required)"),
        "aria-label": t("审核意见", "Comment") }),
      el("button", { type: "submit", class: "small", value: "approve" }, approveLabel),
      el("button", { type: "submit", class: "small danger", value: "reject" }, t("驳回", "Reject")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const approve = (ev.submitter && ev.submitter.value) === "approve";
      const comment = form.elements.comment.value.trim();
      if (!comment) return showError(form, { field: "comment", message: t("请填写审核意见", "A comment is required") });
      const question = confirmText(approve);
      if (question && !window.confirm(question)) return;
      form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      try {
        await api("POST", path, { approve, comment });
        clearErrors(form);
        await done();
      } catch (err) {
        showError(form, err);
        form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      }
    });
    return form;
  }

  function appealRow(a) {
    const form = decisionForm(`/api/proctor/appeals/${encodeURIComponent(a.id)}`, t("通过", "Approve"),
      (approve) => approve && t(`通过后，证件号码 ${a.id_number} 将从账号 ${a.claimed_by} 转移到账号 ${a.account_id}。确定通过？`,
        `Approving moves ID number ${a.id_number} from account ${a.claimed_by} to account ${a.account_id}. Approve?`),
      loadAppeals);
    return el("tr", {},
      el("td", { class: "nowrap" }, fmtSeconds(a.created_at, { zone: false })),
      el("td", { class: "mono" }, a.account_id),
      el("td", {}, a.name),
      el("td", { class: "mono" }, a.id_number),
      el("td", { class: "mono" }, a.claimed_by),
      el("td", {}, form));
  }

  async function loadReviews() {
    const box = $("review-list");
    try {
      const { reviews } = await api("GET", "/api/proctor/reviews");
      $("review-error").hidden = true;
      box.replaceChildren(...(reviews.length ? reviews.map(reviewCard)
        : [el("p", { class: "empty" }, t("暂无待审核的考生", "No candidate waiting for a review"))]));
    } catch (err) {
      $("review-error").textContent = err.message;
      $("review-error").hidden = false;
    }
  }

  function reviewCard(r) {
    const detail = el("div", { class: "review-detail" });
    const open = el("button", { type: "button", class: "secondary small" }, t("查看照片并审核", "View photos and decide"));
    open.addEventListener("click", async () => {
      open.disabled = true;
      try {
        const { checks } = await api("GET", `/api/proctor/reviews/${encodeURIComponent(r.id)}`);
        detail.replaceChildren(reviewPhotos(r, checks), reviewForm(r));
        open.hidden = true;
      } catch (err) {
        detail.replaceChildren(el("p", { class: "error" }, err.message));
        open.disabled = false;
      }
    });
    return el("div", { class: "review card-inner" },
      el("p", {}, el("strong", {}, r.name), " ", el("span", { class: "mono" }, r.id_number), " · ",
        t(`提交于 ${fmtSeconds(r.created_at)}`, `opened ${fmtSeconds(r.created_at)}`), " · ",
        el("span", { class: "mono hint" }, r.account_id)),
      open, detail);
  }

  function reviewPhotos(r, checks) {
    const reference = el("figure", { class: "face-ref" },
      r.photo_url ? el("img", { src: r.photo_url, alt: t("证件照", "ID photo") }) : el("p", {}, t("无证件照", "No ID photo")),
      el("figcaption", {}, t("证件照（名单）", "ID photo (roster)")));
    const attempts = checks.map((c) => el("figure", { class: "face-attempt" },
      el("div", { class: "frames" }, (c.frame_urls || []).map((u) => el("img", { src: u, alt: t("采集画面", "Captured frame"), loading: "lazy" }))),
      el("figcaption", {}, `${fmtSeconds(c.at)} · ${c.reason ? reasonLabel(c.reason) : t("通过", "passed")} · ${label(`face_kind_${c.kind}`, "")}`,
        c.distance != null ? ` · ${t("距离", "distance")} ${Number(c.distance).toFixed(3)} / ${Number(c.threshold).toFixed(3)}` : "",
        (c.frame_urls || []).length ? "" : ` · ${t("画面已过保存期限", "frames past retention")}`)));
    return el("div", { class: "review-photos" }, reference, el("div", { class: "attempts" }, attempts));
  }

  function reviewForm(r) {
    return decisionForm(`/api/proctor/reviews/${encodeURIComponent(r.id)}`, t("是本人，通过", "Same person, approve"),
      (approve) => !approve && t(`驳回后 ${r.name} 不能继续本场考试。确定驳回？`, `Rejecting keeps ${r.name} out of this exam. Reject?`),
      loadReviews);
  }

  // Exam picker: a typed exam id for proctors; admins (who may list exams) get a list.
  const form = $("audit-form");
  const params = new URLSearchParams(location.search);
  const remembered = params.get("exam") || localStorage.getItem("proctor.exam") || "";
  form.elements.exam_id.value = remembered;
  form.elements.subject.value = params.get("subject") || "";
  if (root.dataset.role === "admin") {
    api("GET", "/api/admin/exams").then(({ exams }) => {
      if (!exams.length) return;
      const select = el("select", { name: "exam_id", required: "" },
        exams.map((x) => el("option", { value: x.id, selected: x.id === remembered }, t(`${x.name}（${x.school}）`, `${x.name} (${x.school})`))));
      form.elements.exam_id.replaceWith(select);
      $("exam-pick").firstChild.textContent = t("考试", "Exam");
      $("exam-id-hint").hidden = true;
    }).catch(() => {});
  }

  async function showAudit() {
    const examId = form.elements.exam_id.value.trim();
    const subject = form.elements.subject.value.trim();
    if (!examId) return showError(form, { field: "exam_id", message: t("请填写考试编号", "Enter an exam id") });
    clearErrors(form);
    localStorage.setItem("proctor.exam", examId);
    try {
      await auditView($("audit-log"), examId, {
        subject,
        onSubject: (id) => { form.elements.subject.value = id; showAudit(); },
      });
      if (subject) {
        $("audit-log").prepend(el("p", {}, t(`只显示与账号 ${subject} 有关的记录。`, `Only entries about account ${subject}. `),
          el("button", { type: "button", class: "link", onclick: () => { form.elements.subject.value = ""; showAudit(); } },
            t("显示全部", "Show all"))));
      }
    } catch (err) {
      $("audit-log").replaceChildren();
      showError(form, { ...err, field: err.code === "exam_not_found" ? "exam_id" : err.field });
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); showAudit(); });
  addEventListener("proctor-reviews", () => loadReviews()); // pushed by proctor-live.js
  loadReviews();
  loadAppeals();
  if (remembered) showAudit();
}
