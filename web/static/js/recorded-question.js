// 命题作答 on the candidate's recorded page (docs/recorded.md "Forms"). The server draws the take's question when
// the take starts (POST .../takes: the take holds it); this shows it above the camera (text, a score image, an audio
// prompt played at once), runs the preparation countdown on the server's clock and resolves when the answer
// begins: at the end of the preparation, or when the candidate presses 准备好了，开始作答 (the server then counts the
// answer's longest length from that moment). Recording then starts by itself. A reload during the preparation
// shows the same question and the time left (the take holds both). During the answer the question stays, and can be
// hidden and shown again (002_* 26). A subject read on a second phone (004_* 视奏) turns the aux QR into its viewer's.
//   mount(ctx) -> the hooks recorded.js calls (see FORM_HOOKS there)
import { el, t } from "/static/js/common.js";
import { fmtDuration, fmtLength } from "/static/js/format.js";

export function mount(ctx) {
  const { serverNow, page } = ctx;
  let card = null, audio = null, timer = null, shown = null; // shown: the take whose question is on screen

  function cleanup() {
    clearInterval(timer);
    timer = null;
    if (audio) audio.pause();
    ctx.countdown.hidden = true;
    ctx.countdown.classList.remove("prepare");
  }

  function media(take) {
    const q = take.question || {};
    const url = `/api/candidate/takes/${encodeURIComponent(take.id)}/question`;
    if (q.media_kind === "image") {
      return el("a", { href: url, target: "_blank", rel: "noopener", class: "prompt-image-link" },
        el("img", { src: url, alt: t("题目图片", "The question's image"), class: "prompt-image", id: "prompt-image" }));
    }
    if (q.media_kind === "audio") {
      audio = el("audio", { src: url, controls: "", preload: "auto", id: "prompt-audio", class: "prompt-audio" });
      return audio;
    }
    return "";
  }

  // The question's card, above the camera: shown for the take's preparation and answer.
  function show(take) {
    if (shown === take.id && card) return;
    shown = take.id;
    audio = null;
    const q = take.question || {};
    const body = el("div", { class: "prompt-body", id: "prompt-body" },
      q.text ? el("p", { class: "prompt-text", id: "prompt-text" }, q.text) : "", media(take));
    const toggle = el("button", { type: "button", class: "small secondary prompt-toggle", id: "prompt-toggle" }, t("隐藏题目", "Hide the question"));
    toggle.addEventListener("click", () => {
      body.hidden = !body.hidden;
      toggle.textContent = body.hidden ? t("显示题目", "Show the question") : t("隐藏题目", "Hide the question");
    });
    card = el("section", { class: "prompt-card", id: "prompt-card", "data-question": q.id || "" },
      el("div", { class: "prompt-head" }, el("strong", {}, t("本次抽到的题目", "Your question")), toggle),
      body,
      el("p", { class: "prompt-phase", id: "prompt-phase", role: "status" }));
    document.getElementById("prompt-card")?.remove();
    ctx.stageTake.prepend(card);
    page.dataset.question = q.id || "";
  }

  function phase(text, kind = "hint") {
    const box = document.getElementById("prompt-phase");
    if (box) { box.textContent = text; box.className = `prompt-phase ${kind}`; }
  }

  return {
    startLabel: t("抽取题目", "Draw the question"),
    rule(s) {
      const prep = s.prepare_s ? t(`准备 ${fmtLength(s.prepare_s)}，准备结束后自动开始录制`, `${fmtLength(s.prepare_s)} to prepare, then recording starts by itself`)
        : t("抽题后立即开始录制", "recording starts as soon as the question is drawn");
      return t(`点击“抽取题目”后，系统随机抽取一道题目并显示在屏幕上（或播放音频），${prep}，作答完毕即可停止录制。`,
        `Press 'Draw the question': the server draws one at random and shows it (or plays it); ${prep}; stop when you are done.`);
    },
    // the preparation of a take that drew its question: resolves when recording should start
    preparing: (take) => Boolean(take && take.form === "question" && take.answer_at && serverNow() < take.answer_at - 0.3),
    prepare(take) {
      show(take);
      page.dataset.phase = "prepare";
      ctx.status(t("请仔细阅读题目并准备，准备时间结束后将自动开始录制。开始作答时请先报出考试码。",
        "Read the question and prepare: recording starts by itself when the time is up. Say the exam code first when you begin."));
      if (audio) audio.play().catch(() => phase(t("请点击播放按钮收听题目音频。", "Press play to hear the question."), "warn"));
      const box = ctx.countdown;
      box.hidden = false;
      box.classList.add("prepare");
      const ready = el("button", { type: "button", class: "full", id: "prompt-ready" }, t("准备好了，开始作答", "Ready: start answering"));
      card.append(ready);
      return new Promise((resolve) => {
        const done = () => { cleanup(); ready.remove(); page.dataset.phase = "answer"; resolve(); };
        ready.addEventListener("click", done, { once: true });
        const beat = () => {
          const left = take.answer_at - serverNow();
          if (left <= 0.3) return done();
          box.textContent = fmtDuration(left);
          phase(t(`准备时间剩余 ${fmtDuration(left)}`, `Preparation left: ${fmtDuration(left)}`));
        };
        timer = setInterval(beat, 250);
        beat();
      });
    },
    recording(take) {
      show(take);
      page.dataset.phase = "answer";
      phase(t("正在作答：题目可随时隐藏或重新显示。", "Answering: hide or show the question at any time."), "ok");
    },
    ended() {
      cleanup();
      card?.remove();
      card = null;
      shown = null;
      page.dataset.phase = "";
    },
    takeLine: (x) => (x.question && x.question.id
      ? el("p", { class: "hint take-question-line" }, t("题目：", "Question: ") + ((x.question.text || "").slice(0, 60) || t("（图片或音频）", "(image or audio)")))
      : ""),
    // a subject whose question is read on a second phone (004_* 视奏): the QR code opens the question's viewer
    auxQuery: (s) => (s.prompt_device ? `?prompt=${encodeURIComponent(s.id)}` : ""),
    aux(cardBox, s) {
      if (!s.prompt_device) return;
      cardBox.querySelector("summary").textContent = t("用另一部手机查看题目（扫码）", "See the question on another phone (scan)");
      const hints = cardBox.querySelectorAll("p.hint");
      if (hints[0]) hints[0].textContent = t("本科目需借助另一部手机查看所抽取的题目（如视奏谱）：请用另一部手机扫描下方二维码，抽题后题目会自动显示在那部手机上。查看题目的手机不录制、不占用辅考手机名额，也不消耗考试次数。",
        "This subject's question (e.g. a score to sight-read) is read on another phone: scan the code below with it; once a question is drawn it shows there by itself. That phone records nothing, is not a second camera and uses no sitting.");
      if (hints[1]) hints[1].textContent = t("本手机继续拍摄作答过程。", "This phone goes on filming your answer.");
    },
  };
}
