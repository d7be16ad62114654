// Admin tab "录制考试": the blind double marking's progress per recorded subject and per grader (assigned,
// drafts, submitted marks, submissions waiting for a third grader, final marks), and "分配评阅" (assign the
// submissions made before the subject had graders or a rubric). Graders are named; candidates are not here.
import { api, el, t } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { admin, reload } from "/static/js/admin/state.js";

const enc = encodeURIComponent;
const paths = {
  progress: (exam) => `/api/admin/exams/${enc(exam)}/marking/progress`,
  assign: (exam, subject) => `/api/admin/exams/${enc(exam)}/subjects/${enc(subject)}/marking/assign`,
};

function facts(s) {
  const items = [
    t(`作品 ${s.submissions} 份`, `${s.submissions} submissions`),
    t(`已出最终成绩 ${s.final} 份`, `${s.final} final marks`),
    t(`评分已提交 ${s.sealed} / ${s.assigned}`, `${s.sealed} of ${s.assigned} sheets submitted`),
  ];
  if (s.markers) items.push(t(`每份 ${s.markers} 人评阅`, `${s.markers} marker(s) each`) + (s.markers === 2 && s.gap ? t(`，分差超过 ${s.gap} 分请第三人`, `, a third over a gap of ${s.gap}`) : ""));
  const out = [el("li", {}, items.join(t("；", "; ")))];
  if (!s.rubric) out.push(el("li", { class: "error" }, t("尚未设置评分标准：作品暂不分配。", "No rubric yet: nothing is assigned.")));
  if (s.unassigned) out.push(el("li", { class: "error" }, t(`${s.unassigned} 份作品尚未分配评阅老师`, `${s.unassigned} submissions have no grader yet`)));
  if (s.short) out.push(el("li", { class: "error" }, t(`${s.short} 份作品的评阅老师不足（评阅老师人数少于每份所需人数）`, `${s.short} submissions have fewer graders than needed`)));
  if (s.waiting_third) out.push(el("li", {}, t(`${s.waiting_third} 份作品分差超限，等待第三位老师评阅`, `${s.waiting_third} submissions wait for a third grader`)));
  if (s.third_missing) out.push(el("li", { class: "error", "data-kind": "third-missing" }, t(`${s.third_missing} 份作品分差超限，但已没有可分配的第三位评阅老师：请增加评阅老师后点“分配评阅”`,
    `${s.third_missing} submissions need a third grader but none is left: add a grader, then assign`)));
  return el("ul", { class: "facts" }, out);
}

function subjectBlock(s) {
  const note = el("span", { class: "hint", role: "status" });
  const button = el("button", { type: "button", class: "secondary small", "data-assign": s.subject.id }, t("分配评阅", "Assign"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const { added } = await api("POST", paths.assign(admin.current.exam.id, s.subject.id), {});
      await loadMarkingProgress();
      const fresh = document.querySelector(`#marking-progress [data-subject="${s.subject.id}"] [role=status]`);
      if (fresh) fresh.textContent = t(`新分配 ${added} 份`, `${added} newly assigned`);
      if (reload.audit) await reload.audit();
    } catch (err) {
      note.textContent = err.message;
      note.className = "error";
      button.disabled = false;
    }
  });
  const rows = s.graders.length
    ? s.graders.map((g) => el("tr", { "data-grader": g.grader_id },
      el("td", {}, g.name || g.grader_id, g.grades_subject ? "" : el("span", { class: "hint" }, t("（已不再评阅本科目）", " (no longer grades it)"))),
      el("td", { class: "num" }, String(g.assigned)), el("td", { class: "num" }, String(g.draft)),
      el("td", { class: "num" }, String(g.sealed)), el("td", { class: "num" }, String(g.assigned - g.sealed))))
    : [el("tr", {}, el("td", { colspan: "5", class: "empty" }, t("尚未指定评阅老师（科目与考场 → 录制科目评阅老师）", "No graders yet (Subjects and rooms → graders)")))];
  return el("div", { "data-subject": s.subject.id },
    el("h3", {}, s.subject.name, button, note), facts(s),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, t("评阅老师", "Grader")), el("th", { class: "num" }, t("已分配", "Assigned")),
        el("th", { class: "num" }, t("草稿", "Drafts")), el("th", { class: "num" }, t("已提交", "Submitted")), el("th", { class: "num" }, t("未完成", "Left")))),
      el("tbody", {}, rows))));
}

export async function loadMarkingProgress() {
  const box = $("marking-progress");
  if (!box || !admin.current) return;
  try {
    const { subjects } = await api("GET", paths.progress(admin.current.exam.id));
    box.hidden = !subjects.length;
    box.replaceChildren(el("h2", {}, t("评阅进度", "Marking progress")),
      el("p", { class: "hint" }, t("每份作品按匿名编号随机分配给评阅老师（工作量相差不超过 1 份）；两位老师总分相差超过阈值时自动请第三位老师。",
        "Each submission is assigned by anonymous code at random (loads within 1); two totals further apart than the gap call in a third grader.")),
      ...subjects.map(subjectBlock));
  } catch (err) {
    box.hidden = false;
    box.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }
}
