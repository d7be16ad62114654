// What a take of a drawn-question or guided subject brought, beside its video (docs/recorded.md "Forms"): the
// question drawn (text, its image or audio) and the guided steps, each a button that plays the video from that step
// (the server keeps each step's place in the playback file). Used by the graders' page.
//   takePrompt({question, steps}, () => video) -> an element, or "" when the take has neither
import { el, t } from "/static/js/common.js";
import { fmtDuration } from "/static/js/format.js";

export function takePrompt(sub, video) {
  const parts = [];
  const q = sub.question;
  if (q) {
    const media = q.media_kind === "image" ? el("img", { src: q.media_url, alt: t("题目图片", "The question's image"), loading: "lazy" })
      : q.media_kind === "audio" ? el("audio", { src: q.media_url, controls: "", preload: "none" }) : "";
    parts.push(el("div", { class: "take-question", id: "take-question" },
      el("strong", {}, t("考生抽到的题目", "The question drawn")), q.text ? el("p", { class: "prompt-text" }, q.text) : "", media));
  }
  const steps = sub.steps || [];
  if (steps.length) {
    parts.push(el("div", { class: "take-steps-box" }, el("strong", {}, t("指定项目（点击时间跳转到该项）", "Guided steps (press a time to jump there)")),
      el("ol", { class: "take-steps", id: "take-steps" }, ...steps.map((s) => {
        const at = typeof s.video_s === "number" ? s.video_s : null;
        const jump = el("button", { type: "button", class: "small secondary", "data-seek": at === null ? "" : String(at), disabled: at === null ? "" : undefined },
          at === null ? "—" : fmtDuration(at));
        jump.addEventListener("click", () => {
          const v = video();
          if (!v || at === null) return;
          v.currentTime = at + 0.05;
          v.play().catch(() => {});
        });
        return el("li", { "data-step": String(s.index) }, jump, el("span", {}, t(`第 ${s.index + 1} 项：`, `Step ${s.index + 1}: `), s.text));
      }))));
  }
  return parts.length ? el("div", { class: "take-prompt" }, ...parts) : "";
}
