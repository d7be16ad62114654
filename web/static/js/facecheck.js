// The queue-entry face check (docs/facecheck.md "Live challenge"): the camera is published to the
// server over WebRTC for the check; the server asks a random sequence of moves when it chooses
// (face:move), judges them on the frames it decoded itself and answers (face:result). Nothing the
// page captures is uploaded. The identity appeal (appeal.js) still sends a burst: captureBurst.
//   faceStatus(examId) -> {status, cleared, strikes, strikes_left, ...}
//   runFaceCheck(examId, video, {onStep}) -> the check's result (passed, reason, message, advice, strikes_left, locked)
//   captureBurst(video, {count, intervalMs, onFrontal, onTurn}) -> Blob[] (the appeal's burst)
//   mountFaceCheck(box, examId, video, {onPassed}) -> {refresh()}: the whole UI in a container
import { api, el, t } from "/static/js/common.js";
import { connect, refusal, speak as speakIn } from "/static/js/live.js";
import { publishVideo } from "/static/js/rtc.js";

export const faceStatus = (examId) => api("GET", `/api/candidate/exams/${examId}/facecheck`);

const MAX_SIDE = 640; // the appeal's burst: the server needs ~64 px of face; 640 px keeps each frame ~40-80 KB
const CONNECT_TIMEOUT_MS = 10_000;
const RESULT_TIMEOUT_MS = 90_000; // the server ends a check well within a minute

// One frame of the video as JPEG. The video is drawn unmirrored (the preview is only mirrored by CSS).
function grab(video, canvas) {
  const w = video.videoWidth, h = video.videoHeight;
  if (!w || !h) throw { code: "no_video", message: t("摄像头没有画面", "The camera shows no picture") };
  const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  // toBlob copies the bitmap now; encoding finishes later
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// First frame facing the camera, then `count - 1` frames while the head turns (the appeal's burst).
export async function captureBurst(video, { count = 8, intervalMs = 300, frontalMs = 800, onFrontal = () => {}, onTurn = () => {} } = {}) {
  const canvas = document.createElement("canvas");
  onFrontal();
  await sleep(frontalMs);
  const pending = [grab(video, canvas)];
  onTurn();
  for (let i = 1; i < count; i++) {
    await sleep(intervalMs);
    pending.push(grab(video, canvas));
  }
  const blobs = await Promise.all(pending);
  if (blobs.some((b) => !b)) throw { code: "capture_failed", message: t("无法截取摄像头画面，请重试", "Could not capture the camera picture; retry") };
  return blobs;
}

// Spoken in Chinese where the device has a Chinese voice (English pages: an English one).
const speak = (text) => speakIn(text, document.documentElement.lang === "en" ? "en-US" : "zh-CN");

export const turnText = (direction) => direction === "left"
  ? t("请缓慢向左转头", "Slowly turn your head to the left")
  : t("请缓慢向右转头", "Slowly turn your head to the right");

function connected(socket) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject({ code: "offline", message: t("无法连接服务器，请检查网络后重试", "Cannot reach the server; check the network and retry") }), CONNECT_TIMEOUT_MS);
    socket.once("connect", () => { clearTimeout(timer); resolve(); });
    socket.once("connect_error", (err) => { clearTimeout(timer); reject(refusal(err)); });
  });
}

