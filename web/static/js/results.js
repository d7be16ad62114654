// The candidate's own result of an exam (docs/marking.md "Results"): 未发布 until the school publishes,
// then the outcome and, when the school shows them, the marks per subject and the total.
import { api, el, t } from "/static/js/common.js";
import { $, fmtTime } from "/static/js/format.js";

const STATUS = {
  final: () => t("已评定", "Final"),
  absent: () => t("缺考", "Absent"),
  removed: () => t("未完成面试", "Interview not completed"),
  pending: () => t("未评定", "Not marked"),
};
const mark = (value) => (value === null || value === undefined ? "—" : String(Math.round(value * 100) / 100));

function unpublished(box) {
  box.replaceChildren(
    el("p", {}, el("span", { class: "badge", "data-state": "unpublished", id: "results-state" }, t("未发布", "Not published"))),
    el("p", { class: "hint" }, t("学校尚未发布本场考试的成绩，发布后可在此查看。", "The school has not published the results yet; check back later.")));
}

function published(box, r) {
  const rows = [
    el("p", {}, el("span", { class: "badge ok", "data-state": "published", id: "results-state" }, t("已发布", "Published")),
      r.published_at ? el("span", { class: "hint" }, " " + fmtTime(r.published_at)) : ""),
    el("p", { class: "hint" }, r.name),
  ];
  if (r.outcome) rows.push(el("p", { class: "outcome", id: "results-outcome", "data-passed": String(r.passed) }, r.outcome));
  if (r.show_marks) {
    rows.push(el("ul", { class: "facts", id: "results-marks" },
      ...(r.subjects || []).map((s) => el("li", {}, el("strong", {}, s.subject_name), " ",
        s.status === "final" ? mark(s.final) : STATUS[s.status]?.() || s.status)),
      el("li", { class: "total" }, el("strong", {}, t("总分", "Total")), " ", mark(r.total))));
  }
  box.replaceChildren(...rows);
}

async function load() {
  const box = $("results-box");
  const examId = $("results-page").dataset.examId;
  try {
    published(box, await api("GET", `/api/candidate/exams/${encodeURIComponent(examId)}/results`));
  } catch (err) {
    if (err.code === "results_unpublished") return unpublished(box);
    box.replaceChildren();
    $("load-error").hidden = false;
    $("load-error").textContent = err.message;
  }
}

load();
