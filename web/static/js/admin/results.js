// Admin tab "成绩": every rostered candidate's final mark per subject (who marked what, the combination
// applied, absences), the total and the outcome; the school's published wording (show the marks or only
// the outcome; pass mark or pass list; the two labels), "锁定成绩" and "发布成绩" (docs/marking.md "Results").
import { api, el, t } from "/static/js/common.js";
import { $, fmtTime } from "/static/js/format.js";
import { admin, emptyRow, reload, row } from "/static/js/admin/state.js";

const enc = encodeURIComponent;
const base = (exam) => `/api/admin/exams/${enc(exam)}/results`;
const STATE = { open: () => t("未锁定", "Open"), locked: () => t("已锁定，未发布", "Locked, not published"), published: () => t("已发布", "Published") };
const STATUS = { final: () => t("已评定", "Final"), pending: () => t("未评完", "Not all marked"), removed: () => t("面试被移出", "Removed"), absent: () => t("缺考", "Absent") };
const mark = (v) => (v === null || v === undefined ? "—" : String(Math.round(v * 100) / 100));

function showError(err) {
  $("results-error").textContent = err.message;
  $("results-error").hidden = false;
}

async function act(method, path, body) {
  $("results-error").hidden = true;
  try {
    const view = await api(method, path, body);
    if (view.rows) render(view);
    else await loadResults(); // the settings answer with the state only
    reload.audit?.();
  } catch (err) {
    showError(err);
  }
}

function cell(s) {
  const who = s.markers.map((m) => `${m.name || m.account_id}${m.total === null || m.total === undefined ? t("（未提交）", " (not submitted)") : " " + mark(m.total)}`);
  return el("div", { class: "result-subject", "data-status": s.status },
    el("strong", {}, s.status === "final" ? mark(s.final) : STATUS[s.status]()),
    el("div", { class: "hint" }, s.subject_name + (s.status === "final" ? " · " + s.combination : "")),
    who.length ? el("div", { class: "hint" }, who.join(t("；", "; "))) : "");
}

function settingsForm(view) {
  const s = view.settings;
  const open = view.state !== "published";
  const form = el("form", { id: "results-settings", class: "row" },
    el("label", {}, t("公布内容", "Show"), el("select", { name: "show_marks" },
      el("option", { value: "true", ...(s.show_marks ? { selected: "" } : {}) }, t("结果和分数", "Outcome and marks")),
      el("option", { value: "false", ...(!s.show_marks ? { selected: "" } : {}) }, t("只公布结果", "Outcome only")))),
    el("label", {}, t("判定方式", "Rule"), el("select", { name: "rule" },
      el("option", { value: "pass_mark", ...(s.rule === "pass_mark" ? { selected: "" } : {}) }, t("合格分数线", "Pass mark")),
      el("option", { value: "pass_list", ...(s.rule === "pass_list" ? { selected: "" } : {}) }, t("合格名单", "Pass list")))),
    el("label", {}, t("合格分数线", "Pass mark"), el("input", { name: "pass_mark", type: "number", step: "0.5", min: "0", value: s.pass_mark ?? "" })),
    el("label", {}, t("合格名单（证件号码，每行一个）", "Pass list (ID numbers, one a line)"), el("textarea", { name: "pass_list", rows: "2" }, (s.pass_list || []).join("\n"))),
    el("label", {}, t("合格的说法", "Pass label"), el("input", { name: "pass_label", maxlength: "20", value: s.pass_label })),
    el("label", {}, t("不合格的说法", "Fail label"), el("input", { name: "fail_label", maxlength: "20", value: s.fail_label })),
    el("button", { type: "submit", class: "secondary", ...(open ? {} : { disabled: "" }) }, t("保存公布方式", "Save wording")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const pass = f.get("pass_mark");
    act("PUT", `${base(admin.current.exam.id)}/settings`, {
      show_marks: f.get("show_marks") === "true",
      rule: f.get("rule"),
      pass_mark: pass === "" ? null : Number(pass),
      pass_list: String(f.get("pass_list") || "").split(/\s+/).filter(Boolean),
      pass_label: f.get("pass_label"),
      fail_label: f.get("fail_label"),
    });
  });
  return form;
}

function render(view) {
  const box = $("results-box");
  const when = view.published_at ? t("发布于 ", "published ") + fmtTime(view.published_at) : view.locked_at ? t("锁定于 ", "locked ") + fmtTime(view.locked_at) : "";
  const lock = el("button", { type: "button", id: "results-lock", ...(view.state === "open" ? {} : { disabled: "" }) }, t("锁定成绩", "Lock results"));
  const publish = el("button", { type: "button", id: "results-publish", ...(view.state === "locked" ? {} : { disabled: "" }) }, t("发布成绩", "Publish results"));
  lock.addEventListener("click", () => {
    if (confirm(t("锁定后所有评分都不能再修改（包括重新开放）。确定锁定？", "After locking no mark can change (nor be reopened). Lock?"))) act("POST", `${base(admin.current.exam.id)}/lock`);
  });
  publish.addEventListener("click", () => {
    if (confirm(t("发布后考生即可查看自己的成绩，且不能撤回。确定发布？", "Candidates see their results at once; this cannot be undone. Publish?"))) act("POST", `${base(admin.current.exam.id)}/publish`);
  });
  const rows = view.rows.map((r) => row(
    el("td", {}, r.name, el("div", { class: "hint" }, r.id_number)),
    el("td", {}, ...r.subjects.map(cell)),
    el("td", { class: "num" }, mark(r.total)),
    el("td", { "data-passed": String(r.passed) }, r.outcome || "—")));
  box.replaceChildren(
    el("p", { id: "results-state", "data-state": view.state }, el("strong", {}, STATE[view.state]()), " ", el("span", { class: "hint" }, when)),
    settingsForm(view),
    el("div", { class: "row" }, lock, publish),
    el("div", { class: "table-wrap" }, el("table", { id: "results-table" },
      el("thead", {}, el("tr", {}, el("th", {}, t("考生", "Candidate")), el("th", {}, t("各科成绩（评分人与合分方式）", "Subjects (markers, combination)")),
        el("th", { class: "num" }, t("总分", "Total")), el("th", {}, t("结果", "Outcome")))),
      el("tbody", {}, ...(rows.length ? rows : [emptyRow(4, t("名单中还没有考生", "No candidates on the roster"))])))));
}

export async function loadResults() {
  if (!admin.current || !$("results-box")) return;
  $("results-error").hidden = true;
  try {
    render(await api("GET", base(admin.current.exam.id)));
  } catch (err) {
    showError(err);
  }
}

$("results-refresh")?.addEventListener("click", () => loadResults());
