// What the admin page's tab modules share: the page's state (who is logged in, account and exam names, the
// selected exam), the admin API's paths (given by admin.js), the reloads one tab asks of another after a
// change (filled in by admin.js), and small table helpers.
import { el } from "/static/js/common.js";
import { $ } from "/static/js/format.js";

export const admin = {
  paths: null,       // admin.js PATHS: the API paths the tabs call
  me: null,          // the logged-in admin's account
  names: {},         // account id -> name (rooms, bookings, audit)
  examNames: {},     // exam id -> name (audit details)
  current: null,     // { exam, subjects, rooms, slots } of the selected exam
};

// After a change a tab asks for what it affects to be read again: reload.exam(), reload.audit(), ...
export const reload = {};

// Times in tables: the header says 北京时间 once ({zone: false} on the values); elsewhere each value says it.
export const NO_ZONE = { zone: false };
export const toInt = (v) => (v === "" || v === undefined ? null : Number.isInteger(Number(v)) ? Number(v) : v);
export const noEmpty = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ""));
export const row = (...cells) => el("tr", {}, ...cells);
export const emptyRow = (cols, text) => row(el("td", { colspan: String(cols), class: "empty" }, text));
export const subjectName = (id) => admin.current.subjects.find((s) => s.id === id)?.name || id;
export const roomName = (id) => admin.current.rooms.find((r) => r.id === id)?.name || id;

export function fail(err) {
  $("load-error").textContent = err.message;
  $("load-error").hidden = false;
}
