// The practice page and the pre-queue check page: preview with a framing oval, microphone meter,
// device check, and (with an exam) the face check. Everything starts from one tap.
import { api, t } from "/static/js/common.js";
import { $, fmtTime } from "/static/js/format.js";
import { micMeter, reopenCamera, showCameraDead, stopStream, watchCamera } from "/static/js/camera.js";
import { renderDeviceCheck, runDeviceCheck } from "/static/js/device.js";
import { blocked, showBlockers } from "/static/js/blockers.js";

const page = $("check-page");
const examId = page.dataset.examId;
const video = $("video");
const startButton = $("start");
let stream = null;
let meter = null;
let unwatch = () => {};
let faceMounted = false;

showBlockers();

function useStream(s) {
  stream = s;
  $("placeholder").hidden = true;
  $("camera-dead").hidden = true;
  const fit = () => { if (video.videoWidth) $("preview").style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`; };
  fit();
  video.onloadedmetadata = fit;
  if (meter) meter.stop();
  const bar = $("mic-level");
  const box = bar.parentElement;
  meter = micMeter(stream, (level) => {
    const pct = Math.round(level * 100);
    bar.style.width = pct + "%";
    box.setAttribute("aria-valuenow", pct);
  });
  unwatch();
  unwatch = watchCamera(video, stream, (problem) => {
    showCameraDead(problem);
    page.dataset.camera = problem.code;
  });
  page.dataset.camera = "live";
}

async function restartCamera() {
  unwatch();
  try {
    useStream(await reopenCamera(video, stream));
  } catch (err) {
    blocked(err);
  }
}

async function runCheck() {
  startButton.disabled = true;
  startButton.textContent = t("正在检测…", "Checking…");
  $("device-summary").hidden = true;
  try {
    const result = await runDeviceCheck({ stream, video });
    renderDeviceCheck($("device-list"), result);
    if (result.stream) {
      useStream(result.stream);
      blocked(null);
    } else if (result.error && result.error.code !== "in_app") { // the in-app notice already says it
      blocked(result.error);
    }
    const summary = $("device-summary");
    summary.hidden = false;
    summary.className = result.ok ? "ok" : "error";
    summary.textContent = result.ok
      ? t("设备检测通过。", "The device check passed.")
      : t("设备检测未通过，请按提示处理后重新检测。", "The device check found problems; fix them as shown and check again.");
    page.dataset.device = result.ok ? "ok" : "fail";
    page.deviceReport = result.report; // what the queue page sends with queue:join
    if (examId && result.stream && !faceMounted) {
      faceMounted = true;
      const { mountFaceCheck } = await import("/static/js/facecheck.js"); // not needed for practice
      mountFaceCheck($("face-box"), examId, video, {
        prompt: $("prompt"),
        onPassed: () => { page.dataset.face = "passed"; },
      });
    }
  } catch (err) {
    blocked({ message: err.message || String(err) });
  } finally {
    startButton.disabled = false;
    startButton.textContent = t("重新检测", "Check again");
  }
}

async function showBooking() {
  try {
    const [mine, slots] = await Promise.all([api("GET", `/api/candidate/exams/${examId}`),
      api("GET", `/api/candidate/exams/${examId}/slots`)]);
    const lines = mine.subjects.filter((s) => mine.bookings[s.id]).map((s) => {
      const slot = slots.slots.find((x) => x.id === mine.bookings[s.id]);
      return `${s.name}：${slot ? fmtTime(slot.starts_at) : ""}`;
    });
    const box = $("booking-info");
    box.textContent = lines.length ? t("已预约 ", "Booked ") + lines.join("；")
      : t("您还没有预约考试时段。", "You have not booked a slot yet.");
    box.className = lines.length ? "done-box" : "warn";
    box.hidden = false;
  } catch {
    /* the booking line is information only */
  }
}

startButton.addEventListener("click", runCheck);
$("camera-restart").addEventListener("click", restartCamera);
if (examId) showBooking();
addEventListener("pagehide", () => { unwatch(); if (meter) meter.stop(); stopStream(stream); });
