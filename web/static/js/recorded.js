// A recorded subject (docs/recorded.md): the rules -> 已知晓并同意 (the sitting's countdown starts and runs on
// if the page is closed) -> device check -> face check (not in practice) -> the exam code, shown large -> per take:
// camera and orientation, 3-2-1, the preview with the elapsed and remaining times and the recorder's state
// from the server (take:recording), stop -> the takes, played back from the server -> choose one and submit
// -> 已提交 with the time, length and checksum. Every take is recorded on the server while it is filmed.
import { api, el, t } from "/static/js/common.js";
import { $, fmtClock, fmtDuration, fmtLength, fmtRange, fmtTime } from "/static/js/format.js";
import { micMeter, reopenCamera, showCameraDead, stopStream, watchCamera } from "/static/js/camera.js";
import { renderDeviceCheck, runDeviceCheck } from "/static/js/device.js";
import { blocked, showBlockers } from "/static/js/blockers.js";
import { clockSkew, connect, call, refusal, serverNow } from "/static/js/live.js";
import { TakePeer, deviceId, endReasonText, openTakeCamera, sittingEndText, takeStateText } from "/static/js/takes.js";
import { wireAuxQr } from "/static/js/aux-qr.js";
import { doneNote, mountUpload, uploadBadge, uploadNote, uploadRules } from "/static/js/recorded-upload.js";
import { mountPhotos } from "/static/js/recorded-photos.js";
import { formFor } from "/static/js/recorded-forms.js";

const page = $("recorded-page");
const examId = page.dataset.examId, subjectId = page.dataset.subjectId, mode = page.dataset.mode;
const practice = mode === "practice";
const device = deviceId();
const video = $("video"), takeVideo = $("take-video");
const OVER = ["submitted", "auto_submitted", "absent"];

let rules = null; // the subject's overview item (GET .../recorded)
let sitting = null; // the sitting, with deadline
let takes = [];
let stream = null, meter = null, unwatch = () => {};
let checked = false; // device check passed (and face check, outside practice)
let faceMounted = false;
let face = null; // the mounted face check
let take = null, peer = null, takeSince = null; // the take being recorded
let socketWasUp = false;
let resetting = false;

let form = {}; // the subject form's page logic (recorded-forms.js): a drawn question's, guided items'
let autoResumed = null; // the take whose preparation a reload went back to (once)
async function loadForm() {
  const s = subjectOf(rules);
  if (form.name === s.form) return;
  form = await formFor(s, {
    page, serverNow, countdown: $("countdown"), stageTake: $("stage-take"), preview: $("take-preview"),
    status: (text) => { $("take-status").textContent = text; $("take-status").className = "hint"; },
    reloadTake: async (id) => {
      const data = await api("GET", `/api/candidate/sittings/${sitting.id}`);
      if (data.now) clockSkew(data.now);
      return (data.takes || []).find((x) => x.id === id) || null;
    },
  });
  if (form.aux) form.aux($("aux-card"), s);
}

showBlockers();
const photos = mountPhotos($("photos-card"), { refresh: () => refresh() }); // artwork: photos of the work after a take

function setStage(stage) {
  page.dataset.stage = stage;
  $("stage-rules").hidden = stage !== "rules";
  $("camera-card").hidden = stage !== "check";
  $("face-card").hidden = stage !== "check" || practice;
  $("stage-ready").hidden = stage !== "ready";
  $("stage-take").hidden = stage !== "take";
  $("stage-done").hidden = stage !== "done";
  $("stage-elsewhere").hidden = stage !== "elsewhere";
  $("sitting-bar").hidden = !sitting || ["rules", "done", "take"].includes(stage); // a take shows its own clocks
  $("takes-card").hidden = !(stage === "ready" || stage === "done") || !takes.length;
  $("reset-card").hidden = !resettable(stage);
  $("aux-card").hidden = !(stage === "ready" || stage === "take");
  if (upload) upload.stage(stage); // the upload card (recorded-upload.js) shows with the take setup
  if (stage === "take") $("stage-take").scrollIntoView({ block: "start" }); // preview, clocks and the stop button on one screen
  else if (stage !== "loading") window.scrollTo({ top: 0 });
}

function fail(box, err) {
  box.hidden = false;
  box.dataset.code = (err && err.code) || "";
  box.textContent = (err && err.message) || String(err);
}

// --- the rules -----------------------------------------------------------------------------------

const rule = (s, key, fallback) => (s && s[key] !== undefined && s[key] !== null ? s[key] : fallback);

function subjectOf(item) { return item.subject || item; }

