// The identity appeal (身份证认证冲突 / 去申诉): the name and ID number match the roster but another
// account verified them first. The candidate proves it is them with a live face check against the
// school's roster photo; a passed check files the appeal, a proctor decides it.
//   appealStatus() -> {appeal: {status, created_at, resolved_at, comment} | null}
//   mountAppeal(box, {name, id_number}, {onFiled}) : the whole flow in a container
import { api, el, t } from "/static/js/common.js";
import { fmtTime } from "/static/js/format.js";
import { startCamera, stopStream } from "/static/js/camera.js";
import { captureBurst, turnText } from "/static/js/facecheck.js";

export const appealStatus = () => api("GET", "/api/candidate/identity/appeal");

// What the candidate sees about their latest appeal (null when there is nothing to say).
export function appealView(appeal) {
  if (!appeal) return null;
  if (appeal.status === "open") {
    return el("div", { class: "face-result", "data-state": "appeal-open" },
      el("strong", {}, t("申诉已提交，请耐心等待人工审核结果", "Your appeal is filed; please wait for the review")),
      el("p", { class: "hint" }, t("提交时间：", "Filed: ") + fmtTime(appeal.created_at)));
  }
  if (appeal.status === "rejected") {
    return el("div", { class: "face-result fail", "data-state": "appeal-rejected" },
      el("strong", {}, t("申诉未通过", "Your appeal was not approved")),
      appeal.comment ? el("p", {}, t("审核意见：", "Reviewer's note: ") + appeal.comment) : "",
      el("p", {}, t("如有疑问请联系报考院校", "Contact the school if you have questions")));
  }
  return null; // approved: the account is verified now, the identity step says so
}

export function mountAppeal(box, pair, { onFiled = () => {} } = {}) {
  const video = el("video", { autoplay: "", muted: "", playsinline: "", class: "appeal-video", hidden: "" });
  const prompt = el("p", { class: "prompt", hidden: "" });
  const out = el("div", { class: "face-out", "aria-live": "polite" });
  const start = el("button", { type: "button", class: "full", id: "appeal-start" }, t("去申诉：进行人脸比对", "Appeal: do a face check"));
  box.replaceChildren(
    el("p", {}, t("该身份证号已被其他账号认证。如果您是本人，请完成人脸比对（与报考院校名单中的照片比对）后提交申诉，监考老师审核通过后，该身份将转到您的账号。",
      "This ID number is verified by another account. If it is yours, pass a face check against the school's roster photo to file an appeal; once a proctor approves it, the identity moves to your account.")),
    el("ul", { class: "facts hint" },
      el("li", {}, t("请正面面对摄像头，光线充足，摘下帽子和口罩", "Face the camera in good light, without hat or mask")),
      el("li", {}, t("根据提示缓慢转头，画面中仅允许出现您本人", "Turn your head slowly when asked; only you may be in the picture"))),
    el("div", { class: "video-box" }, video, prompt), out, start);
  let stream = null;
  const say = (text) => { prompt.textContent = text; prompt.hidden = !text; };

  start.addEventListener("click", async () => {
    start.disabled = true;
    out.replaceChildren(el("p", { class: "progress" }, t("正在打开摄像头…", "Turning on the camera…")));
    try {
      if (!stream) {
        video.hidden = false;
        stream = await startCamera(video, { audio: false });
      }
      const challenge = await api("POST", "/api/candidate/identity/appeal/challenge", pair);
      const blobs = await captureBurst(video, {
        count: Math.max(2, Math.min(8, challenge.max_frames || 5)),
        onFrontal: () => { say(t("请正面面对摄像头", "Face the camera")); out.replaceChildren(el("p", { class: "progress" }, t("请正面面对摄像头，保持不动", "Face the camera and hold still"))); },
        onTurn: () => { say(turnText(challenge.direction)); out.replaceChildren(el("p", { class: "progress" }, turnText(challenge.direction))); },
      });
      say("");
      out.replaceChildren(el("p", { class: "progress" }, t("正在比对并提交申诉，请稍候…", "Checking and filing the appeal, please wait…")));
      const form = new FormData();
      form.append("challenge_id", challenge.challenge_id);
      blobs.forEach((b, i) => form.append("frame", b, `frame${i}.jpg`));
      const result = await api("POST", "/api/candidate/identity/appeal", form);
      if (result.appeal) {
        stopStream(stream);
        stream = null;
        video.hidden = true;
        start.hidden = true;
        out.replaceChildren(appealView(result.appeal));
        onFiled(result.appeal);
      } else {
        out.replaceChildren(el("div", { class: "face-result fail", "data-state": "failed", "data-reason": result.check.reason || "" },
          el("strong", {}, result.check.message || t("人脸比对未通过", "The face check did not pass")),
          el("p", {}, result.check.advice || ""),
          el("p", { class: "hint" }, t("可调整后重试；仍无法通过请联系报考院校。", "Adjust and try again; if it still fails, contact the school."))));
        start.textContent = t("重新进行人脸比对", "Try the face check again");
      }
    } catch (err) {
      say("");
      out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message || String(err)));
    } finally {
      start.disabled = false;
    }
  });
}
