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

// Formatting lives in format.js; re-exported here for the modules that import it from common.js.
export { $, fmtClock, fmtDuration, fmtLength, fmtRange, fmtSeconds, fmtTime, fmtWait, TIME_ZONE, ZONE_LABEL } from "/static/js/format.js";

// The server's labels for codes (events, reasons, states, phrases...), from server/i18n.py via base.html:
// staff pages get <script type="application/json" id="labels">, the candidate's pages (and the aux camera's)
// the smaller <script type="application/json" id="candidate-labels">. label(code, fallback).
let LABELS = null;
export function label(code, fallback) {
  if (LABELS === null) {
    const node = document.getElementById("labels") || document.getElementById("candidate-labels");
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

// Labels of the codes the pages show (from the catalogue above).
const CODE = /^[a-z][a-z0-9_]*$/;
// A reason: the server's code (queue reasons, face-check reasons) or an examiner's own words, shown as written.
export const reasonLabel = (reason) => (!reason ? "" : CODE.test(reason) ? label(`reason_${reason}`, label(reason, reason)) : reason);
export const faceStatusLabel = (status) => label(`face_status_${status || "none"}`, status || "—");
export const stateLabel = (state) => (state ? label(`queue_state_${state}`, state) : "—");
export const phraseLabel = (code) => label(`phrase_${code}`, code);

const logout = document.getElementById("logout");
if (logout) logout.addEventListener("click", async () => {
  await api("POST", "/api/auth/logout").catch(() => {});
  location.href = "/login";
});
