// Upload takes (docs/recorded.md "Upload takes"): for a subject that allows it, a take may be a video filmed with the
// phone's own camera (004_*: nervous candidates film offline, then upload). The file goes up in resumable chunks with
// the pinned tus-js-client (web/static/vendor/tus.min.js, window.tus): a dropped connection or a network switch
// resumes from the server's last confirmed byte. The page shows a progress bar with the percentage, the speed and the
// time left, reminds the candidate that the exam code must be said in the video, then follows the server's check and
// conversion (take:processing) until the take is playable like any other. recorded.js calls the hooks below.
import { el, t } from "/static/js/common.js";
import { $, fmtDuration, fmtLength, fmtSize } from "/static/js/format.js";

const MB = 1024 * 1024;
const CHUNK = 5 * MB; // a chunk is one PATCH (the server takes up to upload_chunk_max_bytes, 16 MB by default)
const RETRY_MS = [0, 1000, 3000, 5000, 10000, 15000, 20000, 30000, 30000, 30000, 60000, 60000]; // ~5 min of tries
const ACCEPT = "video/mp4,video/quicktime,video/webm,.mp4,.m4v,.mov,.webm";
const KINDS = /\.(mp4|m4v|mov|webm)$/i;
const TYPES = ["video/mp4", "video/quicktime", "video/webm", "video/x-m4v"];
const SPEED_WINDOW_MS = 8000;

const STAGES = {
  checking: () => t("正在检查视频…", "Checking the video…"),
  copying: () => t("正在生成回放文件…", "Preparing the playback…"),
  encoding: () => t("正在转换为可播放的格式（转码）…", "Converting to a playable format…"),
  hashing: () => t("正在计算校验码…", "Computing the checksum…"),
};

let tusReady = null;
function loadTus() {
  if (!tusReady) {
    tusReady = new Promise((resolve, reject) => {
      if (window.tus) return resolve(window.tus);
      const script = document.createElement("script");
      script.src = "/static/vendor/tus.min.js";
      script.onload = () => resolve(window.tus);
      script.onerror = () => { tusReady = null; reject({ code: "network", message: t("上传组件加载失败，请检查网络后重试", "The upload could not load; check the network and retry") }); };
      document.head.append(script);
    });
  }
  return tusReady;
}

// The server's refusal from a tus error (its JSON body), or a network error.
function refusalOf(err) {
  const res = err && err.originalResponse;
  if (res) {
    try {
      const body = JSON.parse(res.getBody() || "{}");
      if (body.error) return { ...body.error, status: res.getStatus() };
    } catch (_) { /* not JSON: below */ }
    return { code: "http_" + res.getStatus(), status: res.getStatus(), message: t("上传失败", "Upload failed") + ` (${res.getStatus()})` };
  }
  return { code: "network", status: 0, message: t("网络中断", "The network dropped") };
}

// A drawn question or guided items are answered live: never by an uploaded file (take_start.lua refuses it).
const takesUploads = (subject) => Boolean(subject && subject.uploads_allowed && !["question", "guided"].includes(subject.form));

// The rules line for 考前须知.
export function uploadRules(subject) {
  if (!takesUploads(subject)) return [];
  return [t(`可先用手机相机单独录制后上传视频文件（mp4、mov 或 webm，建议 720P、30fps，单个文件不超过 ${subject.upload_max_mb || 500} MB），上传的视频同样计入录制次数，并须在视频开头报出考试码`,
    `You may film with the phone's own camera and upload the file (mp4, mov or webm; 720p, 30 fps advised; at most ${subject.upload_max_mb || 500} MB); an uploaded video counts as a take and must start with the exam code said aloud`)];
}

// The state badge of an upload take (a failed upload was not filmed here: "not accepted", not "recording failed").
export function uploadBadge(take) {
  if (take.source !== "upload") return "";
  return { uploading: t("上传中", "Uploading"), processing: t("处理中", "Processing"), failed: t("未被接受", "Not accepted") }[take.state] || "";
}

