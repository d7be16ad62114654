// Admin section "accounts": every account (filtered by role), disable/enable, revoke sessions, create staff.
import { api, el, jsonForm, showError, t } from "/static/js/common.js";
import { $, fmtTime } from "/static/js/format.js";
import { roleLabel } from "/static/js/proctor-lib.js";
import { admin, emptyRow, fail, NO_ZONE, noEmpty, reload, row } from "/static/js/admin/state.js";

export async function loadUsers() {
  const all = (await api("GET", admin.paths.users)).users;
  admin.names = Object.fromEntries(all.map((u) => [u.id, u.name || u.username || u.phone || u.email]));
  const role = $("user-filter").value;
  const users = role === "staff" ? all.filter((u) => u.role !== "candidate") : role ? all.filter((u) => u.role === role) : all;
  const order = { admin: 0, proctor: 1, examiner: 2, candidate: 3 };
  users.sort((a, b) => order[a.role] - order[b.role] || a.created_at - b.created_at);
  $("user-table").tBodies[0].replaceChildren(...(users.length ? users.map(userRow) : [emptyRow(6, t("暂无账号", "No accounts"))]));
}

function userRow(u) {
  const names = admin.names;
  const note = el("span", { class: "hint" });
  const act = async (fn) => {
    try { await fn(); } catch (err) { note.textContent = err.message; note.className = "error"; }
  };
  const actions = el("div", { class: "actions" });
  if (u.id === admin.me.id) actions.append(el("span", { class: "muted" }, t("当前登录账号", "You")));
  else {
    actions.append(
      el("button", { type: "button", class: "small " + (u.disabled ? "" : "danger"), onclick: () => act(async () => {
        if (!u.disabled && !window.confirm(t(`停用账号 ${names[u.id]}？停用后其所有登录会话立即失效。`,
          `Disable ${names[u.id]}? All their sessions end at once.`))) return;
        await api("PATCH", admin.paths.user(u.id), { disabled: !u.disabled });
        await loadUsers();
      }) }, u.disabled ? t("启用", "Enable") : t("停用", "Disable")),
      el("button", { type: "button", class: "small secondary", onclick: () => act(async () => {
        const { revoked } = await api("POST", admin.paths.revokeSessions(u.id));
        note.className = "hint";
        note.textContent = t(`已注销 ${revoked} 个登录会话`, `${revoked} session(s) revoked`);
      }) }, t("注销登录", "Revoke sessions")));
  }
  if (u.role === "examiner" || u.role === "proctor") actions.append(staffNumberForm(u, note)); // admins are school-wide
  actions.append(note);
  const logins = [u.username, u.phone, u.email, u.id_number].filter(Boolean).join(" / ");
  return row(el("td", {}, roleLabel(u.role)), el("td", {}, u.name),
    el("td", {}, logins, el("div", { class: "hint mono" }, u.id),
      u.staff_id_number ? el("div", { class: "hint", "data-staff-id": u.staff_id_number }, t("证件号码 ", "ID number ") + u.staff_id_number) : ""),
    el("td", { class: u.disabled ? "error" : "ok" }, u.disabled ? t("已停用", "Disabled") : t("正常", "Active")),
    el("td", { class: "nowrap" }, u.created_at ? fmtTime(u.created_at, NO_ZONE) : ""), el("td", {}, actions));
}

// A staff member's ID number: a staff member is never also a candidate of an exam they work on (docs/security.md).
function staffNumberForm(u, note) {
  const form = el("form", { class: "inline-form staff-id-form", novalidate: "", hidden: "" },
    el("input", { name: "staff_id_number", maxlength: "32", size: "20", value: u.staff_id_number || "", "aria-label": t("证件号码", "ID number") }),
    el("button", { type: "submit", class: "small" }, t("保存证件号", "Save ID number")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", `${admin.paths.user(u.id)}/staff-id-number`, { staff_id_number: form.elements.staff_id_number.value.trim() });
      await loadUsers();
    } catch (err) {
      showError(form, err);
    }
  });
  const toggle = el("button", { type: "button", class: "small secondary", onclick: () => { form.hidden = !form.hidden; } },
    u.staff_id_number ? t("修改证件号", "Change ID number") : t("设置证件号", "Set ID number"));
  return el("span", {}, toggle, form);
}

export function setupUserForm() {
  const form = $("user-form");
  jsonForm(form, admin.paths.users, async () => {
    form.reset();
    await loadUsers();
    if (admin.current) await reload.examiners();
  }, noEmpty);
  $("user-filter").addEventListener("change", () => loadUsers().catch(fail));
}