function renderRules() {
  const s = subjectOf(rules);
  const items = [
    t(`考试科目：${s.name}`, `Subject: ${s.name}`),
    t(`可录制次数：${rule(s, "takes_allowed", 1)} 次`, `Takes allowed: ${rule(s, "takes_allowed", 1)}`),
    t(`单次最长录制时间：${fmtLength(rule(s, "take_max_s", 300))}，超过限定时间，系统会自动停止录制`,
      `Longest take: ${fmtLength(rule(s, "take_max_s", 300))}; the recording stops by itself at the limit`),
    ...photos.ruleLines(s),
  ];
  if (practice) {
    items.push(t("练习不限次数、不限时间，不计成绩，练习视频仅短期保留。", "Practice: no limit on sittings or time, never graded; practice takes are kept briefly."));
  } else if (mode === "mock") {
    items.push(t(`模拟考和正式考的科目要求、操作流程完全相同，不计成绩。剩余模拟考次数：${rule(rules, "mock_left", "—")} 次`,
      `The mock exam follows the real exam's rules and steps, and is never graded. Mock tries left: ${rule(rules, "mock_left", "—")}`));
    if (s.time_limit_min) items.push(t(`考试规定时间：${s.time_limit_min} 分钟，从点击“已知晓并同意”开始计时`, `Time limit: ${s.time_limit_min} min from pressing 'I understand and agree'`));
  } else {
    if (s.window_opens && s.window_closes) items.push(t(`考试时间：${fmtRange(s.window_opens, s.window_closes)}`, `Exam window: ${fmtRange(s.window_opens, s.window_closes)}`));
    if (s.time_limit_min) items.push(t(`考试规定时间：${s.time_limit_min} 分钟，从进入考试开始计时，且不晚于考试时间结束`,
      `Time limit: ${s.time_limit_min} min from entering, and no later than the end of the window`));
    items.push(t(`剩余考试次数：${rule(rules, "sittings_left", rule(s, "sittings_allowed", 1))} 次（共 ${rule(s, "sittings_allowed", 1)} 次，重置消耗一次）`,
      `Sittings left: ${rule(rules, "sittings_left", rule(s, "sittings_allowed", 1))} of ${rule(s, "sittings_allowed", 1)} (a reset uses one)`));
  }
  items.push(...uploadRules(s));
  $("rules").replaceChildren(...items.map((text) => el("li", {}, text)));
}

// --- loading the state -----------------------------------------------------------------------------

async function loadRules() {
  const overview = await api("GET", `/api/candidate/exams/${examId}/recorded`);
  if (overview.now) clockSkew(overview.now);
  rules = (overview.subjects || []).find((x) => subjectOf(x).id === subjectId);
  if (!rules) throw { code: "sitting_not_recorded", message: t("该科目不是录制考试科目", "This subject is not a recorded one") };
  renderRules();
  await loadForm();
}

async function load() {
  $("load-error").hidden = true;
  try {
    await loadRules();
    const current = (rules.sittings || {})[mode] || null;
    if (current && current.id) {
      await loadSitting(current.id);
      if (sitting.state === "in_progress" && sitting.device && sitting.device !== device) return elsewhere();
      if (sitting.state === "in_progress") {
        const running = takes.find((x) => x.id === sitting.running && x.state === "recording");
        if (form.preparing && form.preparing(running)) checked = true; // its preparation runs on: the question at once
        return toCheck();
      }
      if (OVER.includes(sitting.state)) return showDone(sitting.state);
    }
    setStage("rules");
  } catch (err) {
    fail($("load-error"), err);
    setStage(rules ? "rules" : "error"); // without the rules there is nothing to agree to: the error and the way back
  }
}

async function loadSitting(id) {
  const data = await api("GET", `/api/candidate/sittings/${id || sitting.id}`);
  if (data.now) clockSkew(data.now);
  sitting = { ...data.sitting, deadline: data.deadline || null };
  takes = data.takes || [];
  page.dataset.sittingId = sitting.id;
  page.dataset.sittingState = sitting.state;
  $("exam-code").textContent = sitting.code || "----";
  $("code-overlay").textContent = t("考试码 ", "Code ") + ($("exam-code").textContent);
  photos.update(sitting, takes);
  renderTakes();
  tick();
  if (upload) upload.render();
  return sitting;
}

// --- the sitting is in progress on another device (another phone, or this one's browser data cleared) ----------
// One device per sitting: this page records nothing. The server says why (entering again from here is refused with
// sitting_other_device, and changes nothing); practice may move here (the old practice is started over).
async function elsewhere() {
  let refused = null;
  try {
    await api("POST", `/api/candidate/exams/${examId}/recorded/${subjectId}/sittings`, { mode, device });
  } catch (err) {
    refused = err;
  }
  if (!refused) { await loadSitting(sitting.id); return toCheck(); } // entered here after all
  if (practice && refused.code === "sitting_other_device") {
    // practice moves to a new device: pressing 已知晓并同意 here starts over (the other device's practice is cleared)
    sitting = null;
    takes = [];
    setStage("rules");
    fail($("enter-error"), { code: "sitting_other_device", message: t("练习正在另一台设备上进行。点击“已知晓并同意”将在本设备上重新开始练习，另一台设备上的练习视频将被清除。",
      "Practice is going on on another device. Pressing 'I understand and agree' starts it over here; the other device's practice takes are cleared.") });
    return;
  }
  if (refused.code !== "sitting_other_device") { // e.g. the sitting ended meanwhile: show what it is now
    sitting = null;
    takes = [];
    return load();
  }
  setStage("elsewhere");
  page.dataset.refused = refused.code;
  $("elsewhere-text").textContent = refused.message;
}

$("elsewhere-again").addEventListener("click", async () => {
  $("elsewhere-again").disabled = true;
  try { sitting = null; takes = []; await load(); } finally { $("elsewhere-again").disabled = false; }
});

// --- 已知晓并同意: the sitting starts ---------------------------------------------------------------

$("enter").addEventListener("click", async () => {
  const button = $("enter");
  button.disabled = true;
  $("enter-error").hidden = true;
  try {
    const made = await api("POST", `/api/candidate/exams/${examId}/recorded/${subjectId}/sittings`, { mode, device });
    await loadSitting(made.sitting.id);
    await loadRules();
    toCheck();
  } catch (err) {
    fail($("enter-error"), err);
  } finally {
    button.disabled = false;
  }
});

