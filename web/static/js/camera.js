// Camera and microphone: start them, explain why they failed, notice a dead camera, measure the mic.
// Used by the practice / check page and by the queue and room pages.
//   startCamera(video, {audio}) -> MediaStream      (throws {code, message, advice})
//   watchCamera(video, stream, onProblem) -> stop()  (track ended / muted / frames frozen)
//   showCameraDead(problem); reopenCamera(video, stream) -> MediaStream   (the "camera stopped" notice)
//   micMeter(stream, onLevel) -> {stop, level()}
//   audioContext() -> the page's AudioContext (call it from a tap first)
//   stopStream(stream)
import { t } from "/static/js/common.js";

const VIDEO = { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

// Why the camera cannot be used before even asking: no HTTPS, or a browser without getUserMedia.
export function cameraUnavailable() {
  if (!window.isSecureContext) {
    return {
      code: "insecure",
      message: t("当前页面不是安全连接（HTTPS），浏览器不允许使用摄像头和麦克风", "This page is not on a secure (HTTPS) connection, so the browser blocks the camera and microphone"),
      advice: t("请使用以 https 开头的安全考试地址打开本页面", "Open the secure exam address that starts with https"),
    };
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return {
      code: "unsupported",
      message: t("当前浏览器不支持使用摄像头", "This browser cannot use the camera"),
      advice: t("请使用手机系统自带浏览器（iPhone 请用 Safari）或最新版 Chrome 打开", "Use the phone's own browser (Safari on iPhone) or a current Chrome"),
    };
  }
  return null;
}

// A getUserMedia failure as a message the candidate can act on.
export function cameraError(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
    return {
      code: "denied",
      message: t("摄像头或麦克风权限被拒绝", "Camera or microphone permission was denied"),
      advice: t("请允许本网站使用摄像头和麦克风，以保证可以正常考试：点击地址栏旁的权限图标（iPhone：设置 → Safari 浏览器 → 摄像头 / 麦克风 → 允许），然后刷新页面",
        "Allow this site to use the camera and microphone: tap the permission icon next to the address bar (iPhone: Settings → Safari → Camera / Microphone → Allow), then reload the page"),
    };
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    return {
      code: "not_found",
      message: t("未找到可用的摄像头或麦克风", "No usable camera or microphone was found"),
      advice: t("请使用带前置摄像头的手机参加考试，不要使用外接设备", "Use a phone with a front camera; external devices are not allowed"),
    };
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    return {
      code: "busy",
      message: t("摄像头或麦克风正被其他程序占用", "The camera or microphone is in use by another app"),
      advice: t("请退出、关闭微信、QQ、录屏、音乐、视频、在线课堂等可能会用到麦克风、扬声器和摄像头的程序，然后重试",
        "Close WeChat, QQ, screen recorders, music, video and online-class apps that may use the microphone, speaker or camera, then retry"),
    };
  }
  if (err && err.code && err.message) return err; // already ours
  return {
    code: "camera_failed",
    message: t("无法打开摄像头", "The camera could not be opened") + (name ? ` (${name})` : ""),
    advice: t("请关闭其他使用摄像头的程序后刷新页面重试", "Close other apps that use the camera, then reload the page"),
  };
}

export function stopStream(stream) {
  if (stream) stream.getTracks().forEach((track) => track.stop());
}

// Resolves once the video element shows real frames (or after timeoutMs).
function firstFrame(video, timeoutMs = 5000) {
  if (video.readyState >= 2 && video.videoWidth) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); video.removeEventListener("loadeddata", done); resolve(); };
    const timer = setTimeout(done, timeoutMs);
    video.addEventListener("loadeddata", done);
  });
}

export async function startCamera(video, { audio = true } = {}) {
  const problem = cameraUnavailable();
  if (problem) throw problem;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: VIDEO, audio: audio ? AUDIO : false });
  } catch (err) {
    throw cameraError(err);
  }
  if (video) {
    video.muted = true; // own preview: never play back our own microphone
    video.playsInline = true; // iOS Safari: otherwise the video goes full screen or stays black
    video.setAttribute("playsinline", "");
    video.srcObject = stream;
    await video.play().catch(() => {});
    await firstFrame(video);
  }
  return stream;
}

const DEAD = {
  ended: () => t("摄像头已断开（可能被来电、其他应用或切换到后台打断）", "The camera stopped (a call, another app or switching away interrupted it)"),
  muted: () => t("摄像头没有画面（可能被其他应用占用）", "The camera sends no picture (another app may be using it)"),
  frozen: () => t("摄像头画面卡住不动了", "The camera picture is frozen"),
};

