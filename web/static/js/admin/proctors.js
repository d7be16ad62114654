// Admin tab "subjects and rooms": the proctors assigned to the exam (巡考). A proctor sees and decides
// only for the exams assigned here: the live view, the audit log, face reviews and identity appeals.
import { api, el, t } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { admin, fail, reload } from "/static/js/admin/state.js";

export async function loadProctors() {
  const { users } = await api("GET", admin.paths.proctors);
  const box = $("proctor-choices").querySelector(".choices");
  const assigned = new Set(admin.current.proctors || []);
  box.replaceChildren(...(users.length ? users.filter((u) => !u.disabled).map((u) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: u.id, checked: assigned.has(u.id) }), `${u.name || u.username}${u.username ? t(`（${u.username}）`, ` (${u.username})`) : ""}`))
    : [el("p", { class: "empty" }, t("还没有巡考账号，请在下方“账号管理”中创建。", "No proctor accounts yet; create them under Accounts."))]));
}

export function setupProctorForm() {
  const form = $("proctor-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    $("proctor-saved").hidden = true;
    try {
      const proctors = [...form.querySelectorAll("#proctor-choices input[type=checkbox]:checked")].map((c) => c.value);
      await api("PUT", admin.paths.examProctors(admin.current.exam.id), { proctors });
      await reload.exam();
      await reload.audit();
      $("proctor-saved").hidden = false;
    } catch (err) {
      fail(err);
    } finally {
      button.disabled = false;
    }
  });
}