// --- device check and face check ---------------------------------------------------------------------

function useStream(s) {
  stream = s;
  $("placeholder").hidden = true;
  $("camera-dead").hidden = true;
  if (meter) meter.stop();
  const bar = $("mic-level");
  meter = micMeter(stream, (level) => { bar.style.width = Math.round(level * 100) + "%"; });
  unwatch();
  unwatch = watchCamera(stream === takeVideo.srcObject ? takeVideo : video, stream, (problem) => {
    showCameraDead(problem);
    page.dataset.camera = problem.code;
    $("camera-card").hidden = false;
  });
  page.dataset.camera = "live";
  if (peer) {
    stream.getTracks().forEach((track) => peer.replaceTrack(track));
    peer.stream = stream;
    takeVideo.srcObject = stream;
  }
}

function toCheck() {
  if (checked) return toReady();
  setStage("check");
  if (!practice && !faceMounted) {
    $("face-box").replaceChildren(el("p", { class: "hint" }, t("请先完成设备检测。", "Complete the device check first.")));
  }
}

const toReadyButton = el("button", { type: "button", class: "full", id: "to-ready", hidden: "" }, t("进入考试", "Enter the exam"));
toReadyButton.addEventListener("click", () => { checked = true; toReady(); });

async function runCheck() {
  const button = $("start");
  button.disabled = true;
  button.textContent = t("正在检测…", "Checking…");
  try {
    const live = stream && stream.getVideoTracks()[0]?.readyState === "live" ? stream : null;
    const result = await runDeviceCheck({ stream: live, video });
    renderDeviceCheck($("device-list"), result);
    if (result.stream) { useStream(result.stream); blocked(null); }
    else if (result.error && result.error.code !== "in_app") blocked(result.error);
    page.dataset.device = result.ok ? "ok" : "fail";
    const summary = $("device-summary");
    summary.hidden = false;
    summary.className = result.ok ? "ok" : "error";
    summary.textContent = result.ok ? t("设备检测通过。", "The device check passed.")
      : t("设备检测未通过，请按提示处理后重新检测。", "The device check found problems; fix them as shown and check again.");
    if (!result.ok) return;
    if (practice) {
      $("camera-card").append(toReadyButton);
      toReadyButton.hidden = false;
    } else if (!faceMounted) {
      faceMounted = true;
      const { mountFaceCheck } = await import("/static/js/facecheck.js");
      $("face-card").append(toReadyButton);
      face = mountFaceCheck($("face-box"), examId, video, {
        prompt: $("prompt"),
        onPassed: (status) => {
          page.dataset.face = "passed";
          toReadyButton.hidden = false;
          // the shared face check speaks of the queue; here the pass clears the takes
          const note = $("face-box").querySelector(".face-result.ok .hint");
          if (note && status.valid_s) {
            note.textContent = t(`${Math.round(status.valid_s / 60)} 分钟内开始录制有效，超时需重新比对`,
              `Valid for starting a take within ${Math.round(status.valid_s / 60)} minutes; after that, check again`);
          }
        },
      });
    }
  } catch (err) {
    blocked({ message: err.message || String(err) });
  } finally {
    button.disabled = false;
    button.textContent = t("重新检测", "Check again");
  }
}

$("start").addEventListener("click", runCheck);
$("camera-restart").addEventListener("click", async () => {
  unwatch();
  try {
    useStream(take ? await openTakeCamera(takeVideo, { ...choice(), old: stream }) : await reopenCamera(video, stream));
    blocked(null);
  } catch (err) {
    blocked(err);
  }
});

// --- ready: the exam code, the takes left, the setup of the next take ---------------------------------

const takesAllowed = () => (sitting ? sitting.takes_allowed : rule(subjectOf(rules || {}), "takes_allowed", 1));
const takesLeft = () => (sitting ? sitting.takes_left : takesAllowed());
const takeMax = () => (sitting ? sitting.take_max_s : rule(subjectOf(rules || {}), "take_max_s", 300));

// entries left after this one (a reset uses one): mock tries for a mock sitting
const entriesLeft = () => rule(rules, mode === "mock" ? "mock_left" : "sittings_left", 0);

function choice() {
  return {
    camera: document.querySelector("input[name=camera]:checked").value,
    orientation: document.querySelector("input[name=orientation]:checked").value,
  };
}

function toReady() {
  if (sitting && OVER.includes(sitting.state)) return showDone(sitting.state);
  setStage("ready");
  const left = takesLeft();
  $("takes-left").textContent = practice ? t(`${left} 次`, `${left}`) : t(`${left} 次`, `${left}`);
  $("take-rule").textContent = t(`本科目可录制 ${takesAllowed()} 次，还剩 ${left} 次；单次最长 ${fmtLength(takeMax())}。`,
    `${takesAllowed()} takes allowed, ${left} left; each at most ${fmtLength(takeMax())}.`) + (form.rule ? " " + form.rule(subjectOf(rules)) : "");
  $("take-start").textContent = form.startLabel || t("开始录制", "Start recording");
  const running = sitting && sitting.running && !take ? takes.find((x) => x.id === sitting.running && x.state === "recording") : null;
  $("take-resume").hidden = !running;
  $("take-resume-box").hidden = !running;
  $("take-start").hidden = left <= 0 || Boolean(running);
  if (left <= 0 && !running) {
    fail($("take-error"), { code: "take_limit", message: practice
      ? t("本次练习的录制次数已用完，可点击下方“重新练习”再练。", "No takes left in this practice: press 'Practise again' below.")
      : t("本科目的录制次数已用完，请在下方选择一条视频提交。", "No takes left: choose one below and submit it.") });
  }
  renderReset();
  if (upload) upload.render();
  if (stream) takeVideo.srcObject = stream;
  if (running && form.preparing && form.preparing(running) && autoResumed !== running.id) {
    autoResumed = running.id; // a reload during a drawn question's preparation: the same question, the time left
    resumeTake();
  }
}