// Watch a camera for the ways it dies on phones: the track ends, stays muted, or frames stop coming
// (iOS after backgrounding). Calls onProblem({code, message}) once per problem; returns stop().
export function watchCamera(video, stream, onProblem, { frozenMs = 4000, mutedMs = 3000 } = {}) {
  const track = stream.getVideoTracks()[0];
  if (!track) return () => {};
  let reported = false;
  let lastFrameAt = performance.now();
  let lastCount = -1;
  let muteTimer = null;
  let frameHandle = null;
  const report = (code) => {
    if (reported) return;
    reported = true;
    onProblem({ code, message: DEAD[code](), advice: t("请点击“重新打开摄像头”", "Press 'Restart camera'") });
  };
  const onEnded = () => report("ended");
  const onMute = () => { muteTimer = setTimeout(() => report("muted"), mutedMs); };
  const onUnmute = () => { clearTimeout(muteTimer); lastFrameAt = performance.now(); };
  track.addEventListener("ended", onEnded);
  track.addEventListener("mute", onMute);
  track.addEventListener("unmute", onUnmute);

  // New frames: requestVideoFrameCallback where it exists, else the decoded frame count or currentTime.
  const hasRvfc = "requestVideoFrameCallback" in HTMLVideoElement.prototype;
  const onFrame = () => { lastFrameAt = performance.now(); frameHandle = video.requestVideoFrameCallback(onFrame); };
  if (hasRvfc) frameHandle = video.requestVideoFrameCallback(onFrame);
  // Browsers may stop painting (and counting) frames of a video scrolled out of view: judge only when seen.
  let inView = true;
  const seen = window.IntersectionObserver ? new IntersectionObserver(([e]) => { inView = e.isIntersecting; }) : null;
  if (seen) seen.observe(video);
  const poll = setInterval(() => {
    if (document.visibilityState !== "visible" || !inView) { lastFrameAt = performance.now(); return; }
    if (track.readyState === "ended") return report("ended");
    if (!hasRvfc) {
      const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
      const count = q || video.currentTime;
      if (count !== lastCount) { lastCount = count; lastFrameAt = performance.now(); }
    }
    if (!track.muted && performance.now() - lastFrameAt > frozenMs) report("frozen");
  }, 1000);
  // Back from the background: iOS may have ended the track meanwhile.
  const onVisible = () => { if (document.visibilityState === "visible" && track.readyState === "ended") report("ended"); };
  document.addEventListener("visibilitychange", onVisible);

  return () => {
    clearInterval(poll);
    if (seen) seen.disconnect();
    clearTimeout(muteTimer);
    if (hasRvfc && frameHandle !== null) video.cancelVideoFrameCallback(frameHandle);
    track.removeEventListener("ended", onEnded);
    track.removeEventListener("mute", onMute);
    track.removeEventListener("unmute", onUnmute);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

// The pages' "camera stopped" notice: #camera-dead with its text and the #camera-restart button.
export function showCameraDead(problem) {
  document.getElementById("camera-dead-text").textContent =
    `${problem.message}。${t("请点击下方按钮重新打开摄像头。", "Press the button below to turn it on again.")}`;
  document.getElementById("camera-dead").hidden = false;
}

// Stop `stream` and open the camera again into `video` (#camera-restart is disabled meanwhile).
export async function reopenCamera(video, stream) {
  const button = document.getElementById("camera-restart");
  button.disabled = true;
  stopStream(stream);
  try {
    return await startCamera(video);
  } finally {
    button.disabled = false;
  }
}

// One AudioContext for the page. Call it first from a tap: browsers (iOS Safari above all) keep audio
// suspended until a user gesture, and a suspended context measures silence and plays nothing.
let sharedAudio = null;
export function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!sharedAudio || sharedAudio.state === "closed") sharedAudio = new Ctx();
  if (sharedAudio.state === "suspended") sharedAudio.resume().catch(() => {});
  return sharedAudio;
}

// Microphone level 0..1 about ten times a second.
export function micMeter(stream, onLevel = () => {}) {
  const ctx = audioContext();
  if (!ctx || !stream.getAudioTracks().length) return { stop() {}, level: () => 0 };
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  const source = ctx.createMediaStreamSource(stream);
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let level = 0;
  const timer = setInterval(() => {
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const rms = Math.sqrt(sum / buf.length);
    level = Math.min(1, rms * 4); // speech at arm's length is ~0.05-0.2 rms
    onLevel(level);
  }, 100);
  return {
    level: () => level,
    stop() { clearInterval(timer); source.disconnect(); },
  };
}
