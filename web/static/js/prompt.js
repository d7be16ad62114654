// The prompt viewer (docs/recorded.md "The question on a second phone"): opened from the recorded page's QR code on
// another phone, for a drawn-question subject read there while the main phone films (004_* 视奏). It asks the
// server every 2 s for the candidate's running take and shows the question it drew (text, the score image, the audio
// prompt) with the preparation's time left; nothing before a take has drawn one, the next take's once it starts.
import { api, el, t } from "/static/js/common.js";
import { $, fmtDuration } from "/static/js/format.js";
import { clockSkew, serverNow } from "/static/js/live.js";

const page = $("prompt-page");
const token = page.dataset.token;
const POLL_MS = 2000;
let shown = null, last = null, failures = 0;

function render(data) {
  last = data;
  page.dataset.state = data.state;
  if (data.state === "waiting") {
    shown = null;
    page.dataset.take = "";
    $("prompt-box").replaceChildren();
    $("prompt-clock").hidden = true;
    $("prompt-state").textContent = t("等待主考手机抽取题目…抽题后题目会自动显示在这里。", "Waiting for the main phone to draw a question… It shows here by itself.");
    return;
  }
  if (shown !== data.take_id) {
    shown = data.take_id;
    page.dataset.take = data.take_id;
    const q = data.question || {};
    const media = q.media_kind === "image" ? el("img", { src: q.media_url, class: "prompt-image", id: "prompt-image", alt: t("题目图片", "The question's image") })
      : q.media_kind === "audio" ? el("audio", { src: q.media_url, controls: "", preload: "auto", class: "prompt-audio", id: "prompt-audio" }) : "";
    $("prompt-box").replaceChildren(q.text ? el("p", { class: "prompt-text", id: "prompt-text" }, q.text) : "", media);
  }
  tick();
}

function tick() {
  if (!last || last.state === "waiting") return;
  const preparing = serverNow() < last.answer_at;
  $("prompt-clock").hidden = !preparing;
  $("prompt-clock").textContent = fmtDuration(last.answer_at - serverNow());
  page.dataset.state = preparing ? "preparing" : "answering";
  $("prompt-state").textContent = preparing ? t(`第 ${last.number} 条 · 准备时间剩余：`, `Take ${last.number} · preparation left:`)
    : t(`第 ${last.number} 条 · 正在作答（主考手机录制中）`, `Take ${last.number} · answering (the main phone is recording)`);
}

async function poll() {
  try {
    const data = await api("GET", `/api/prompt/${encodeURIComponent(token)}`);
    if (data.now) clockSkew(data.now);
    failures = 0;
    $("refused").hidden = true;
    render(data);
  } catch (err) {
    if (["aux_token_invalid", "aux_token_replaced", "aux_token_logged_out"].includes(err.code)) {
      page.dataset.state = "refused";
      $("refused").hidden = false;
      $("refused-title").textContent = err.message;
      $("refused-text").textContent = t("请在主考手机的考试页面重新扫描最新的二维码。", "Scan the current code on the main phone's exam page again.");
      return; // the code is void: no more asking
    }
    failures += 1;
    if (failures > 1) $("prompt-state").textContent = t("网络连接中断，正在重试…", "The connection dropped; retrying…");
  }
  setTimeout(poll, POLL_MS);
}

setInterval(tick, 500);
poll();
