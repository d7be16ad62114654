// Admin tab "bookings": every booking of the exam; an admin may cancel one with a reason (audited).
import { api, el, showError, t } from "/static/js/common.js";
import { $, fmtRange, fmtTime } from "/static/js/format.js";
import { admin, emptyRow, NO_ZONE, reload, roomName, row, subjectName } from "/static/js/admin/state.js";

export async function loadBookings() {
  const { bookings } = await api("GET", admin.paths.bookings(admin.current.exam.id));
  bookings.sort((a, b) => a.starts_at - b.starts_at || a.booked_at - b.booked_at);
  const body = $("booking-table").tBodies[0];
  body.replaceChildren();
  if (!bookings.length) return body.append(emptyRow(7, t("暂无预约", "No bookings yet")));
  for (const b of bookings) {
    const cancelRow = el("tr", { class: "sub", hidden: "" });
    const toggle = el("button", { type: "button", class: "small secondary", onclick: () => {
      cancelRow.hidden = !cancelRow.hidden;
      if (!cancelRow.hidden) cancelRow.querySelector("input").focus();
    } }, t("取消预约", "Cancel booking"));
    const form = el("form", { class: "inline-form", novalidate: "" },
      el("label", {}, t("取消原因（必填）", "Reason (required)")),
      el("input", { name: "reason", maxlength: "500", required: "", size: "40" }),
      el("button", { type: "submit", class: "small danger" }, t("确认取消", "Confirm cancellation")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const reason = form.elements.reason.value.trim();
      if (!reason) return showError(form, { field: "reason", message: t("请填写原因", "A reason is required") });
      if (!window.confirm(t(`确定取消 ${b.name} 的预约（${fmtRange(b.starts_at, b.ends_at)}）？`,
        `Cancel the booking of ${b.name} (${fmtRange(b.starts_at, b.ends_at)})?`))) return;
      try {
        await api("POST", admin.paths.cancelBooking(admin.current.exam.id),
          { slot_id: b.slot_id, account_id: b.account_id, reason });
        await Promise.all([loadBookings(), reload.exam(), reload.audit()]);
      } catch (err) {
        showError(form, err);
      }
    });
    cancelRow.append(el("td", { colspan: "7" }, form));
    body.append(row(el("td", {}, b.name || b.account_id), el("td", { class: "mono" }, b.id_number),
      el("td", {}, subjectName(b.subject_id)), el("td", {}, roomName(b.room_id)),
      el("td", { class: "nowrap" }, fmtRange(b.starts_at, b.ends_at, NO_ZONE)), el("td", { class: "nowrap" }, fmtTime(b.booked_at, NO_ZONE)),
      el("td", {}, toggle)), cancelRow);
  }
}
