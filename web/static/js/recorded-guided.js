// 指定项目 on the candidate's recorded page (docs/recorded.md "Forms"): one take records every step while the page
// leads the candidate through them (001_* 5.2: 根据系统指导音完成). The server sets each step's start on its clock when
// the camera joins (the take's timeline); this shows the current step over the camera with its time left, and at each
// step's start plays its audio guide (uploaded by the school) or speaks its text (the browser's zh-CN speech), or only
// shows it. The take ends by itself after the last step (the server stops it). A reload goes on at the current step.
//   mount(ctx) -> the hooks recorded.js calls (see FORM_HOOKS there)
import { el, t } from "/static/js/common.js";
import { fmtDuration, fmtLength } from "/static/js/format.js";
import { speak } from "/static/js/live.js";

export function mount(ctx) {
  const { serverNow, page } = ctx;
  let box = null, timer = null, current = -1, player = null, take = null;

  const total = (steps) => steps.reduce((sum, s) => sum + (s.duration_s || 0), 0);

  function guide(index) {
    const step = take.steps[index] || {};
    if (player) player.pause();
    if (step.audio_sha256) {
      player = new Audio(`/api/candidate/takes/${encodeURIComponent(take.id)}/steps/${index}/audio`);
      player.play().catch(() => {});
      return "audio";
    }
    if (step.speak) return speak(step.text) ? "speech" : "text";
    return "text";
  }

  function beat() {
    const now = serverNow();
    const marks = take.timeline || [];
    let at = -1;
    marks.forEach((m, i) => { if (m.at <= now + 0.05) at = i; });
    if (at < 0) return;
    const mark = marks[at];
    const step = take.steps[mark.index] || {};
    const next = marks[at + 1];
    const ends = next ? next.at : take.stop_at;
    if (at !== current) {
      current = at;
      page.dataset.step = String(mark.index);
      const how = now - mark.at < 2 ? guide(mark.index) : "text"; // a reload mid-step shows it without replaying
      page.dataset.guide = how;
      box.querySelector(".step-count").textContent = t(`第 ${mark.index + 1} / ${take.steps.length} 项`, `Step ${mark.index + 1} of ${take.steps.length}`);
      box.querySelector(".step-text").textContent = step.text || "";
      box.querySelector(".step-next").textContent = next
        ? t(`下一项：${(take.steps[next.index] || {}).text || ""}`, `Next: ${(take.steps[next.index] || {}).text || ""}`)
        : t("这是最后一项，完成后自动停止录制", "This is the last step: the recording stops by itself after it");
    }
    box.querySelector(".step-left").textContent = fmtDuration(Math.max(0, ends - now));
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    if (player) player.pause();
    player = null;
    current = -1;
  }

  return {
    rule(s) {
      const steps = s.steps || [];
      return t(`本科目为指定项目，共 ${steps.length} 项、约 ${fmtLength(Math.min(total(steps), s.take_max_s))}：开始录制后请按屏幕提示和指导音依次完成，全部完成后自动停止录制。`,
        `Guided items: ${steps.length} steps, about ${fmtLength(Math.min(total(steps), s.take_max_s))}. Once recording starts, follow the screen and the voice step by step; the recording stops by itself after the last one.`);
    },
    // iOS lets a page speak only after a tap: a silent utterance in the tap that starts the take
    gesture() {
      try { if (window.speechSynthesis) speechSynthesis.speak(Object.assign(new SpeechSynthesisUtterance(" "), { volume: 0 })); } catch { /* no speech */ }
    },
    takeMax: () => (take && take.answer_at && take.stop_at ? take.stop_at - take.answer_at : null),
    async recording(running) {
      take = await ctx.reloadTake(running.id); // the timeline the server set when the camera joined
      if (!take || !(take.timeline || []).length) return;
      box?.remove();
      box = el("div", { class: "step-overlay", id: "step-overlay", role: "status", "aria-live": "polite" },
        el("div", { class: "step-head" }, el("span", { class: "step-count" }), el("strong", { class: "step-left mono" })),
        el("p", { class: "step-text", id: "step-text" }),
        el("p", { class: "step-next hint" }));
      ctx.preview.append(box);
      page.dataset.phase = "steps";
      stop();
      timer = setInterval(beat, 250);
      beat();
    },
    ended() {
      stop();
      box?.remove();
      box = null;
      take = null;
      page.dataset.phase = "";
    },
  };
}