// 重置: in progress (no take recording), or a formal sitting auto-submitted at its deadline while the window
// is still open (004_* 6); practice starts over without limit.
function resettable(stage) {
  if (!sitting) return false;
  if (stage === "ready") return sitting.state === "in_progress";
  const s = subjectOf(rules || {});
  return stage === "done" && sitting.state === "auto_submitted" && mode === "formal" && serverNow() < (s.window_closes || 0);
}

function renderReset() {
  const left = entriesLeft();
  if (practice) {
    $("reset-title").textContent = t("重新练习", "Practise again");
    $("reset").textContent = t("重新练习", "Practise again");
    $("reset-text").textContent = t("练习不限次数：重新练习会清除本次练习录制的视频，重新开始。", "Practice is unlimited: starting again clears this practice's takes.");
    $("reset").disabled = false;
    return;
  }
  $("reset-text").textContent = t(`若录制的效果不理想，可点击重置：消耗一次考试次数（剩余 ${left} 次），倒计时重新开始，本次考试中已录制的视频不会被保留。`,
    `If it went badly you may reset: it uses one sitting (${left} left), the countdown starts again and this sitting's takes are discarded.`);
  if (sitting && sitting.state === "auto_submitted") {
    $("reset-text").textContent = t(`${sitting.end_reason === "photo_limit" ? "作品拍照时间" : "考试时间"}已到并已自动提交。考试时间结束前，可点击重置再次进入考试：消耗一次考试次数（剩余 ${left} 次），自动提交的视频将不被保留。`,
      `The time ran out and a take was submitted for you. Until the window closes you may reset and sit again: it uses one sitting (${left} left) and the submitted take is not kept.`);
  }
  $("reset").disabled = left <= 0;
  if (left <= 0) $("reset-text").textContent += t("您已没有剩余考试次数，不能重置。", " You have no sittings left, so you cannot reset.");
}

// --- a take --------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function setRec(state, text) {
  const rec = $("rec");
  rec.dataset.state = state;
  rec.textContent = text || { recording: t("● 录制中", "● Recording"), saved: t("已保存", "Saved"), failed: t("录制失败", "Recording failed"),
    connecting: t("正在连接服务器…", "Connecting to the server…"), none: "" }[state] || state;
  page.dataset.rec = state;
}

let reconnecting = false; // a new connection is being made for the take being recorded
let reconnectedAt = 0;

function rtcState(state, detail) {
  page.dataset.rtc = state;
  if (state === "restarting") reconnecting = true;
  if ((state === "connected" || state === "restarted") && reconnecting) {
    reconnecting = false;
    reconnectedAt = Date.now();
    page.dataset.reconnected = String(Number(page.dataset.reconnected || 0) + 1);
  }
  if (state === "connected" && Date.now() - reconnectedAt < 15000) state = "restarted"; // say it for a while
  const status = $("take-status");
  const text = {
    connected: t("已连接服务器，视频正在直接保存到服务器。", "Connected: the video is being saved on the server as you film."),
    disconnected: t("网络不稳定，正在恢复连接…", "The network is unstable; reconnecting…"),
    failed: t("连接中断，正在自动重新连接…", "The connection dropped; reconnecting by itself…"),
    restarting: t("网络变化，正在自动重新连接，录制将继续…", "The network changed; reconnecting by itself, the take goes on…"),
    restarted: t("已重新连接，录制继续（中断前的部分已保存）。", "Reconnected: the take goes on (what was recorded before is kept)."),
    restart_failed: t("重新连接失败，请检查网络；系统会继续尝试。", "Reconnecting failed; check the network. Retrying."),
    restart_refused: (detail && detail.message) || t("本次录制已结束。", "This take is over."),
  }[state];
  if (text) {
    status.textContent = text;
    status.className = ["connected", "restarted"].includes(state) ? "ok" : state.startsWith("restart_") || state === "failed" ? "warn" : "hint";
  }
}

