// socket.io for the live pages (docs/signaling.md): one socket per role namespace, events sent with an
// ack, refusals turned into {code, message, problems} in the page's language (the server picks it).
//   connect(namespace, auth) -> socket (reconnects by itself)
//   call(socket, event, data) -> the ack's body; throws {code, message, field?, problems?}
//   fresh(kind) -> (payload) => bool   drops pushes older than the last one shown (`at`)
//   retrying(code) -> whether a refused connection is tried again (the network, or the server recovering)
// The server answers `storage_unavailable` (an event's ack, or connect_error) while its storage is away:
// the message says the server is recovering, not the user's network; the socket keeps trying to connect.
// The page then asks /healthz every second and, once the server answers again, fires `storage-back` on
// `document` (body[data-storage] is "recovering" meanwhile): pages clear the message and re-read what the
// refused action may have changed (its work went on: docs/signaling.md).
//   clockSkew(serverAt) / serverNow(): the server's clock, for countdowns
import { io } from "/static/vendor/socket.io.esm.min.js";
import { el, t } from "/static/js/common.js";

export function connect(namespace, auth = {}) {
  const socket = io(namespace, {
    auth, transports: ["websocket", "polling"], withCredentials: true,
    reconnectionDelay: 500, reconnectionDelayMax: 4000, timeout: 10000,
  });
  // logout elsewhere, an account disabled, an identity moved, an aux code void: the server says why and
  // closes the socket; the page says so instead of "reconnecting…" for ever
  socket.on("session:ended", (ended) => {
    socket.io.reconnection(false);
    showEnded(ended || {}, namespace === "/aux");
  });
  // the server is stopping (a restart, an update): it says so, then closes the socket, which socket.io
  // does not retry by itself after a server's close; connect again after a random delay (to another
  // process, or to this one restarted), the page keeps showing its own "reconnecting" state meanwhile
  let restarting = null;
  socket.on("server:restarting", (notice) => { restarting = notice || {}; });
  socket.on("disconnect", (reason) => {
    if (reason !== "io server disconnect" || !restarting) return;
    const [low, high] = restarting.retry_ms || [1000, 4000];
    restarting = null;
    setTimeout(() => { if (!socket.connected) socket.connect(); }, low + Math.random() * (high - low));
  });
  // a connection refused because the server's storage is away is not retried by socket.io itself
  // (a refusal is final for it): try again shortly, the page keeps showing the server's message
  socket.on("connect_error", (err) => {
    if (err && err.data && err.data.code === "storage_unavailable") {
      recovering();
      setTimeout(() => { if (!socket.connected) socket.connect(); }, 1000 + Math.random() * 1000);
    }
  });
  return socket;
}

function showEnded(ended, aux) {
  document.getElementById("session-ended")?.remove();
  const box = el("div", { id: "session-ended", class: "session-ended", role: "alertdialog", "aria-modal": "true", "data-reason": ended.reason || "" },
    el("div", { class: "card" },
      el("p", {}, el("strong", {}, ended.message || t("登录已失效，请重新登录", "Your session has ended; log in again"))),
      aux ? el("p", { class: "hint" }, t("请在考生手机上重新扫码", "Scan the code on the candidate's phone again"))
        : el("a", { class: "button full", href: "/login?next=" + encodeURIComponent(location.pathname) }, t("重新登录", "Log in again"))));
  document.body.append(box);
}

export async function call(socket, event, data = {}, timeoutMs = 15000) {
  let ack;
  try {
    ack = await socket.timeout(timeoutMs).emitWithAck(event, data);
  } catch {
    throw { code: "timeout", message: t("服务器没有响应，请检查网络后重试", "The server did not answer; check the network and retry") };
  }
  if (!ack || !ack.ok) {
    if (ack && ack.error && ack.error.code === "storage_unavailable") recovering();
    throw (ack && ack.error) || { code: "error", message: t("请求失败", "Request failed") };
  }
  return ack;
}

// The server said its storage is away: watch /healthz until it answers again, then tell the page.
let watching = false;
function recovering() {
  document.body.dataset.storage = "recovering";
  if (watching) return;
  watching = true;
  const poll = async () => {
    try {
      const answer = await fetch("/healthz", { cache: "no-store", credentials: "omit" });
      if (answer.ok) {
        watching = false;
        delete document.body.dataset.storage;
        document.dispatchEvent(new CustomEvent("storage-back"));
        return;
      }
    } catch { /* not reachable yet */ }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
}

// A refused connection's reason ({code, message}) from socket.io's connect_error.
export function refusal(err) {
  if (err && err.data && err.data.code) return { code: err.data.code, message: err.message };
  return { code: "offline", message: t("无法连接服务器，正在重试…请检查网络", "Cannot reach the server; retrying… check the network") };
}

export const retrying = (code) => code === "offline" || code === "storage_unavailable";

let skew = 0; // server clock - local clock, seconds
export function clockSkew(serverAt) {
  if (typeof serverAt === "number" && serverAt > 1e9) skew = serverAt - Date.now() / 1000;
}
export const serverNow = () => Date.now() / 1000 + skew;

export function fresh() {
  let last = 0;
  return (payload) => {
    const at = payload && typeof payload.at === "number" ? payload.at : 0;
    if (at && at < last) return false;
    if (at) last = at;
    return true;
  };
}

// A short two-tone chime on the page's AudioContext (works once the context runs: after a tap).
export function chime(ctx) {
  if (!ctx) return false;
  try {
    const now = ctx.currentTime;
    [[880, 0], [1320, 0.18]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.3, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.35);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.4);
    });
    return ctx.state === "running";
  } catch {
    return false;
  }
}

// Web Speech in Chinese when the device has a Chinese voice; returns whether it was spoken.
export function speak(text, langTag = "zh-CN") {
  try {
    if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) return false;
    const voices = speechSynthesis.getVoices();
    const voice = voices.find((v) => v.lang && v.lang.toLowerCase().startsWith(langTag.slice(0, 2).toLowerCase()));
    if (!voice) return false;
    const u = new SpeechSynthesisUtterance(text);
    u.lang = langTag;
    u.voice = voice;
    speechSynthesis.cancel();
    speechSynthesis.speak(u);
    return true;
  } catch {
    return false;
  }
}