// A line under an upload take in the list of takes: the file, and why it failed.
export function uploadNote(take) {
  if (take.source !== "upload") return "";
  const up = take.upload || {};
  const name = take.upload_name || up.name || "";
  const parts = [t(`本地上传：${name}`, `Uploaded: ${name}`)];
  if (take.state === "uploading") parts.push(t(`已上传 ${fmtSize(take.upload_offset || 0)} / ${fmtSize(take.upload_length || 0)}`, `${fmtSize(take.upload_offset || 0)} of ${fmtSize(take.upload_length || 0)} uploaded`));
  if (take.state === "processing") parts.push(t("服务器正在处理", "being processed on the server"));
  if (take.state === "complete" && up.video === "encoded") parts.push(t("已转码为可播放格式", "converted to a playable format"));
  const line = el("p", { class: take.state === "failed" ? "warn upload-note" : "hint upload-note" }, parts.join(" · "));
  if (take.state === "failed" && up.error) line.append(el("br"), up.message || t("未被接受：", "Not accepted: ") + (REASONS[up.error] ? REASONS[up.error]() : up.error));
  return line;
}

// Short reasons for the list (the full message comes with take:ended while the page is open).
const REASONS = {
  upload_not_video: () => t("文件不是视频", "not a video"),
  upload_truncated: () => t("视频文件不完整或已损坏", "incomplete or damaged file"),
  upload_no_video: () => t("文件中没有视频画面", "no picture"),
  upload_resolution: () => t("分辨率过高", "resolution too high"),
  upload_undecodable: () => t("无法解码视频画面", "the picture cannot be decoded"),
  upload_too_long: () => t("视频时长超过上限", "longer than allowed"),
  upload_format: () => t("不支持的视频格式", "unsupported format"),
  upload_abandoned: () => t("上传长时间没有进展，已自动取消", "no progress for a long time: cancelled"),
  upload_cancelled: () => t("已取消上传", "cancelled"),
  upload_sitting_over: () => t("考试已结束，上传未完成", "the sitting ended before the upload finished"),
  upload_processing_failed: () => t("服务器处理视频时出错", "the server could not process it"),
};

export function doneNote(take) {
  return take && take.source === "upload"
    ? t("上传的视频已完整保存在考试服务器上并通过检查，没有任何内容需要上传或等待，您可以放心离开本页面。",
      "Your uploaded video is saved whole on the exam server and was checked: nothing is uploading or waiting; you may leave this page.")
    : "";
}

