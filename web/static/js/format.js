// Formatting shared by every page: `$` (getElementById), absolute times in the server's zone, clocks,
// lengths and countdowns, sizes. Nothing else keeps a copy (common.js re-exports these for older imports).
//
// Times are the server's zone (Settings.timezone, handed to every page as <body data-timezone>) whatever
// the browser's, and say so: every absolute time carries "北京时间" once, either on the value (the default)
// or, with {zone: false}, on the view (a table's header: ZONE_LABEL).
const en = document.body.dataset.lang === "en";
const t = (zh, english) => (en ? english : zh);

export const $ = (id) => document.getElementById(id);

export const TIME_ZONE = document.body.dataset.timezone || undefined;
export const ZONE_LABEL = t("北京时间", "Beijing time");
const withZone = (text, zone) => (zone === false ? text : t(`${text}（${ZONE_LABEL}）`, `${text} (${ZONE_LABEL})`));
const locale = () => (en ? "en-GB" : "zh-CN");
const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(epoch, { zone = true, seconds = false } = {}) {
  return withZone(new Date(epoch * 1000).toLocaleString(locale(), {
    timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}),
  }), zone);
}

// Date and time with seconds (audit log, reviews); {zone: false} where the view says 北京时间 once.
export const fmtSeconds = (epoch, opts = {}) => fmtTime(epoch, { seconds: true, ...opts });

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

// A running clock: 04:12, 1:04:12 (timers, waits, countdowns).
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`;
}

// An estimated wait: 约 3 分钟 / about 3 minutes.
export function fmtWait(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const minutes = Math.ceil(seconds / 60);
  if (minutes <= 1) return t("约 1 分钟", "about 1 minute");
  return t(`约 ${minutes} 分钟`, `about ${minutes} minutes`);
}

// Time left until something opens, in whole minutes: 12 分钟, 2 小时 5 分钟, 3 天.
export function fmtLeft(seconds) {
  const m = Math.max(0, Math.ceil(seconds / 60));
  if (m >= 48 * 60) return t(`${Math.floor(m / 1440)} 天`, `${Math.floor(m / 1440)} days`);
  if (m >= 60) return t(`${Math.floor(m / 60)} 小时 ${m % 60} 分钟`, `${Math.floor(m / 60)} h ${m % 60} min`);
  return t(`${m} 分钟`, `${m} min`);
}

// A file size in MB with one decimal: 4.2 MB.
export const fmtSize = (bytes) => {
  const n = Number(bytes || 0);
  return n >= 1048576 || n === 0 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`; // a photo: 12 KB, not 0.0 MB
};

// A Date as the value of an <input type="datetime-local"> (the browser's own clock).
export function fmtLocalInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
