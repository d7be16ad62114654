// 提交审阅: one sitting as an admin reviews it (docs/recorded.md "The review page"): who and what, the exam code
// (考试码), the state and the submission, the face gate and the submitted take's identity check; every take with
// its main and aux videos side by side, its question or steps when it has them, the photos of the work; and the
// audit entries of the sitting and its takes, oldest first.
import { api, el, faceStatusLabel, label, t } from "/static/js/common.js";
import { $, fmtLength, fmtSeconds, fmtTime } from "/static/js/format.js";
import { auditDetails, eventLabel, roleLabel } from "/static/js/proctor-lib.js";
import { identityLine } from "/static/js/admin/sittings.js";
import { angles, photoGrid, questionBlock, staffPhotoDetails, stepsBlock } from "/static/js/take-view.js";

const page = $("review-page");
const FORM = { performance: () => t("自备展示", "Performance"), artwork: () => t("作品创作", "Artwork") };
const MODE = { formal: () => t("正式考", "Exam"), mock: () => t("模拟考", "Mock"), practice: () => t("练习", "Practice") };
const END = { photo_limit: () => t("作品拍照时间结束，系统自动提交", "submitted by the system when the photo time ended"),
  deadline: () => t("倒计时结束，系统自动提交", "submitted by the system at the deadline") };
const fact = (name, ...value) => el("div", { class: "fact" }, el("dt", {}, name), el("dd", {}, ...value));

function facts(r) {
  const s = r.sitting, sub = r.subject;
  const state = label(`sitting_state_${s.state}`, s.state);
  return [
    el("h2", {}, `${r.candidate.name || r.candidate.account_id}`, " ", el("span", { class: "hint mono" }, r.candidate.id_number || "")),
    el("dl", { class: "review-facts" },
      fact(t("考试", "Exam"), r.exam.name),
      fact(t("科目", "Subject"), sub.name, " · ", (FORM[sub.form] || (() => sub.form))()),
      fact(t("类型", "Mode"), (MODE[s.mode] || (() => s.mode))(), s.number > 1 ? t(`（第 ${s.number} 次）`, ` (entry ${s.number})`) : ""),
      fact(t("考试码", "Exam code"), el("strong", { class: "mono review-code", id: "review-code" }, s.code || "—")),
      fact(t("状态", "State"), el("strong", { "data-state": s.state }, state),
        s.end_reason && END[s.end_reason] && s.state === "auto_submitted" ? el("div", { class: "hint" }, END[s.end_reason]()) : ""),
      fact(t("进入时间", "Entered"), s.entered_at ? fmtTime(s.entered_at, { seconds: true }) : "—"),
      fact(t("截止时间", "Deadline"), s.deadline ? fmtTime(s.deadline) : t("无", "none")),
      fact(t("提交时间", "Submitted"), s.submitted_at ? fmtTime(s.submitted_at, { seconds: true }) : "—"),
      fact(t("人脸核验", "Face check"), r.face ? faceStatusLabel(r.face.status) : "—", r.face && r.face.strikes ? t(`（失败 ${r.face.strikes} 次）`, ` (${r.face.strikes} failed)`) : ""),
      fact(t("提交视频人脸比对", "Identity on the take"), r.identity ? identityLine(r.identity) : "—")),
  ];
}

function takeCard(take, i, submitted) {
  const head = el("h2", {}, t(`第 ${i + 1} 条`, `Take ${i + 1}`), " ",
    el("span", { class: "badge" }, label(`take_state_${take.state}`, take.state)),
    submitted ? el("span", { class: "badge ok-badge" }, t("已提交", "Submitted")) : "");
  const facts = [take.duration_s ? fmtLength(take.duration_s) : "", take.started_at ? t(`录制于 ${fmtSeconds(take.started_at)}`, `recorded ${fmtSeconds(take.started_at)}`) : "",
    take.camera === "rear" ? t("后置", "rear") : t("前置", "front"), take.orientation === "landscape" ? t("横屏", "landscape") : t("竖屏", "portrait")].filter(Boolean).join(" · ");
  const aux = (take.aux_urls || []).map((url, n) => ({ url, n: n + 1, offset_s: ((take.files || {})[`aux-${n + 1}.webm`] || {}).offset_s || 0 }));
  const player = take.video_url ? angles(take.video_url, aux) : null;
  const artwork = (take.photos && take.photos.length) || take.photos_until;
  return el("section", { class: "card review-take", "data-take": take.id, "data-state": take.state },
    head, el("p", { class: "hint" }, facts),
    player ? player.box : el("p", { class: "hint" }, take.state === "recording" ? t("录制中…", "Recording…") : t("没有可播放的视频文件。", "No playable file.")),
    take.sha256 ? el("p", { class: "hint mono" }, "SHA-256 " + take.sha256) : "",
    questionBlock(take.question),
    stepsBlock(take.steps, player && player.main),
    artwork ? el("div", { class: "review-photos" }, el("h3", {}, t("作品照片", "Photos of the work"),
      take.photos_until ? el("span", { class: "hint" }, t(` · 拍照截止 ${fmtSeconds(take.photos_until)}`, ` · photos until ${fmtSeconds(take.photos_until)}`)) : ""),
    photoGrid(take.photos, staffPhotoDetails)) : "");
}

function auditRow(e) {
  return el("tr", { "data-event": e.event },
    el("td", { class: "nowrap" }, fmtSeconds(e.at, { zone: false })),
    el("td", { title: e.event }, eventLabel(e.event)),
    el("td", {}, e.actor === "system" ? roleLabel("system") : roleLabel(e.actor_role)),
    el("td", { class: "details" }, auditDetails(e)));
}

async function load() {
  try {
    const r = await api("GET", `/api/admin/sittings/${encodeURIComponent(page.dataset.sittingId)}`);
    $("review-back").href = `/admin?exam=${encodeURIComponent(r.exam.id)}`;
    $("review-title").textContent = t(`提交审阅 · ${r.subject.name}`, `Submission review · ${r.subject.name}`);
    document.title = `${r.candidate.name} · ${r.subject.name} · ${t("提交审阅", "Submission review")}`;
    $("review-facts").replaceChildren(...facts(r));
    const takes = r.takes.filter((x) => x.state !== "discarded" || r.sitting.state === "reset");
    // the submission first, then the other takes in order
    const order = [...takes.keys()].sort((a, b) => (takes[b].id === r.sitting.submitted_take) - (takes[a].id === r.sitting.submitted_take) || a - b);
    $("review-takes").replaceChildren(...(takes.length ? order.map((i) => takeCard(takes[i], i, takes[i].id === r.sitting.submitted_take))
      : [el("section", { class: "card" }, el("p", { class: "empty" }, t("本场考试没有录制视频。", "No take in this sitting.")))]));
    $("review-audit").tBodies[0].replaceChildren(...(r.audit.length ? r.audit.map(auditRow)
      : [el("tr", {}, el("td", { colspan: "4", class: "empty" }, t("暂无记录", "No entries")))]));
    page.dataset.state = "ready";
  } catch (err) {
    $("review-error").textContent = err.message;
    $("review-error").hidden = false;
    page.dataset.state = "error";
  }
}

load();
