// Admin tab "exams": the exam list, creating an exam with its subjects, selecting one, its facts.
import { api, el, jsonForm, t } from "/static/js/common.js";
import { $, fmtRange } from "/static/js/format.js";
import { admin, emptyRow, NO_ZONE, reload, row, toInt } from "/static/js/admin/state.js";

export async function loadExams() {
  const { exams } = await api("GET", admin.paths.exams);
  admin.examNames = Object.fromEntries(exams.map((x) => [x.id, x.name]));
  const body = $("exam-table").tBodies[0];
  body.replaceChildren(...(exams.length ? exams.map((x) => {
    const tr = row(el("td", {}, x.name), el("td", {}, x.school),
      el("td", { class: "nowrap" }, fmtRange(x.booking_opens, x.booking_closes, NO_ZONE)),
      el("td", { class: "mono" }, x.id),
      el("td", {}, el("button", { type: "button", class: "small", onclick: () => selectExam(x.id) }, t("管理", "Manage"))));
    tr.dataset.exam = x.id;
    if (admin.current && admin.current.exam.id === x.id) tr.className = "selected";
    return tr;
  }) : [emptyRow(5, t("还没有考试，请先新建考试。", "No exams yet; create one below."))]));
  if (!exams.length) $("create-exam").open = true;
  return exams;
}

function subjectRow(name = "", minutes = 10) {
  const line = el("div", { class: "subject-row" },
    el("label", {}, t("科目名称", "Subject name"), el("input", { name: "subject_name", maxlength: "50", value: name })),
    el("label", {}, t("面试时长（分钟）", "Interview (min)"),
      el("input", { name: "interview_minutes", type: "number", min: "1", max: "240", value: String(minutes) })),
    el("button", { type: "button", class: "secondary small", title: t("删除该科目", "Remove"),
      onclick: () => line.remove() }, "✕"));
  $("subject-rows").append(line);
}

export function setupExamForm() {
  subjectRow();
  $("add-subject-row").addEventListener("click", () => subjectRow());
  const form = $("exam-form");
  jsonForm(form, admin.paths.exams, async ({ exam }) => {
    form.reset();
    $("subject-rows").replaceChildren();
    subjectRow();
    $("create-exam").open = false;
    await loadExams();
    await selectExam(exam.id);
  }, (b) => ({
    school: b.school, name: b.name, booking_opens: b.booking_opens, booking_closes: b.booking_closes,
    notice: b.notice, pledge: b.pledge,
    subjects: [...$("subject-rows").children]
      .map((r) => ({ name: r.querySelector("[name=subject_name]").value.trim(),
        interview_minutes: toInt(r.querySelector("[name=interview_minutes]").value) }))
      .filter((s) => s.name),
  }));
}

// Select an exam: its detail is shown and every tab reads its part (reload.selected(), wired by admin.js).
export async function selectExam(examId) {
  admin.current = await api("GET", admin.paths.exam(examId));
  history.replaceState(null, "", `?exam=${encodeURIComponent(examId)}`);
  document.querySelectorAll("#exam-table tbody tr").forEach((tr) => { tr.className = tr.dataset.exam === examId ? "selected" : ""; });
  $("exam-detail").hidden = false;
  reload.render();
  $("audit-csv").href = admin.paths.auditCsv(examId);
  renderExportLinks(examId);
  await reload.selected();
}

// The exam's exports (docs/marking.md "Exports"): one link per kind and format, beside the audit export.
const EXPORTS = [["marks", "评分明细", "Marks"], ["attendance", "出勤", "Attendance"], ["bookings", "预约", "Bookings"], ["results", "成绩", "Results"]];
function renderExportLinks(examId) {
  let box = document.getElementById("exam-exports");
  if (!box) {
    box = document.createElement("p");
    box.id = "exam-exports";
    $("audit-csv").parentElement.after(box);
  }
  box.replaceChildren(document.createTextNode(t("导出：", "Exports: ")));
  for (const [kind, zh, en] of EXPORTS) {
    for (const fmt of ["csv", "xlsx"]) {
      const link = document.createElement("a");
      link.className = "button secondary-link";
      link.href = admin.paths.export(examId, kind, fmt);
      link.setAttribute("download", "");
      link.textContent = `${t(zh, en)} (${fmt.toUpperCase()})`;
      box.append(link, " ");
    }
  }
}

export async function reloadExam() {
  admin.current = await api("GET", admin.paths.exam(admin.current.exam.id));
  reload.render();
}

export function renderExamFacts() {
  const { exam } = admin.current;
  $("exam-title").textContent = t(`${exam.name}（${exam.school}）`, `${exam.name} (${exam.school})`);
  $("exam-facts").replaceChildren(
    el("li", {}, t("考试编号：", "Exam id: "), el("span", { class: "mono" }, exam.id)),
    el("li", {}, t("预约开放时间：", "Booking window: ") + fmtRange(exam.booking_opens, exam.booking_closes)),
    el("li", {}, t("考前须知：", "Notice: ") + (exam.notice ? t(`${exam.notice.length} 字`, `${exam.notice.length} characters`) : t("未填写", "empty"))
      + t("；诚信承诺书：", "; pledge: ") + (exam.pledge ? t(`${exam.pledge.length} 字`, `${exam.pledge.length} characters`) : t("未填写", "empty"))));
}
