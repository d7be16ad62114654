// Proctor desk: identity appeals and face reviews (approve/reject with a required comment) and an exam's
// audit timeline; the live view of an exam is proctor-live.js. The shared rendering is proctor-lib.js.
import { api, clearErrors, el, label, reasonLabel, showError, t } from "/static/js/common.js";
import { $, fmtSeconds } from "/static/js/format.js";
import { auditView } from "/static/js/proctor-lib.js";

// --- the proctor page itself -------------------------------------------------------------------

const root = document.getElementById("proctor-page");
if (root) initProctor(root);

function initProctor(root) {
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
      el("td", {}, appealEvidence(a), form));
  }

  // The appellant's face check against the roster photo, filed with the appeal.
  function appealEvidence(a) {
    const ev = a.evidence || {};
    const reference = el("figure", { class: "face-ref" },
      a.photo_url ? el("img", { src: a.photo_url, alt: t("证件照", "ID photo") }) : el("p", {}, t("无证件照", "No ID photo")),
      el("figcaption", {}, t("证件照（名单）", "ID photo (roster)")));
    const frames = el("figure", { class: "face-attempt" },
      el("div", { class: "frames" }, (a.frame_urls || []).map((u) => el("img", { src: u, alt: t("申诉人人脸比对画面", "Appellant's face check"), loading: "lazy" }))),
      el("figcaption", {}, ev.passed ? t("申诉人人脸比对通过", "Appellant passed the face check") : t("无人脸比对", "No face check"),
        ev.distance != null ? ` · ${t("距离", "distance")} ${Number(ev.distance).toFixed(3)} / ${Number(ev.threshold).toFixed(3)}` : "",
        (a.frame_urls || []).length ? "" : ` · ${t("画面已过保存期限", "frames past retention")}`));
    return el("div", { class: "review-photos appeal-evidence" }, reference, el("div", { class: "attempts" }, frames));
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