async function startTake() {
  if (form.gesture) form.gesture(); // in the tap itself (speech on iOS)
  const button = $("take-start");
  button.disabled = true;
  $("take-error").hidden = true;
  const picked = choice();
  try {
    // the camera first (the chosen one): a take starts only once there is a picture to send
    const live = stream && stream.getVideoTracks()[0]?.readyState === "live";
    if (live && !stream.choice && picked.camera === "front") stream.choice = `front/${picked.orientation}`; // the device check's
    if (!live || stream.choice.split("/")[0] !== picked.camera) {
      button.textContent = t("正在打开摄像头…", "Opening the camera…");
      useStream(await openTakeCamera(takeVideo, { ...picked, old: stream }));
    }
    setStage("take");
    setRec("none");
    auxSeen = 0;
    showAux(0);
    $("take-stop").disabled = true;
    $("take-status").textContent = t("请准备，倒计时结束后开始录制，请先报出考试码。", "Get ready: recording starts after the countdown; say the exam code first.");
    $("take-status").className = "hint";
    $("take-elapsed").textContent = "00:00";
    $("take-left").textContent = fmtDuration(takeMax());
    Object.assign($("take-preview").dataset, picked);
    takeVideo.srcObject = stream;
    takeVideo.play().catch(() => {});
    // 3-2-1, then the take starts on the server and is recorded from the moment the connection is up; a drawn
    // question: the take starts first (the server draws it), its preparation runs, then recording starts by itself
    const newTake = async () => {
      const made = await api("POST", `/api/candidate/sittings/${sitting.id}/takes`, { device, ...picked });
      take = made.take;
      sitting.takes_left = Math.max(0, (sitting.takes_left || 0) - (take.counts ? 1 : 0));
      page.dataset.takeId = take.id;
    };
    if (form.prepare) {
      await newTake();
      await form.prepare(take);
      if (!take) return; // ended meanwhile (e.g. the deadline)
    } else {
      const box = $("countdown");
      box.hidden = false;
      for (const n of [3, 2, 1]) { box.textContent = String(n); await sleep(1000); }
      box.hidden = true;
    }
    setRec("connecting");
    if (!take) await newTake();
    peer = new TakePeer(socket, { stream, takeId: take.id, sittingId: sitting.id, onState: rtcState });
    await peer.join();
    if (!take) return; // ended meanwhile (e.g. the deadline)
    if (form.recording) form.recording(take);
    takeSince = takeSince || serverNow();
    $("take-stop").disabled = false;
    page.dataset.taking = "1";
  } catch (err) {
    $("countdown").hidden = true;
    if (form.ended) form.ended();
    if (peer) { peer.close(); peer = null; }
    if (take) take = null; // made, but the connection failed: the server ends it as failed (nothing recorded)
    if (page.dataset.stage === "take") { await refresh(); toReady(); }
    fail($("take-error"), err);
    await takeRefused(err);
  } finally {
    button.disabled = false;
    button.textContent = form.startLabel || t("开始录制", "Start recording");
  }
}

// A take refused at its start (a streamed one, or an upload): the face check again, or the sitting's end.
async function takeRefused(err) {
  if (err.code === "take_face_check") { // the face check ran out or is needed again: offer it
    checked = false;
    toReadyButton.hidden = true;
    toCheck();
    if (face) face.refresh();
    fail($("device-summary"), err);
  }
  if (["sitting_over", "sitting_not_found"].includes(err.code)) {
    await refresh();
    if (sitting && OVER.includes(sitting.state)) { showDone(sitting.state); fail($("done-refused"), err); }
  }
}

// A take still recording after the page was reloaded or the phone came back: film it on (take:restart,
// the next segment of the same take) with the camera of the device check.
async function resumeTake() {
  const running = takes.find((x) => x.id === sitting.running);
  if (!running) return;
  const button = $("take-resume");
  button.disabled = true;
  $("take-error").hidden = true;
  try {
    if (!stream || stream.getVideoTracks()[0]?.readyState !== "live") {
      useStream(await openTakeCamera(takeVideo, { camera: running.camera, orientation: running.orientation, old: stream }));
    }
    take = running;
    page.dataset.takeId = take.id;
    setStage("take");
    setRec("connecting");
    auxSeen = 0;
    showAux(0);
    Object.assign($("take-preview").dataset, { camera: running.camera, orientation: running.orientation });
    takeVideo.srcObject = stream;
    takeVideo.play().catch(() => {});
    $("take-stop").disabled = true;
    const preparing = Boolean(form.preparing && form.preparing(running));
    if (preparing) { // back in a drawn question's preparation: the same question, then its first connection
      setRec("none");
      await form.prepare(running);
      if (!take) return;
      setRec("connecting");
    }
    peer = new TakePeer(socket, { stream, takeId: take.id, sittingId: sitting.id, onState: rtcState });
    reconnecting = !preparing;
    peer.closed = false;
    await peer.negotiate(preparing ? "take:join" : "take:restart");
    if (form.recording) form.recording(take);
    takeSince = takeSince || (preparing ? serverNow() : running.answer_at || running.started_at);
    $("take-stop").disabled = false;
    page.dataset.taking = "1";
  } catch (err) {
    if (peer) { peer.close(); peer = null; }
    take = null;
    await refresh();
    toReady();
    fail($("take-error"), err);
  } finally {
    button.disabled = false;
  }
}

async function stopTake() {
  if (!take) return;
  const button = $("take-stop");
  button.disabled = true;
  $("take-status").textContent = t("正在停止并保存…", "Stopping and saving…");
  try {
    const ack = await call(socket, "take:stop", { take_id: take.id });
    takeEnded({ take_id: take.id, state: (ack.take && ack.take.state) || "complete", reason: "stopped", take: ack.take });
  } catch (err) {
    $("take-status").textContent = err.message;
    $("take-status").className = "error";
    button.disabled = false;
  }
}

