// Admin tabs "subjects and rooms" and "time slots": the exam's subjects, rooms (with their examiners) and
// slots (with their capacity), and the forms that add them.
import { api, el, jsonForm, t } from "/static/js/common.js";
import { $, fmtLocalInput, fmtRange } from "/static/js/format.js";
import { admin, emptyRow, NO_ZONE, reload, roomName, row, subjectName, toInt } from "/static/js/admin/state.js";
import { editSubject, subjectSummary } from "/static/js/admin/sittings.js";
import { contentLink } from "/static/js/admin/forms.js";

export function renderRooms() {
  const { subjects, rooms, slots } = admin.current;
  $("subject-table").tBodies[0].replaceChildren(...(subjects.length
    ? subjects.map((s) => row(el("td", { class: "nowrap" }, s.name), el("td", { "data-kind": s.kind || "interview" }, subjectSummary(s)),
      el("td", { class: "nowrap" }, el("button", { type: "button", class: "small secondary", "data-edit": s.id, onclick: () => editSubject(s) }, t("编辑规则", "Edit rules")),
        " ", contentLink(admin.current.exam.id, s))))
    : [emptyRow(3, t("暂无科目", "No subjects"))]));

  $("room-table").tBodies[0].replaceChildren(...(rooms.length
    ? rooms.map((r) => row(el("td", {}, r.name), el("td", {}, subjectName(r.subject_id)),
      el("td", {}, r.examiners.map((id) => admin.names[id] || id).join(t("、", ", ")) || t("未指定", "none"))))
    : [emptyRow(3, t("暂无考场", "No rooms"))]));
  const subjectSelect = $("room-form").elements.subject_id;
  subjectSelect.replaceChildren(...subjects.map((s) => el("option", { value: s.id }, s.name)));

  const sorted = [...slots].sort((a, b) => a.starts_at - b.starts_at || roomName(a.room_id).localeCompare(roomName(b.room_id)));
  $("slot-table").tBodies[0].replaceChildren(...(sorted.length ? sorted.map(slotRow) : [emptyRow(5, t("暂无考试时段", "No slots"))]));
  const roomSelect = $("slot-form").elements.room_id;
  const keep = roomSelect.value;
  roomSelect.replaceChildren(...rooms.map((r) => el("option", { value: r.id, selected: r.id === keep },
    t(`${r.name}（${subjectName(r.subject_id)}）`, `${r.name} (${subjectName(r.subject_id)})`))));
}

function slotRow(slot) {
  const form = el("form", { class: "inline-form", novalidate: "" },
    el("input", { name: "capacity", type: "number", min: "1", max: "10000", value: String(slot.capacity),
      "aria-label": t("容量", "Capacity") }),
    el("button", { type: "submit", class: "small secondary" }, t("保存", "Save")));
  jsonForm(form, admin.paths.slot(admin.current.exam.id, slot.id), async () => {
    await reload.exam();
  }, (b) => ({ capacity: toInt(b.capacity) }), "PATCH");
  return row(el("td", { class: "nowrap" }, fmtRange(slot.starts_at, slot.ends_at, NO_ZONE)), el("td", {}, subjectName(slot.subject_id)),
    el("td", {}, roomName(slot.room_id)), el("td", { class: "num" }, String(slot.booked)), el("td", {}, form));
}

export async function loadExaminers() {
  const { users } = await api("GET", admin.paths.examiners);
  const box = $("examiner-choices").querySelector(".choices");
  box.replaceChildren(...(users.length ? users.filter((u) => !u.disabled).map((u) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: u.id }), `${u.name || u.username}${u.username ? t(`（${u.username}）`, ` (${u.username})`) : ""}`))
    : [el("p", { class: "empty" }, t("还没有考官账号，请在下方“账号管理”中创建。", "No examiner accounts yet; create them under Accounts."))]));
}

export function setupRoomForms() {
  const subjectForm = $("subject-form");
  jsonForm(subjectForm, () => admin.paths.subjects(admin.current.exam.id), async () => {
    subjectForm.elements.name.value = "";
    await reload.exam();
    await reload.audit();
  }, (b) => ({ name: b.name, interview_minutes: toInt(b.interview_minutes) }));

  const roomForm = $("room-form");
  jsonForm(roomForm, () => admin.paths.rooms(admin.current.exam.id), async () => {
    roomForm.elements.name.value = "";
    roomForm.querySelectorAll("#examiner-choices input[type=checkbox]").forEach((c) => { c.checked = false; });
    await reload.exam();
    await reload.audit();
  }, (b) => ({
    name: b.name, subject_id: b.subject_id,
    examiners: [...roomForm.querySelectorAll("#examiner-choices input[type=checkbox]:checked")].map((c) => c.value),
  }));

  const slotForm = $("slot-form");
  jsonForm(slotForm, () => admin.paths.slots(admin.current.exam.id), async () => {
    // Offer the next slot of the same length right after this one.
    const start = new Date(slotForm.elements.starts_at.value);
    const end = new Date(slotForm.elements.ends_at.value);
    if (!isNaN(start) && !isNaN(end) && end > start) {
      const next = new Date(end.getTime() + (end - start));
      slotForm.elements.starts_at.value = slotForm.elements.ends_at.value;
      slotForm.elements.ends_at.value = fmtLocalInput(next);
    }
    await reload.exam();
    await reload.audit();
  }, (b) => ({ room_id: b.room_id, starts_at: b.starts_at, ends_at: b.ends_at, capacity: toInt(b.capacity) }));
}
