// A recorded subject's form in the admin's 编辑规则 (docs/recorded.md "Forms"): 自备展示, 命题作答 (its preparation time,
// whether the question is read on a second phone), 指定项目, or 作品创作 (its photo rules: minutes to photograph the
// work after a take, the fewest and the most photos; docs/recorded.md "Artwork"), and the link to the page of its
// question bank or steps (/admin/exams/{exam}/subjects/{subject}/content). The ranges are the server's
// (server/recorded/rules.py RANGES).
//   formFields(subject) -> {element, read() -> the body's form fields}; formSummary(subject); contentLink(examId, subject)
import { el, t } from "/static/js/common.js";
import { fmtLength } from "/static/js/format.js";
import { toInt } from "/static/js/admin/state.js";

const NAMES = {
  performance: () => t("自备展示", "Self-prepared performance"),
  question: () => t("命题作答（随机抽题）", "Drawn question"),
  guided: () => t("指定项目（按步骤）", "Guided items"),
  artwork: () => t("作品创作（录制后拍摄作品照片）", "Artwork (photos of the work after the take)"),
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
  const num = (name, text, value, min, max) => el("label", {}, text,
    el("input", { name, type: "number", min: String(min), max: String(max), value: String(value ?? "") }));
  const artworkPart = el("div", { class: "row artwork-rules" },
    num("photo_time_limit_min", t("拍照时间（录制结束后，分钟）", "Photo time after a take (min)"), s.photo_time_limit_min ?? 10, 1, 120),
    num("photos_min", t("作品照片最少张数", "Fewest photos"), s.photos_min ?? 1, 1, 20),
    num("photos_max", t("作品照片最多张数", "Most photos"), s.photos_max ?? 6, 1, 20));
  const note = el("p", { class: "hint form-note" });
  const sync = () => {
    questionPart.hidden = form.value !== "question";
    artworkPart.hidden = form.value !== "artwork";
    note.textContent = form.value === "question" ? t("保存后请在“题库”中添加正式考和模拟考的题目（两者不同；练习使用模拟考题目）。", "After saving, add formal and mock questions under 'Question bank' (they differ; practice uses the mock ones).")
      : form.value === "guided" ? t("保存后请在“步骤”中设置指定项目的步骤、时长和指导音。", "After saving, set the steps, their lengths and guides under 'Steps'.") : "";
  };
  form.addEventListener("change", sync);
  sync();
  return {
    element: el("div", { class: "form-rules" }, el("div", { class: "row" }, el("label", {}, t("录制形式", "Form"), form)), questionPart, artworkPart, note),
    read: () => {
      if (form.value === "question") return { form: form.value, prepare_s: toInt(prepare.value), prompt_device: second.checked };
      if (form.value === "artwork") {
        const value = (name) => toInt(artworkPart.querySelector(`[name=${name}]`).value);
        return { form: form.value, photo_time_limit_min: value("photo_time_limit_min"), photos_min: value("photos_min"), photos_max: value("photos_max") };
      }
      return { form: form.value };
    },
  };
}

export function formSummary(s) {
  if (s.form === "question") {
    return formName(s.form) + t(` · 准备 ${fmtLength(s.prepare_s || 0)}`, ` · ${fmtLength(s.prepare_s || 0)} to prepare`) + (s.prompt_device ? t(" · 另一部手机看题", " · read on a second phone") : "");
  }
  if (s.form === "guided") return formName(s.form) + t(` · ${(s.steps || []).length} 步`, ` · ${(s.steps || []).length} steps`);
  if (s.form === "artwork") {
    return t(`作品创作：录后 ${s.photo_time_limit_min} 分钟内拍照 ${s.photos_min}–${s.photos_max} 张`,
      `Artwork: ${s.photos_min}–${s.photos_max} photos within ${s.photo_time_limit_min} min of a take`);
  }
  return formName(s.form || "performance");
}

export function contentLink(examId, s) {
  if (s.kind !== "recorded" || !["question", "guided"].includes(s.form)) return "";
  const href = `/admin/exams/${encodeURIComponent(examId)}/subjects/${encodeURIComponent(s.id)}/content`;
  return el("a", { class: "button small secondary", href, "data-content": s.id }, s.form === "question" ? t("题库", "Question bank") : t("步骤", "Steps"));
}
