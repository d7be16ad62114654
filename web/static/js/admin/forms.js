// A recorded subject's form in the admin's 编辑规则 (docs/recorded.md "Forms"): 自备展示, 命题作答 (its preparation time,
// whether the question is read on a second phone) or 指定项目, and the link to the page of its question bank or
// steps (/admin/exams/{exam}/subjects/{subject}/content).
//   formFields(subject) -> {element, read() -> the body's form fields}; formSummary(subject); contentLink(examId, subject)
import { el, t } from "/static/js/common.js";
import { fmtLength } from "/static/js/format.js";
import { toInt } from "/static/js/admin/state.js";

const NAMES = {
  performance: () => t("自备展示", "Self-prepared performance"),
  question: () => t("命题作答（随机抽题）", "Drawn question"),
  guided: () => t("指定项目（按步骤）", "Guided items"),
};
const formName = (form) => (NAMES[form] || (() => form))();

export function formFields(s) {
  const form = el("select", { name: "form" }, ...Object.keys(NAMES).map((k) => el("option", { value: k, selected: (s.form || "performance") === k }, formName(k))));
  const prepare = el("input", { name: "prepare_s", type: "number", min: "0", max: "600", value: String(s.prepare_s ?? 60) });
  const second = el("input", { type: "checkbox", name: "prompt_device", checked: s.prompt_device || undefined });
  const questionPart = el("div", { class: "row form-question" },
    el("label", {}, t("准备时间（秒，抽题后、录制前）", "Preparation (s, after the draw, before recording)"), prepare),
    el("label", { class: "check" }, second, t("题目在另一部手机上查看（如视奏谱：二维码打开题目查看页，不作为辅机位）",
      "The question is read on another phone (e.g. a score: the QR code opens a viewer, not a camera)")));
  const note = el("p", { class: "hint form-note" });
  const sync = () => {
    questionPart.hidden = form.value !== "question";
    note.textContent = form.value === "question" ? t("保存后请在“题库”中添加正式考和模拟考的题目（两者不同；练习使用模拟考题目）。", "After saving, add formal and mock questions under 'Question bank' (they differ; practice uses the mock ones).")
      : form.value === "guided" ? t("保存后请在“步骤”中设置指定项目的步骤、时长和指导音。", "After saving, set the steps, their lengths and guides under 'Steps'.") : "";
  };
  form.addEventListener("change", sync);
  sync();
  return {
    element: el("div", { class: "form-rules" }, el("div", { class: "row" }, el("label", {}, t("录制形式", "Form"), form)), questionPart, note),
    read: () => (form.value === "question"
      ? { form: form.value, prepare_s: toInt(prepare.value), prompt_device: second.checked }
      : { form: form.value }),
  };
}

export function formSummary(s) {
  if (s.form === "question") {
    return formName(s.form) + t(` · 准备 ${fmtLength(s.prepare_s || 0)}`, ` · ${fmtLength(s.prepare_s || 0)} to prepare`) + (s.prompt_device ? t(" · 另一部手机看题", " · read on a second phone") : "");
  }
  if (s.form === "guided") return formName(s.form) + t(` · ${(s.steps || []).length} 步`, ` · ${(s.steps || []).length} steps`);
  return formName(s.form || "performance");
}

export function contentLink(examId, s) {
  if (s.kind !== "recorded" || !["question", "guided"].includes(s.form)) return "";
  const href = `/admin/exams/${encodeURIComponent(examId)}/subjects/${encodeURIComponent(s.id)}/content`;
  return el("a", { class: "button small secondary", href, "data-content": s.id }, s.form === "question" ? t("题库", "Question bank") : t("步骤", "Steps"));
}
