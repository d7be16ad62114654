// Admin tab "subjects and rooms": each subject's rubric (评分标准, docs/marking.md): criteria with their
// maximum and weight, the step (1 or 0.5), how several examiners' totals combine, and for a recorded
// subject how many graders mark each submission and the gap that calls in a third. Frozen (read-only
// here) once a mark of the subject is submitted.
import { api, el, showError, clearErrors, t } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { admin, reload } from "/static/js/admin/state.js";

const enc = encodeURIComponent;
const path = (exam, subject) => `/api/admin/exams/${enc(exam)}/subjects/${enc(subject)}/rubric`;
const DEFAULT = [
  { id: "skill", name: "技巧", max: 40, weight: 1 },
  { id: "show", name: "表现", max: 40, weight: 1 },
  { id: "look", name: "形象", max: 20, weight: 1 },
];

function criterionRow(c, frozen) {
  const remove = el("button", { type: "button", class: "secondary small", disabled: frozen }, t("删除", "Remove"));
  const tr = el("tr", { "data-id": c.id || "" },
    el("td", {}, el("input", { name: "crit_name", value: c.name || "", maxlength: "20", required: "", disabled: frozen, "aria-label": t("评分项名称", "Criterion") })),
    el("td", {}, el("input", { name: "crit_max", type: "number", min: "0.5", max: "1000", step: "0.5", value: c.max ?? "", disabled: frozen, "aria-label": t("满分", "Maximum") })),
    el("td", {}, el("input", { name: "crit_weight", type: "number", min: "0.1", max: "100", step: "0.1", value: c.weight ?? 1, disabled: frozen, "aria-label": t("权重", "Weight") })),
    el("td", {}, remove));
  remove.addEventListener("click", () => tr.remove());
  return tr;
}

function freeId(taken) {
  for (let n = 1; ; n++) if (!taken.has(`c${n}`)) return `c${n}`;
}

function body(form, recorded) {
  const rows = [...form.querySelectorAll("tbody tr")];
  const taken = new Set(rows.map((r) => r.dataset.id).filter(Boolean));
  const criteria = rows.map((r) => {
    if (!r.dataset.id) { r.dataset.id = freeId(taken); taken.add(r.dataset.id); }
    const num = (name) => { const v = r.querySelector(`[name=${name}]`).value.trim(); return v === "" ? null : Number(v); };
    return { id: r.dataset.id, name: r.querySelector("[name=crit_name]").value.trim(), max: num("crit_max"), weight: num("crit_weight") ?? 1 };
  });
  const out = { criteria, step: Number(form.elements.step.value), combine: form.elements.combine.value };
  if (recorded) {
    out.markers = Number(form.elements.markers.value);
    out.gap = Number(form.elements.gap.value || 0);
  }
  return out;
}

function subjectForm(subject, rubric, inUse) {
  const recorded = subject.kind === "recorded";
  const frozen = inUse;
  const criteria = rubric ? rubric.criteria : DEFAULT;
  const saved = el("span", { class: "hint", role: "status", hidden: "" }, t("已保存", "Saved"));
  const tbody = el("tbody", {}, criteria.map((c) => criterionRow(c, frozen)));
  const add = el("button", { type: "button", class: "secondary small", disabled: frozen }, t("添加评分项", "Add criterion"));
  add.addEventListener("click", () => tbody.append(criterionRow({ name: "", max: 10, weight: 1 }, false)));
  const option = (value, text, current) => el("option", { value, selected: String(current) === String(value) || undefined }, text);
  const form = el("form", { novalidate: "", "data-subject": subject.id, class: "rubric-form" },
    el("fieldset", { disabled: frozen || undefined },
      el("legend", {}, subject.name + (rubric ? "" : t("（未设置，以下为建议）", " (not set; a suggestion)"))),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("评分项", "Criterion")), el("th", {}, t("满分", "Maximum")), el("th", {}, t("权重", "Weight")), el("th", {}))), tbody),
      add,
      el("div", { class: "row" },
        el("label", {}, t("评分步长", "Step"), el("select", { name: "step" }, option(1, t("1 分", "1"), rubric ? rubric.step : 1), option(0.5, t("0.5 分", "0.5"), rubric ? rubric.step : 1))),
        el("label", {}, t("多位考官合分", "Combine"), el("select", { name: "combine" },
          option("mean", t("取平均分", "Mean"), rubric ? rubric.combine : "mean"),
          option("trimmed_mean", t("去掉最高分和最低分后平均（4 位及以上）", "Drop highest and lowest (4+)"), rubric ? rubric.combine : "mean"))),
        recorded ? el("label", {}, t("每份作品评阅人数", "Graders per submission"), el("select", { name: "markers" },
          option(1, "1", rubric ? rubric.markers : 1), option(2, "2", rubric ? rubric.markers : 1))) : "",
        recorded ? el("label", {}, t("分差阈值（超过则第三人评阅，0 为不启用）", "Gap calling a third grader (0: never)"),
          el("input", { name: "gap", type: "number", min: "0", step: "0.5", value: rubric ? rubric.gap : 0 })) : "")),
    frozen ? el("p", { class: "hint" }, t("已有考官提交评分，评分标准不能再修改。", "Marks are submitted; the rubric can no longer change."))
      : el("button", { type: "submit", class: "small" }, t("保存评分标准", "Save rubric")), " ", saved);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    saved.hidden = true;
    try {
      await api("PUT", path(admin.current.exam.id, subject.id), body(form, recorded));
      clearErrors(form);
      saved.hidden = false;
      if (reload.audit) await reload.audit();
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function loadRubrics() {
  if (!admin.current) return;
  const exam = admin.current.exam.id;
  const subjects = admin.current.subjects;
  const found = await Promise.all(subjects.map((s) => api("GET", path(exam, s.id))));
  if (!admin.current || admin.current.exam.id !== exam) return; // another exam was chosen meanwhile
  $("rubric-subjects").replaceChildren(...(subjects.length
    ? subjects.map((s, i) => subjectForm(s, found[i].rubric, found[i].in_use))
    : [el("p", { class: "empty" }, t("请先添加科目。", "Add a subject first."))]));
}