// onStep(step, detail): "connecting" -> "frontal" -> ("move" {index, total, move, text} -> "done" {index, total}
// -> "hold") ... -> the result. A socket of its own for the check, closed with the publish after it.
export async function runFaceCheck(examId, video, { onStep = () => {}, voice = true } = {}) {
  const stream = video.srcObject;
  if (!stream || !stream.getVideoTracks || !stream.getVideoTracks().length) {
    throw { code: "no_video", message: t("摄像头没有画面", "The camera shows no picture") };
  }
  onStep("connecting");
  const socket = connect("/candidate");
  let pc = null;
  let challengeId = null;
  let finish, fail;
  const answered = new Promise((resolve, reject) => { finish = resolve; fail = reject; });
  answered.catch(() => {}); // a refusal before the check started is thrown from the publish instead
  const mine = (d) => d && challengeId && d.challenge_id === challengeId;
  socket.on("face:move", (d) => { if (mine(d)) { onStep("move", d); if (voice) speak(d.text); } });
  socket.on("face:progress", (d) => { if (mine(d)) onStep("done", d); });
  socket.on("face:hold", (d) => { if (mine(d)) { onStep("hold", d); if (voice) speak(d.text); } });
  socket.on("face:result", (d) => { if (mine(d)) finish(d); });
  socket.on("disconnect", () => fail({ code: "face_video_lost", message: t("与服务器的连接中断，请重试", "The connection to the server was lost; retry") }));
  const timer = setTimeout(() => fail({ code: "timeout", message: t("人脸比对超时，请重试", "The face check timed out; retry") }), RESULT_TIMEOUT_MS);
  try {
    await connected(socket);
    const published = await publishVideo(socket, "face:live", { exam_id: examId }, stream);
    pc = published.pc;
    challengeId = published.ack.challenge_id;
    onStep("frontal");
    if (voice) speak(t("请正对摄像头", "Face the camera"));
    const result = await answered;
    onStep("checking");
    return result;
  } finally {
    clearTimeout(timer);
    if (pc) pc.close();
    socket.close();
  }
}

// --- the UI: instruction over the preview, result with reason + advice, strikes, locked state ---

function lockedView(status) {
  if (status.status === "rejected") {
    return el("div", { class: "face-result fail", "data-state": "rejected" },
      el("strong", {}, t("人工审核未通过", "The manual review did not approve you")),
      el("p", {}, t("请联系报考院校", "Contact the school")));
  }
  return el("div", { class: "face-result fail", "data-state": "locked" },
    el("strong", {}, t("您未通过人脸验证，已提交人工审核", "You did not pass the face check; it has gone to manual review")),
    el("p", {}, t("连续 3 次人脸验证失败，请耐心等待人工审核结果。审核通过后，可再继续考试。",
      "Three face checks failed in a row; please wait for the manual review. Once approved you can continue.")));
}

