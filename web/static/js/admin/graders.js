// Admin tab "subjects and rooms": the graders of each recorded subject (录制科目评阅老师): examiner accounts
// who see that subject's submissions by anonymous code only (no name, ID number, exam code or face result).
import { api, el, showError, clearErrors, t } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { admin, reload } from "/static/js/admin/state.js";

const enc = encodeURIComponent;
const paths = {
  graders: (exam) => `/api/admin/exams/${enc(exam)}/graders`,
  subject: (exam, subject) => `/api/admin/exams/${enc(exam)}/subjects/${enc(subject)}/graders`,
};

function subjectForm(subject, examiners, assigned) {
  const saved = el("span", { class: "hint", role: "status", hidden: "" }, t("已保存", "Saved"));
  const form = el("form", { novalidate: "", "data-subject": subject.id },
    el("fieldset", {}, el("legend", {}, subject.name),
      el("div", { class: "choices" }, examiners.length
        ? examiners.map((u) => el("label", { class: "check" },
          el("input", { type: "checkbox", name: "account_ids", value: u.id, checked: assigned.has(u.id) || undefined }),
          `${u.name || u.username}${u.username ? t(`（${u.username}）`, ` (${u.username})`) : ""}`))
        : el("p", { class: "empty" }, t("还没有考官账号，请在下方“账号管理”中创建。", "No examiner accounts yet; create them under Accounts.")))),
    el("button", { type: "submit", class: "small" }, t("保存评阅老师", "Save graders")), " ", saved);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    saved.hidden = true;
    try {
      const account_ids = [...form.querySelectorAll("input[name=account_ids]:checked")].map((c) => c.value);
      await api("PUT", paths.subject(admin.current.exam.id, subject.id), { account_ids });
      clearErrors(form);
      saved.hidden = false;
      if (reload.audit) await reload.audit();
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function loadGraders() {
  if (!admin.current) return;
  const recorded = admin.current.subjects.filter((s) => s.kind === "recorded");
  $("graders").hidden = !recorded.length;
  if (!recorded.length) return;
  const [{ users }, { graders }] = await Promise.all([api("GET", admin.paths.examiners), api("GET", paths.graders(admin.current.exam.id))]);
  const examiners = users.filter((u) => !u.disabled);
  $("grader-subjects").replaceChildren(...recorded.map((s) => subjectForm(s, examiners, new Set(graders[s.id] || []))));
}
