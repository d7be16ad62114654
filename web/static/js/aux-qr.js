// The auxiliary camera's QR code (双机位) on the candidate's interview and recorded-exam pages: loaded
// when the candidate opens its card, with a clear message when it cannot be shown.
import { el, t } from "/static/js/common.js";

// query(): what the code is for, e.g. "?prompt=<subject>" (a drawn question's viewer instead of a camera)
export function wireAuxQr(card, examId, query = () => "") {
  card.querySelector("details").addEventListener("toggle", (ev) => {
    const img = card.querySelector("#aux-qr");
    if (!ev.target.open || img.getAttribute("src")) return;
    img.onerror = () => {
      img.hidden = true;
      img.after(el("p", { class: "error", role: "alert" }, t("二维码暂时无法显示，请稍后刷新页面重试", "The QR code cannot be shown right now; reload the page later")));
    };
    img.src = `/api/candidate/exams/${examId}/aux-qr${query()}`;
  });
}