// The upload card, placed after the take setup. ``hooks``: sitting(), takes(), subject(), device, socket,
// refresh() (reloads the sitting and its takes), refused(err) (a start refused like a take: the face check, the end).
export function mountUpload(after, hooks) {
  const file = el("input", { type: "file", id: "upload-file", accept: ACCEPT });
  const chosen = el("p", { class: "hint", id: "upload-chosen", hidden: "" });
  const start = el("button", { type: "button", class: "full", id: "upload-start" }, t("上传视频", "Upload the video"));
  const bar = el("span", { id: "upload-bar" });
  const figures = el("p", { class: "mono", id: "upload-figures" });
  const speed = el("p", { class: "hint", id: "upload-speed" });
  const status = el("p", { class: "hint", id: "upload-status", role: "status" });
  const cancel = el("button", { type: "button", class: "secondary", id: "upload-cancel" }, t("取消上传", "Cancel the upload"));
  const resume = el("button", { type: "button", class: "full", id: "upload-resume", hidden: "" }, t("继续上传", "Continue the upload"));
  const progress = el("div", { id: "upload-progress", hidden: "" },
    el("div", { class: "meter upload-meter", role: "progressbar", "aria-label": t("上传进度", "Upload progress") }, bar), figures, speed, status, resume, cancel);
  const error = el("p", { class: "error", id: "upload-error", role: "alert", hidden: "" });
  const pending = el("p", { class: "warn", id: "upload-pending", hidden: "" });
  const codeLine = el("strong", {});
  const limits = el("p", { class: "hint", id: "upload-limits" });
  const card = el("section", { class: "card stage", id: "upload-card", hidden: "" },
    el("h2", {}, t("上传本地视频", "Upload a video filmed offline")),
    limits,
    el("p", { class: "warn", id: "upload-code" }, codeLine),
    pending,
    el("label", { class: "file-pick" }, t("选择视频文件", "Choose the video file"), file),
    chosen, error, start, progress,
    el("p", { class: "hint" }, t("上传时请保持屏幕亮起，不要锁屏或切换到其他应用。网络中断时会自动从断点继续上传；网络不稳定时可切换网络（Wi-Fi 与移动数据），上传会接着进行。",
      "Keep the screen on and stay on this page while uploading. If the network drops, the upload resumes from where it stopped; on an unstable network switch between Wi-Fi and mobile data, and it goes on.")));
  after.insertAdjacentElement("afterend", card);

  let upload = null; // the tus upload in progress on this page
  let takeId = null;
  let samples = [];
  let shown = false;
  const page = document.getElementById("recorded-page");

  const running = () => {
    const s = hooks.sitting();
    return s && s.running ? (hooks.takes() || []).find((x) => x.id === s.running && x.source === "upload") || null : null;
  };
  const fail = (err) => { error.hidden = false; error.dataset.code = err.code || ""; error.textContent = err.message || String(err); };
  const setStatus = (text, cls = "hint") => { status.textContent = text; status.className = cls; };

  function showProgress(sent, total) {
    const pct = total ? Math.min(100, Math.floor((sent / total) * 100)) : 0;
    bar.style.width = pct + "%";
    bar.parentElement.setAttribute("aria-valuenow", String(pct));
    figures.textContent = t(`已上传 ${fmtSize(sent)} / ${fmtSize(total)}（${pct}%）`, `${fmtSize(sent)} of ${fmtSize(total)} uploaded (${pct}%)`);
    page.dataset.uploadPct = String(pct);
    const now = Date.now();
    if (samples.length && sent < samples[samples.length - 1][1]) samples = []; // resumed from the server's offset
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > SPEED_WINDOW_MS) samples.shift();
    const [t0, b0] = samples[0];
    const rate = now > t0 ? ((sent - b0) * 1000) / (now - t0) : 0;
    if (rate > 0 && now - t0 >= 1000) {
      const left = (total - sent) / rate;
      speed.textContent = t(`速度 ${fmtSize(rate)}/s · 剩余约 ${fmtDuration(left)}`, `${fmtSize(rate)}/s · about ${fmtDuration(left)} left`);
    } else if (!speed.textContent) speed.textContent = t("正在计算速度…", "Measuring the speed…");
  }

  function render() {
    const s = hooks.sitting();
    const subject = hooks.subject() || {};
    const open = shown && s && s.state === "in_progress" && takesUploads(subject);
    card.hidden = !open;
    if (!open) return;
    const max = subject.upload_max_mb || 500;
    limits.textContent = t(`网络不稳定、或想先单独录制时，可用手机相机录好后上传视频文件：mp4、mov 或 webm，建议 720P、30fps，单个文件不超过 ${max} MB，时长不超过 ${fmtLength(s.take_max_s)}。上传的视频同样计入录制次数（还剩 ${s.takes_left} 次）。`,
      `On an unstable network, or to film on your own first, film with the phone's camera and upload the file: mp4, mov or webm, 720p 30 fps advised, at most ${max} MB and ${fmtLength(s.take_max_s)}. An uploaded video counts as a take (${s.takes_left} left).`);
    codeLine.textContent = t(`录制时请在视频开头清晰报出考试码 ${s.code || "----"}，未报考试码的视频可能被视为无效。`,
      `Say the exam code ${s.code || "----"} clearly at the start of the video: a video without it may not count.`);
    const other = running();
    const busy = Boolean(upload) || Boolean(other);
    if (busy) { $("take-start").hidden = true; $("take-resume").hidden = true; }
    pending.hidden = !other || Boolean(upload);
    if (other && !upload) {
      pending.textContent = other.state === "processing"
        ? t("上一个视频已上传完成，服务器正在检查和处理，请稍候…", "The last video is uploaded; the server is checking and processing it…")
        : t(`上一个视频未上传完（已上传 ${fmtSize(other.upload_offset)} / ${fmtSize(other.upload_length)}，文件：${other.upload_name}）。请重新选择同一个文件，将从断点继续上传；或取消这次上传。`,
          `The last video did not finish uploading (${fmtSize(other.upload_offset)} of ${fmtSize(other.upload_length)}, file ${other.upload_name}). Choose the same file again to continue from there, or cancel it.`);
    }
    const noneLeft = s.takes_left <= 0 && !other;
    start.hidden = noneLeft || (Boolean(other) && other.state === "processing") || Boolean(upload);
    file.disabled = Boolean(upload) || noneLeft || (other && other.state === "processing");
    start.textContent = other && other.state === "uploading" ? t("继续上传", "Continue the upload") : t("上传视频", "Upload the video");
    progress.hidden = !upload && !(other && other.state === "processing");
    cancel.hidden = !(upload || (other && other.state === "uploading"));
    if (other && other.state === "uploading" && !upload) { progress.hidden = false; showProgress(other.upload_offset, other.upload_length); speed.textContent = ""; setStatus(t("上传已中断，请重新选择同一个文件继续。", "The upload stopped: choose the same file again to continue."), "warn"); resume.hidden = true; }
  }

  file.addEventListener("change", () => {
    error.hidden = true;
    const f = file.files[0];
    chosen.hidden = !f;
    if (f) chosen.textContent = t(`已选择：${f.name}（${fmtSize(f.size)}）`, `Chosen: ${f.name} (${fmtSize(f.size)})`);
  });

  function check(f) {
    const subject = hooks.subject() || {};
    const max = (subject.upload_max_mb || 500) * MB;
    if (!f) return { code: "upload_none", message: t("请先选择视频文件", "Choose the video file first") };
    if (!KINDS.test(f.name) && !TYPES.includes(f.type)) return { code: "upload_format", message: t("请选择 mp4、mov 或 webm 格式的视频文件", "Choose an mp4, mov or webm video file") };
    if (f.size > max) return { code: "upload_too_large", message: t(`视频文件过大（${fmtSize(f.size)}），单个视频文件不能超过 ${fmtSize(max)}；请将相机设置为 720P、30fps 后重新录制`, `The file is too large (${fmtSize(f.size)}); the limit is ${fmtSize(max)}. Set the camera to 720p, 30 fps and film again`) };
    if (!f.size) return { code: "upload_empty", message: t("视频文件是空的，请重新选择", "The video file is empty; choose another") };
    return null;
  }

  async function begin() {
    error.hidden = true;
    const f = file.files[0];
    const problem = check(f);
    if (problem) return fail(problem);
    const s = hooks.sitting();
    const other = running();
    let resumeUrl = null;
    if (other && other.state === "uploading") {
      if (other.upload_length !== f.size) return fail({ code: "upload_other_file", message: t(`这不是上次上传的文件（${other.upload_name}，${fmtSize(other.upload_length)}）。请选择同一个文件继续，或先取消上次的上传。`, `This is not the file of the last upload (${other.upload_name}, ${fmtSize(other.upload_length)}): choose that file, or cancel that upload first.`) });
      resumeUrl = `/api/candidate/uploads/${other.id}`;
    } else if (!window.confirm(t(`确认上传“${f.name}”（${fmtSize(f.size)}）？\n上传的视频计入录制次数（还剩 ${s.takes_left} 次），请确认视频开头已报出考试码 ${s.code}。`,
      `Upload "${f.name}" (${fmtSize(f.size)})?\nIt counts as a take (${s.takes_left} left); make sure the exam code ${s.code} is said at the start.`))) return;
    start.disabled = true;
    try {
      const tus = await loadTus();
      samples = [];
      takeId = resumeUrl ? other.id : null;
      upload = new tus.Upload(f, {
        endpoint: resumeUrl ? null : `/api/candidate/sittings/${s.id}/uploads`,
        uploadUrl: resumeUrl,
        chunkSize: CHUNK,
        retryDelays: RETRY_MS,
        storeFingerprintForResuming: false, // the server knows the upload running: the page resumes it by its take
        metadata: { filename: f.name, filetype: f.type || "", device: hooks.device },
        onShouldRetry: (err) => {
          const why = refusalOf(err);
          const retry = !why.status || why.status >= 500 || why.status === 409 || why.status === 423;
          if (retry) setStatus(t("网络中断或不稳定，正在自动重新连接，将从断点继续上传…", "The network dropped or is unstable: reconnecting, the upload continues from where it stopped…"), "warn");
          page.dataset.uploadRetries = String(Number(page.dataset.uploadRetries || 0) + 1);
          return retry;
        },
        onProgress: (sent, total) => {
          if (!takeId && upload && upload.url) { takeId = upload.url.split("/").pop(); page.dataset.uploadTake = takeId; hooks.refresh(); }
          showProgress(sent, total);
          if (status.className === "warn" || !status.textContent) setStatus(t("正在上传…", "Uploading…"));
        },
        onError: (err) => stopped(refusalOf(err)),
        onSuccess: () => uploaded(),
      });
      page.dataset.upload = "uploading";
      progress.hidden = false;
      pending.hidden = true;
      resume.hidden = true;
      speed.textContent = "";
      setStatus(resumeUrl ? t("正在从断点继续上传…", "Continuing from where it stopped…") : t("正在上传…", "Uploading…"));
      render();
      upload.start();
    } catch (err) {
      fail(err);
    } finally {
      start.disabled = false;
    }
  }

  // The upload stopped: refused by the server, or the network stayed away past the retries.
  function stopped(err) {
    page.dataset.upload = "stopped";
    if (!err.status) { // the network: resumable from the server's offset with the same file, on this page
      setStatus(t("网络中断，上传已暂停。网络恢复后请点击“继续上传”，将从断点继续。", "The network is gone: the upload is paused. Once back online press 'Continue the upload' to go on from where it stopped."), "warn");
      resume.hidden = false;
      return;
    }
    upload = null;
    progress.hidden = true;
    fail(err);
    hooks.refresh().then(render);
    hooks.refused(err);
  }

  function uploaded() {
    page.dataset.upload = "processing";
    resume.hidden = true;
    cancel.hidden = true;
    showProgress(1, 1);
    speed.textContent = "";
    setStatus(t("上传完成，服务器正在检查视频…", "Uploaded: the server is checking the video…"), "ok");
    hooks.refresh().then(() => { upload = null; render(); progress.hidden = false; });
  }

  resume.addEventListener("click", () => {
    if (!upload) return;
    resume.hidden = true;
    setStatus(t("正在从断点继续上传…", "Continuing from where it stopped…"));
    page.dataset.upload = "uploading";
    upload.start(); // tus asks the server's offset first (HEAD), then sends from there
  });
  addEventListener("online", () => { if (upload && !resume.hidden) resume.click(); });

  cancel.addEventListener("click", async () => {
    const id = takeId || (running() || {}).id;
    if (!window.confirm(t("确定取消这次上传？已上传的部分将被删除，本次不计入录制次数。", "Cancel this upload? What was uploaded is deleted; it does not count as a take."))) return;
    cancel.disabled = true;
    try {
      if (upload) await upload.abort(false);
      const res = await fetch(`/api/candidate/uploads/${id}`, { method: "DELETE", headers: { "Tus-Resumable": "1.0.0" }, credentials: "same-origin" });
      if (!res.ok && res.status !== 410) { const body = await res.json().catch(() => ({})); throw body.error || { message: t("取消失败", "Could not cancel") }; }
      upload = null;
      takeId = null;
      page.dataset.upload = "cancelled";
      progress.hidden = true;
      await hooks.refresh();
      render();
    } catch (err) {
      fail(err);
    } finally {
      cancel.disabled = false;
    }
  });

  start.addEventListener("click", begin);

  hooks.socket.on("take:processing", (data) => {
    if (!data || (data.take_id !== takeId && data.take_id !== (running() || {}).id)) return;
    progress.hidden = false;
    page.dataset.upload = "processing";
    bar.style.width = (data.percent || 0) + "%";
    figures.textContent = t(`处理进度 ${data.percent || 0}%`, `Processing ${data.percent || 0}%`);
    setStatus((STAGES[data.stage] || STAGES.checking)(), "hint");
  });
  hooks.socket.on("take:ended", (data) => {
    if (!data || !data.take || data.take.source !== "upload") return;
    upload = null;
    takeId = null;
    page.dataset.upload = data.state;
    progress.hidden = true;
    file.value = "";
    chosen.hidden = true;
    if (data.state === "failed") {
      const lang = document.body.dataset.lang === "en" ? "en" : "zh";
      fail({ code: data.reason, message: (data.message && data.message[lang]) || t("上传的视频未被接受", "The uploaded video was not accepted") });
    } else {
      error.hidden = true;
      setStatus("", "hint");
    }
    render();
  });

  return {
    stage(name) { shown = name === "ready"; render(); },
    render,
    busy: () => Boolean(upload) || Boolean(running()),
  };
}
