// Shared by every page: JSON API calls, errors shown next to the field that caused them, logout.
export const lang = document.body.dataset.lang || "zh";
export const t = (zh, en) => (lang === "en" ? en : zh);

export async function api(method, path, body) {
  const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw { code: "network", message: t("网络异常，请检查网络后重试", "Network error, check your connection and retry") };
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data.error || { code: "http_" + res.status, message: t("请求失败", "Request failed") + ` (${res.status})` };
  return data;
}

// Show an API error on a form: next to the named field if there is one, else at the form's top.
export function showError(form, err) {
  clearErrors(form);
  const input = err.field && form.querySelector(`[name="${err.field}"]`);
  const box = document.createElement("p");
  box.className = "error";
  box.setAttribute("role", "alert");
  box.textContent = err.message;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.insertAdjacentElement("afterend", box);
    input.focus();
  } else form.prepend(box);
}

export function clearErrors(form) {
  form.querySelectorAll(".error").forEach((e) => e.remove());
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

// Submit a form as JSON; `convert` may turn field strings into numbers/booleans.
export function jsonForm(form, path, onDone, convert = (x) => x, method = "POST") {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const body = convert(Object.fromEntries(new FormData(form)));
      const result = await api(method, typeof path === "function" ? path() : path, body);
      clearErrors(form);
      await onDone(result, form);
    } catch (err) {
      showError(form, err);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

// Times are the server's zone (Settings.timezone, Asia/Shanghai) whatever the browser's, and say so:
// every absolute time carries "北京时间" once, either on the value (the default) or, with
// {zone: false}, on the view (a table's header: ZONE_LABEL).
export const TIME_ZONE = document.body.dataset.timezone || "Asia/Shanghai";
export const ZONE_LABEL = t("北京时间", "Beijing time");
const withZone = (text, zone) => (zone === false ? text : t(`${text}（${ZONE_LABEL}）`, `${text} (${ZONE_LABEL})`));
const locale = () => (lang === "en" ? "en-GB" : "zh-CN");

export function fmtTime(epoch, { zone = true, seconds = false } = {}) {
  return withZone(new Date(epoch * 1000).toLocaleString(locale(), {
    timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}),
  }), zone);
}

// The time of day only (e.g. a log of today's events): 10:03 or 10:03:12.
export function fmtClock(epoch, { zone = true, seconds = false } = {}) {
  return withZone(new Date(epoch * 1000).toLocaleTimeString(locale(), {
    timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23", ...(seconds ? { second: "2-digit" } : {}),
  }), zone);
}

// A span of time: "2025/06/01 09:00–10:00（北京时间）"; the end's date only when it is another day.
export function fmtRange(start, end, { zone = true } = {}) {
  const day = (e) => fmtTime(e, { zone: false }).slice(0, 10);
  const tail = day(start) === day(end) ? fmtClock(end, { zone: false }) : fmtTime(end, { zone: false });
  return withZone(`${fmtTime(start, { zone: false })}–${tail}`, zone);
}

// A length of time in words: 4分12秒, 1小时5分 / 4 min 12 s.
export function fmtLength(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return t(`${h}小时${m ? `${m}分` : ""}`, `${h} h${m ? ` ${m} min` : ""}`);
  if (m) return t(`${m}分${sec ? `${sec}秒` : ""}`, `${m} min${sec ? ` ${sec} s` : ""}`);
  return t(`${sec}秒`, `${sec} s`);
}

// The server's labels for codes (events, reasons, states...), from i18n.py via base.html
// (<script type="application/json" id="labels">, staff pages): label(code, fallback).
let LABELS = null;
export function label(code, fallback) {
  if (LABELS === null) {
    const node = document.getElementById("labels");
    try { LABELS = node ? JSON.parse(node.textContent) : {}; } catch { LABELS = {}; }
  }
  if (code && Object.hasOwn(LABELS, code)) return LABELS[code]; // "" is a label too: not shown
  return fallback === undefined ? code : fallback;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

// Labels of the codes staff pages show (from the catalogue above).
const CODE = /^[a-z][a-z0-9_]*$/;
// A reason: the server's code (queue reasons, face-check reasons) or an examiner's own words, shown as written.
export const reasonLabel = (reason) => (!reason ? "" : CODE.test(reason) ? label(`reason_${reason}`, label(reason, reason)) : reason);
export const faceStatusLabel = (status) => label(`face_status_${status || "none"}`, status || "—");

const logout = document.getElementById("logout");
if (logout) logout.addEventListener("click", async () => {
  await api("POST", "/api/auth/logout").catch(() => {});
  location.href = "/login";
});