export function mountFaceCheck(box, examId, video, { onPassed = () => {}, prompt = null } = {}) {
  const out = el("div", { class: "face-out", "aria-live": "polite" });
  const button = el("button", { type: "button", class: "full", id: "face-start" }, t("开始人脸比对", "Start the face check"));
  const tips = el("ul", { class: "facts hint" },
    el("li", {}, t("请正面面对摄像头，调整好光线角度，不要出现高曝光的情况，保证人脸清晰", "Face the camera in good, even light so your face is clear")),
    el("li", {}, t("不要佩戴美瞳、不要化浓妆，摘下帽子和口罩", "No coloured lenses, heavy make-up, hat or mask")),
    el("li", {}, t("根据提示缓慢转头，画面中仅允许出现考生本人", "Turn your head slowly when asked; only you may be in the picture")));
  box.replaceChildren(tips, out, button);
  const say = (text, cls = "") => { if (prompt) { prompt.textContent = text; prompt.className = "prompt " + cls; prompt.hidden = !text; } };

  function show(status) {
    if (status.status === "locked" || status.status === "rejected") {
      out.replaceChildren(lockedView(status));
      button.hidden = true;
      return;
    }
    if (status.cleared) {
      const minutes = status.valid_s ? Math.round(status.valid_s / 60) : 0;
      out.replaceChildren(el("div", { class: "face-result ok", "data-state": "passed" },
        el("strong", {}, status.status === "approved" ? t("人工审核已通过", "Approved by manual review") : t("人脸比对通过", "Face check passed")),
        status.status === "passed" && minutes ? el("p", { class: "hint" }, t(`${minutes} 分钟内进入候考队列有效，超时需重新比对`,
          `Valid for entering the queue within ${minutes} minutes; after that, check again`)) : ""));
      button.hidden = true;
      onPassed(status);
      return;
    }
    button.hidden = false;
    if (status.status === "expired") { // passed too long ago to clear the queue: offer the check again
      out.replaceChildren(el("p", { class: "warn", "data-state": "expired" }, t("上次人脸比对已超过有效期，请重新进行人脸比对",
        "Your last face check is too old to count; do the face check again")));
    }
    button.textContent = status.strikes ? t("重新进行人脸比对", "Try the face check again") : t("开始人脸比对", "Start the face check");
    if (status.strikes && status.strikes_left !== undefined && !out.firstChild) { // e.g. after a reload
      out.replaceChildren(el("p", { class: "warn" }, t(`上次人脸比对未通过，还有 ${status.strikes_left} 次机会`,
        `The last face check failed; ${status.strikes_left} ${status.strikes_left === 1 ? "try" : "tries"} left`)));
    }
  }

  async function refresh() {
    try {
      show(await faceStatus(examId));
    } catch (err) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    out.replaceChildren(el("p", { class: "progress" }, t("正在准备人脸比对…", "Preparing the face check…")));
    try {
      const steps = el("ol", { class: "face-moves" }); // each move asked, and whether it was seen
      const result = await runFaceCheck(examId, video, {
        onStep: (step, d) => {
          if (step === "connecting") {
            out.replaceChildren(el("p", { class: "progress" }, t("正在连接摄像头…", "Connecting the camera…")));
          }
          if (step === "frontal") {
            if (prompt) prompt.parentElement.scrollIntoView({ behavior: "smooth", block: "start" });
            say(t("请正对摄像头", "Face the camera"));
            out.replaceChildren(el("p", { class: "progress" }, t("请正对摄像头保持不动，按提示转头", "Face the camera, hold still, and turn when asked")), steps);
          }
          if (step === "move") {
            box.dataset.faceMove = `${d.move}:${d.index}`; // the move being asked (the page's state)
            say(d.text + (d.move === "left" ? " ←" : " →"), "turn");
            while (steps.children.length < d.total) steps.append(el("li", { class: "pending" }, "…"));
            const item = steps.children[d.index];
            item.className = "asked";
            item.textContent = `${d.index + 1}/${d.total} ${d.text}`;
          }
          if (step === "done") {
            delete box.dataset.faceMove;
            const item = steps.children[d.index];
            if (item) { item.className = "done"; item.textContent += " ✓"; }
            say(t("很好", "Good"));
          }
          if (step === "hold") say(d.text);
          if (step === "checking") {
            delete box.dataset.faceMove;
            say("");
          }
        },
      });
      if (result.passed) {
        show(await faceStatus(examId).catch(() => ({ status: "passed", cleared: true })));
      } else if (result.locked) {
        out.replaceChildren(el("div", { class: "face-result fail", "data-state": "locked", "data-reason": result.reason },
          el("strong", {}, result.message), el("p", {}, result.locked_message)));
        button.hidden = true;
      } else {
        out.replaceChildren(el("div", { class: "face-result fail", "data-state": "failed", "data-reason": result.reason },
          el("strong", {}, result.message),
          el("p", {}, result.advice),
          el("p", { class: "strikes" }, t(`还有 ${result.strikes_left} 次机会，连续 3 次失败将转人工审核`,
            `${result.strikes_left} ${result.strikes_left === 1 ? "try" : "tries"} left; 3 failures in a row go to manual review`))));
        show({ status: "failed", cleared: false, strikes: result.strikes });
      }
    } catch (err) {
      say("");
      if (err.code === "face_check_locked" || err.code === "face_review_rejected") {
        await refresh();
      } else {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message || String(err)));
      }
    } finally {
      button.disabled = false;
      out.scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
  });

  refresh();
  return { refresh };
}