async function takeEnded(data) {
  if (!take || data.take_id !== take.id) { refresh(); return; }
  const ended = take;
  take = null;
  takeSince = null;
  if (form.ended) form.ended();
  page.dataset.taking = "";
  if (peer) { peer.close(); peer = null; }
  page.dataset.lastEnd = `${data.state}:${data.reason || ""}`;
  setRec(data.state === "failed" ? "failed" : "saved");
  await refresh();
  toReady();
  const note = $("take-error");
  const pushed = data.message && (data.message[document.body.dataset.lang === "en" ? "en" : "zh"]);
  const text = data.state === "failed" ? t("录制失败：服务器没有收到摄像头画面，本次不计入录制次数，请重新录制。", "The recording failed: the server received no picture; it does not count, record again.")
    : endReasonText(data.reason) || pushed || takeStateText(data.state);
  note.hidden = false;
  note.className = data.state === "complete" ? "ok" : "warn";
  note.dataset.code = data.reason || "";
  note.textContent = text;
  const item = document.querySelector(`[data-take="${CSS.escape(ended.id)}"]`);
  if (item) item.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

async function refresh() {
  try { await loadSitting(sitting.id); } catch (err) { fail($("load-error"), err); }
}

// --- the takes: playback, choose, submit ---------------------------------------------------------------

// The main camera and, beside it, each aux camera (双机位) of the take, each with its caption.
function takePlayers(main, auxUrls) {
  const figure = (video, caption) => el("figure", { class: "take-angle" }, video, el("figcaption", {}, caption));
  return el("div", { class: "take-angles" },
    figure(main, t("主机位", "Main camera")),
    ...auxUrls.map((url, i) => figure(
      el("video", { controls: "", playsinline: "", preload: "metadata", class: "take-player aux-player", src: url + "#t=0.1" }),
      auxUrls.length > 1 ? t(`辅机位 ${i + 1}`, `Second camera ${i + 1}`) : t("辅机位", "Second camera"))));
}

function renderTakes() {
  const list = $("take-list");
  const visible = takes.filter((x) => x.state !== "discarded");
  const submitted = sitting ? sitting.submitted_take : "";
  const over = sitting && OVER.includes(sitting.state);
  list.replaceChildren(...visible.map((x, i) => {
    const playable = Boolean(x.video_url);
    const ok = x.state === "complete";
    const length = x.duration_s ? fmtLength(x.duration_s) : "";
    const player = playable && x.state !== "failed"
      ? el("video", { controls: "", playsinline: "", preload: "metadata", class: "take-player", src: x.video_url + "#t=0.1" })
      : x.state === "recording" ? el("p", { class: "hint" }, t("录制中…", "Recording…"))
        : x.state === "failed" || x.state === "uploading" ? "" : el("p", { class: "progress" }, t("正在生成回放文件…", "Preparing the playback…"));
    return el("li", { class: "take-item", "data-take": x.id, "data-state": x.state },
      el("div", { class: "take-head" },
        el("strong", {}, t(`第 ${i + 1} 条`, `Take ${i + 1}`)),
        el("span", { class: "badge" }, uploadBadge(x) || takeStateText(x.state)),
        submitted === x.id ? el("span", { class: "badge ok-badge" }, t("已提交", "Submitted")) : ""),
      el("p", { class: "hint" }, [length && t(`时长 ${length}`, `Length ${length}`),
        x.started_at ? t(`录制于 ${fmtClock(x.started_at)}`, `recorded at ${fmtClock(x.started_at)}`) : "",
        x.camera ? (x.camera === "rear" ? t("后置", "rear") : t("前置", "front")) + " · " + (x.orientation === "landscape" ? t("横屏", "landscape") : t("竖屏", "portrait")) : "",
      ].filter(Boolean).join(" · ")),
      uploadNote(x),
      form.takeLine ? form.takeLine(x) : "", // the question this take answered
      playable && x.state !== "failed" && (x.aux_urls || []).length ? takePlayers(player, x.aux_urls) : player,
      ok && !over && !practice ? el("label", { class: "check" }, el("input", { type: "radio", name: "pick", value: x.id }), t("选择这一条提交", "Submit this one")) : "");
  }));
  photos.decorate(list, visible);
  const choosable = !over && !practice && visible.some((x) => x.state === "complete");
  $("takes-hint").textContent = practice ? t("练习视频不计成绩，仅供回看，短期保留后自动删除。", "Practice takes are never graded: watch them back; they are deleted after a while.")
    : over ? t("本次考试录制的视频，可回看。", "The takes of this sitting, to watch back.")
    : t("录制完成后，建议预览已完成的视频，选择一条提交。", "Watch your takes back, then choose one to submit.");
  $("submit").hidden = !choosable;
  if (choosable && !list.querySelector("input[name=pick]:checked")) {
    const last = [...list.querySelectorAll("input[name=pick]")].pop();
    if (last) last.checked = true;
  }
  $("takes-card").hidden = !visible.length || !["ready", "done"].includes(page.dataset.stage);
}

$("submit").addEventListener("click", async () => {
  const picked = document.querySelector("input[name=pick]:checked");
  $("submit-error").hidden = true;
  if (!picked) return fail($("submit-error"), { message: t("请选择一条视频", "Choose a take") });
  const index = takes.filter((x) => x.state !== "discarded").findIndex((x) => x.id === picked.value) + 1;
  const chosen = takes.find((x) => x.id === picked.value);
  const question = t(`确认提交第 ${index} 条视频（时长 ${fmtLength(chosen.duration_s || 0)}）？\n一经提交，不得更改，本科目将不能再录制。`,
    `Submit take ${index} (${fmtLength(chosen.duration_s || 0)})?\nA submission is final; this subject cannot be recorded again.`) + photos.confirmText(chosen);
  if (!window.confirm(question)) return;
  const button = $("submit");
  button.disabled = true;
  try {
    await api("POST", `/api/candidate/sittings/${sitting.id}/submit`, { take_id: picked.value });
    await loadSitting(sitting.id);
    showDone(sitting.state);
  } catch (err) {
    fail($("submit-error"), err);
  } finally {
    button.disabled = false;
  }
});

// --- the end: 已提交 / auto-submitted / absent -----------------------------------------------------------

function showDone(state) {
  if (peer) { peer.close(); peer = null; }
  take = null;
  if (form.ended) form.ended();
  setStage("done");
  page.dataset.done = state;
  const byPhotoTime = state === "auto_submitted" && sitting && sitting.end_reason === "photo_limit"; // artwork (recorded-photos.js)
  $("done-title").textContent = byPhotoTime ? t("作品拍照时间已到，系统已自动提交", "The photo time is over: submitted for you") : sittingEndText(state);
  const chosen = sitting && sitting.submitted_take ? takes.find((x) => x.id === sitting.submitted_take) || {} : null;
  const rows = [];
  if (chosen) {
    if (sitting.submitted_at) rows.push(el("div", {}, t("提交时间：", "Submitted: "), el("strong", { id: "done-at" }, fmtTime(sitting.submitted_at, { seconds: true }))));
    if (sitting.code) rows.push(el("div", {}, t("考试码：", "Exam code: "), el("strong", { class: "mono" }, sitting.code)));
    if (chosen.duration_s) rows.push(el("div", {}, t("视频时长：", "Length: "), el("strong", { id: "done-length" }, fmtLength(chosen.duration_s))));
    rows.push(el("div", {}, t("校验码（SHA-256）：", "Checksum (SHA-256): "), chosen.sha256 ? el("span", { class: "mono sha", id: "done-sha" }, chosen.sha256)
      : el("span", { class: "progress", id: "done-sha-wait" }, t("正在计算…", "being computed…"))));
    if (state === "auto_submitted" && sitting.end_reason === "photo_limit") rows.push(el("p", { class: "hint" }, t(`作品拍照时间已到，系统已自动提交该视频和已上传的 ${(chosen.photos || []).length} 张作品照片。`, `The photo time ended: the take was submitted with the ${(chosen.photos || []).length} photos uploaded.`)));
    else if (state === "auto_submitted") rows.push(el("p", { class: "hint" }, t("倒计时耗尽而未提交，系统已自动提交您最近一次完整录制的视频。", "The countdown ran out before you submitted: your most recent complete take was submitted for you.")));
    if (chosen.photos && chosen.photos.length) rows.push(el("div", {}, t("作品照片：", "Photos of the work: "), el("strong", { id: "done-photos" }, t(`${chosen.photos.length} 张`, String(chosen.photos.length)))));
    rows.push(el("p", { class: "hint" }, t("“提交”后本科目不能再进行录制，已提交的视频不可替换删除。", "After submitting, this subject cannot be recorded again and the submitted take cannot be replaced.")));
  } else if (state === "absent") {
    rows.push(el("p", {}, t("倒计时耗尽时没有完整的录制视频，本科目视为缺考。如有疑问，请联系报考院校。", "The countdown ran out with no complete take: you are marked absent for this subject. Contact the school with any question.")));
  }
  $("done-box").replaceChildren(...rows);
  $("done-box").hidden = !rows.length;
  $("done-box").className = chosen ? "done-box" : "warn";
  $("done-nothing").hidden = !chosen;
  if (doneNote(chosen)) $("done-nothing").textContent = doneNote(chosen);
  const again = mode === "mock" && rule(rules, "mock_left", 0) > 0;
  $("again").hidden = !again;
  if (again) $("again").textContent = t(`再参加一次模拟考（剩余 ${rules.mock_left} 次）`, `Another mock exam (${rules.mock_left} left)`);
  renderTakes();
  $("takes-card").hidden = !takes.some((x) => x.state !== "discarded");
  if (!$("reset-card").hidden) renderReset();
  unwatch();
  if (meter) meter.stop();
  stopStream(stream);
  stream = null;
}

// --- reset (重置) ------------------------------------------------------------------------------------------

$("reset").addEventListener("click", async () => {
  const left = entriesLeft();
  const question = practice ? t("确定重新练习？本次练习录制的视频将被清除。", "Practise again? This practice's takes are cleared.") : t(`确定重置本次考试？\n重置将消耗一次考试次数（剩余 ${left} 次），本次考试中已录制的视频不会被保留，倒计时重新开始。`,
    `Reset this sitting?\nIt uses one sitting (${left} left); this sitting's takes are discarded and the countdown starts again.`);
  if (!window.confirm(question)) return;
  $("reset").disabled = true;
  $("reset-error").hidden = true;
  resetting = true;
  try {
    await api("POST", `/api/candidate/sittings/${sitting.id}/reset`, {});
    sitting = null;
    takes = [];
    await load();
  } catch (err) {
    fail($("reset-error"), err);
  } finally {
    $("reset").disabled = false;
    resetting = false;
  }
});

// --- clocks ----------------------------------------------------------------------------------------------

function tick() {
  if (!sitting) return;
  const deadline = sitting.deadline;
  const left = deadline ? deadline - serverNow() : null;
  const text = left === null ? t("不限时", "no limit") : fmtDuration(left);
  $("sitting-left").textContent = text;
  $("take-sitting-left").textContent = text;
  $("sitting-deadline").textContent = deadline ? t(`请在 ${fmtTime(deadline)} 前提交`, `Submit before ${fmtTime(deadline)}`) : "";
  $("sitting-left").classList.toggle("urgent", left !== null && left < 300);
  $("takes-left").textContent = t(`${takesLeft()} 次`, `${takesLeft()}`);
  if (takeSince) {
    const elapsed = serverNow() - takeSince;
    $("take-elapsed").textContent = fmtDuration(elapsed);
    $("take-left").textContent = fmtDuration(((form.takeMax && form.takeMax()) || takeMax()) - elapsed);
  }
  if (left !== null && left <= 0 && sitting.state === "in_progress" && !tick.asked) {
    tick.asked = true; // the server ends the sitting at its deadline (sitting:ended); ask once in case the push was missed
    setTimeout(() => { tick.asked = false; refresh().then(() => { if (OVER.includes(sitting.state)) showDone(sitting.state); }); }, 4000);
  }
}
setInterval(tick, 500);

// --- the socket: the recorder's state, the end of takes and sittings, reconnects ------------------------------

const socket = connect("/candidate");
socket.on("connect", () => {
  page.dataset.socket = "up";
  $("offline").hidden = true;
  if (socketWasUp && take && peer) {
    $("take-status").textContent = t("网络已恢复，正在继续录制…", "Back online: continuing the take…");
    peer.restart("socket");
  }
  socketWasUp = true;
  if (sitting && !take) refresh();
});
socket.on("disconnect", () => {
  page.dataset.socket = "down";
  $("offline").hidden = false;
  $("offline").textContent = take
    ? t("网络连接中断，正在自动重新连接…已录制的部分已保存在服务器上，恢复后录制继续。", "The connection dropped; reconnecting by itself… What was recorded is saved on the server; the take goes on once back.")
    : t("网络连接中断，正在自动重新连接…", "The connection dropped; reconnecting by itself…");
});
socket.on("connect_error", (err) => {
  const why = refusal(err);
  $("offline").hidden = false;
  $("offline").textContent = why.message;
  if (why.code === "login_required") location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
});
socket.on("take:recording", (data) => {
  if (!take || !data || data.take_id !== take.id) return;
  setRec(data.state);
  page.dataset.recBytes = data.bytes || 0;
  if (data.at) clockSkew(data.at);
  if (typeof data.elapsed_s === "number" && takeSince) takeSince = serverNow() - data.elapsed_s;
  if (data.connection === "lost") rtcState("failed");
  showAux(data.aux || 0);
});

// The aux camera (双机位) during a take: said once it sends, and when it stops sending (nothing for a single camera).
let auxSeen = 0;
function showAux(n) {
  const line = $("take-aux");
  page.dataset.aux = String(n);
  if (n > 0) auxSeen = Math.max(auxSeen, n);
  line.hidden = !auxSeen;
  if (!auxSeen) return;
  line.className = n >= auxSeen ? "ok" : "warn";
  line.textContent = n >= auxSeen
    ? (n > 1 ? t(`${n} 台辅考手机已连接，画面与本条视频一同录制。`, `${n} second cameras are connected and recorded with this take.`)
      : t("辅考手机已连接，画面与本条视频一同录制。", "The second camera is connected and recorded with this take."))
    : t("辅考手机的画面中断了，请检查辅考手机（保持亮屏、不要切换应用）；恢复后自动继续录制。",
      "The second camera's picture stopped: check that phone (screen on, no other app); it is recorded again once back.");
}
socket.on("take:ended", (data) => { if (data) takeEnded(data); });
socket.on("take:playable", (data) => {
  if (!data) return;
  const known = takes.find((x) => x.id === data.take_id);
  if (known) { Object.assign(known, { playable: true, duration_s: data.duration_s, sha256: data.sha256 }); }
  if (!take) refresh().then(() => { if (page.dataset.stage === "done" && sitting) showDone(sitting.state); });
});
socket.on("sitting:ended", async (data) => {
  if (!data || !sitting || data.sitting_id !== sitting.id) return;
  if (data.state === "reset") { // reset here or on another tab: back to the rules with the sittings left
    if (resetting) return;
    sitting = null;
    takes = [];
    await load();
    fail($("enter-error"), { code: "reset", message: t("本次考试已重置，已录制的视频不会被保留。如需再次考试，请点击“已知晓并同意”。", "This sitting was reset and its takes discarded. To sit again press 'I understand and agree'.") });
    return;
  }
  await refresh();
  showDone(data.state);
});

// takes filmed offline and uploaded (recorded-upload.js), for subjects that allow them
const upload = mountUpload($("stage-ready"), {
  sitting: () => sitting, takes: () => takes, subject: () => subjectOf(rules || {}), device, socket,
  refresh: () => refresh(), refused: takeRefused,
});
$("take-start").addEventListener("click", startTake);
$("again").addEventListener("click", () => { sitting = null; takes = []; $("enter-error").hidden = true; setStage("rules"); });
$("take-resume").addEventListener("click", resumeTake);
$("take-stop").addEventListener("click", stopTake);
wireAuxQr($("aux-card"), examId, () => (form.auxQuery && rules ? form.auxQuery(subjectOf(rules)) : ""));
addEventListener("pagehide", () => { unwatch(); if (meter) meter.stop(); if (peer) peer.close(); stopStream(stream); });
setStage("loading");
load();
