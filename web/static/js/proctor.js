// Proctor desk: identity appeals (approve/reject with a required comment) and an exam's audit timeline.
// `auditView` is also used by the admin page.
import { api, clearErrors, el, lang, showError, t } from "/static/js/common.js";

const EVENTS = {
  exam_created: ["创建考试", "Exam created"],
  exam_updated: ["修改考试", "Exam updated"],
  subject_created: ["添加科目", "Subject added"],
  room_created: ["创建考场", "Room created"],
  slot_created: ["创建考试时段", "Slot created"],
  slot_capacity_changed: ["修改时段容量", "Slot capacity changed"],
  roster_imported: ["导入考生名单", "Roster imported"],
  roster_entry_imported: ["名单新增考生", "Roster entry added"],
  roster_entry_updated: ["名单更新考生", "Roster entry updated"],
  identity_verified: ["身份认证", "Identity verified"],
  exam_confirmed: ["确认考试", "Exam confirmed"],
  notice_read: ["阅读考前须知", "Notice read"],
  pledge_signed: ["签署诚信承诺书", "Pledge signed"],
  slot_booked: ["预约考试时段", "Slot booked"],
  booking_cancelled: ["取消预约", "Booking cancelled"],
  face_check_passed: ["人脸比对通过", "Face check passed"],
  face_check_failed: ["人脸比对未通过", "Face check failed"],
  face_review_opened: ["提交人脸人工审核", "Face review opened"],
  face_review_approved: ["人脸审核通过", "Face review approved"],
  face_review_rejected: ["人脸审核驳回", "Face review rejected"],
  queue_joined: ["进入候考", "Joined the queue"], queue_called: ["叫号", "Called"], queue_in_room: ["进入面试房间", "Entered the room"],
  queue_done: ["面试结束", "Interview finished"], queue_removed: ["移出考场", "Removed"], queue_absent: ["缺考 / 离开", "Absent"],
  queue_disconnected: ["断线", "Disconnected"], queue_reconnected: ["重新连接", "Reconnected"],
  queue_face_cleared: ["人脸核验通过，开始候考", "Face check cleared, waiting"], queue_face_locked: ["人脸核验转人工审核", "Face check to manual review"],
  queue_face_room_failed: ["入场人脸核验未通过", "Room face check failed"], queue_restored: ["恢复排队位置", "Place restored"],
  recording_started: ["开始录制", "Recording started"], recording_stopped: ["停止录制", "Recording stopped"],
};
const FACE_REASONS = {
  face_no_face: ["未检测到人脸", "No face"], face_multiple: ["检测到多张人脸", "Several faces"],
  face_too_dark: ["光线太暗", "Too dark"], face_overexposed: ["画面过曝", "Overexposed"],
  face_too_small: ["人脸太小或太远", "Face too small"], face_blurry: ["画面模糊", "Blurred"],
  face_mismatch: ["与证件照不符", "Does not match"], face_liveness: ["未检测到转头动作", "No head turn"],
};
const ROLES = { candidate: ["考生", "candidate"], examiner: ["考官", "examiner"], proctor: ["巡考", "proctor"],
  admin: ["管理员", "admin"], system: ["系统", "system"] };
const pick = (pair, fallback) => (pair ? t(pair[0], pair[1]) : fallback);
export const eventLabel = (code) => pick(EVENTS[code], code);
export const roleLabel = (role) => pick(ROLES[role], role || "");

export function fmtSeconds(epoch) {
  return new Date(epoch * 1000).toLocaleString(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

// key=value pairs; known ids get their name, epoch times (starts_at, ...) are shown as dates.
function details(data, names) {
  const show = (k, v) => {
    if (typeof v === "string" && names[v]) return names[v];
    if (typeof v === "number" && /(_at|_opens|_closes)$/.test(k) && v > 1e9) return fmtSeconds(v);
    if (Array.isArray(v)) return v.map((x) => show(k, x)).join(", ");
    return typeof v === "string" ? v : JSON.stringify(v);
  };
  return Object.entries(data || {}).map(([k, v]) => `${k}=${show(k, v)}`).join("  ");
}

// Render an exam's audit log (newest first) into `box`, with "load more". `names` maps account id -> label.
export async function auditView(box, examId, { subject = "", names = {}, onSubject = null } = {}) {
  const table = el("table", { class: "audit-table" },
    el("thead", {}, el("tr", {}, el("th", {}, t("时间", "Time")), el("th", {}, t("事件", "Event")),
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
    const { entries } = await api("GET", `/api/staff/exams/${encodeURIComponent(examId)}/audit?${query}`);
    for (const e of entries) {
      table.tBodies[0].append(el("tr", {},
        el("td", { class: "nowrap" }, fmtSeconds(e.at)),
        el("td", {}, eventLabel(e.event), el("div", { class: "hint mono" }, e.event)),
        el("td", {}, who(e.actor, e.actor_role)),
        el("td", {}, who(e.subject)),
        el("td", { class: "details" }, details(e.data, names))));
    }
    shown += entries.length;
    if (entries.length) before = entries[entries.length - 1].id;
    status.textContent = shown ? t(`共显示 ${shown} 条（最新在前）`, `${shown} entries shown (newest first)`)
      : t("暂无记录", "No entries");
    more.hidden = entries.length < 100;
    more.disabled = false;
  }
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
      el("td", { class: "nowrap" }, fmtSeconds(a.created_at)),
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
      el("figcaption", {}, `${fmtSeconds(c.at)} · ${pick(FACE_REASONS[c.reason], c.reason || "")}`,
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
