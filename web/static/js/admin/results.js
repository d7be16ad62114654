// Admin tab "成绩": the rostered candidates 50 a page, each one's final mark per subject (who marked what, the
// combination applied, absences), the total and the outcome; the school's published wording (show the marks or
// only the outcome; pass mark or pass list; the two labels), "锁定成绩" and "发布成绩"; beside each marker
// "重新开放" (a sealed sheet) or "免除评分" (an examiner of a live interview who has not sealed), each with a
// reason, audited (docs/marking.md "Results").
import { api, el, showError, t } from "/static/js/common.js";
import { $, fmtTime } from "/static/js/format.js";
import { admin, emptyRow, reload, row } from "/static/js/admin/state.js";

const enc = encodeURIComponent;
const base = (exam) => `/api/admin/exams/${enc(exam)}/results`;
const PAGE = 50;
const STATE = { open: () => t("未锁定", "Open"), locked: () => t("已锁定，未发布", "Locked, not published"), published: () => t("已发布", "Published") };
const STATUS = { final: () => t("已评定", "Final"), pending: () => t("未评完", "Not all marked"), removed: () => t("面试被移出", "Removed"), absent: () => t("缺考", "Absent") };
const mark = (v) => (v === null || v === undefined ? "—" : String(Math.round(v * 100) / 100));
let offset = 0;
let shownExam = null; // another exam starts at its first page

function showErrorBox(err) {
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
    showErrorBox(err);
  }
}

// What an admin may do about one marker of one subject: reopen a sealed sheet, or excuse an examiner of a
// live interview who has not sealed. Each needs a reason, asked in the candidate's sub-row.
function actionOf(s, m) {
  if (m.state === "sealed" && s.kind === "interview" && s.interview_id) {
    return { label: t("重新开放", "Reopen"), verb: t("重新开放", "Reopen"), what: "reopen",
      path: `/api/admin/interviews/${enc(s.interview_id)}/marks/${enc(m.account_id)}/reopen` };
  }
  if (m.state === "sealed" && s.kind === "recorded" && s.code) {
    return { label: t("重新开放", "Reopen"), verb: t("重新开放", "Reopen"), what: "reopen",
      path: `/api/admin/take-marks/${enc(s.code)}/${enc(m.account_id)}/reopen` };
  }
  if (s.kind === "interview" && s.interview_id && (m.state === "none" || m.state === "draft")) {
    return { label: t("免除评分", "Excuse"), verb: t("免除", "Excuse"), what: "excuse",
      path: `/api/admin/interviews/${enc(s.interview_id)}/marks/${enc(m.account_id)}/excuse` };
  }
  return null;
}

function reasonForm(sub) {
  const form = el("form", { class: "inline-form results-reason", novalidate: "" });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const reason = form.elements.reason.value.trim();
    if (!reason) return showError(form, { field: "reason", message: t("请填写原因", "A reason is required") });
    try {
      await api("POST", form.dataset.path, { reason });
      await loadResults();
      reload.audit?.();
    } catch (err) {
      showError(form, err);
    }
  });
  sub.append(el("td", { colspan: "4" }, form));
  return form;
}

function ask(sub, form, s, m, action) {
  form.dataset.path = action.path;
  form.dataset.what = action.what;
  const who = m.name || m.account_id;
  const prompt = action.what === "reopen"
    ? t(`重新开放 ${who} 对“${s.subject_name}”的评分（改回草稿，需重新提交）。原因（必填）`, `Reopen ${who}'s marks of ${s.subject_name} (a draft again). Reason (required)`)
    : t(`免除 ${who} 对“${s.subject_name}”这场面试的评分（其余考官提交即出最终成绩，不可撤销）。原因（必填）`, `Excuse ${who} from marking ${s.subject_name} (the others' marks decide; final). Reason (required)`);
  form.replaceChildren(
    el("label", { for: "results-reason-input" }, prompt),
    el("input", { id: "results-reason-input", name: "reason", maxlength: "200", required: "", size: "40" }),
    el("button", { type: "submit", class: action.what === "excuse" ? "small danger" : "small" }, t(`确认${action.verb}`, `Confirm: ${action.verb}`)),
    el("button", { type: "button", class: "small secondary", onclick: () => { sub.hidden = true; } }, t("取消", "Cancel")));
  sub.hidden = false;
  form.elements.reason.focus();
}

function cell(s, open, onAction) {
  const who = s.markers.map((m) => {
    const state = m.state === "excused" ? t("（已免除）", " (excused)") : m.total === null || m.total === undefined ? t("（未提交）", " (not submitted)") : " " + mark(m.total);
    const action = open ? actionOf(s, m) : null;
    return el("span", { class: "marker", "data-account": m.account_id, "data-state": m.state, title: m.reason || "" },
      `${m.name || m.account_id}${state}`,
      action ? el("button", { type: "button", class: "small secondary", "data-action": action.what, onclick: () => onAction(s, m, action) }, action.label) : "");
  });
  return el("div", { class: "result-subject", "data-status": s.status, "data-subject": s.subject_id },
    el("strong", {}, s.status === "final" ? mark(s.final) : STATUS[s.status]()),
    el("div", { class: "hint" }, s.subject_name + (s.status === "final" ? " · " + s.combination : "")),
    who.length ? el("div", { class: "hint markers" }, ...who.flatMap((w, i) => (i ? [t("；", "; "), w] : [w]))) : "");
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
      version: view.settings_version, // the version this form shows: another admin's save since is a conflict
    });
  });
  return form;
}

function pager(view) {
  const last = Math.min(view.offset + view.rows.length, view.count);
  const go = (to) => { offset = Math.max(0, to); loadResults(); };
  return el("div", { class: "row", id: "results-pager" },
    el("button", { type: "button", class: "small secondary", id: "results-prev", ...(view.offset > 0 ? {} : { disabled: "" }), onclick: () => go(view.offset - PAGE) }, t("上一页", "Previous")),
    el("span", { class: "hint", id: "results-range" }, view.count ? t(`第 ${view.offset + 1}-${last} 名，共 ${view.count} 名`, `${view.offset + 1}-${last} of ${view.count}`) : ""),
    el("button", { type: "button", class: "small secondary", id: "results-next", ...(last < view.count ? {} : { disabled: "" }), onclick: () => go(view.offset + PAGE) }, t("下一页", "Next")));
}

function render(view) {
  offset = view.offset;
  const box = $("results-box");
  const open = view.state === "open";
  const when = view.published_at ? t("发布于 ", "published ") + fmtTime(view.published_at) : view.locked_at ? t("锁定于 ", "locked ") + fmtTime(view.locked_at) : "";
  const lock = el("button", { type: "button", id: "results-lock", ...(open ? {} : { disabled: "" }) }, t("锁定成绩", "Lock results"));
  const publish = el("button", { type: "button", id: "results-publish", ...(view.state === "locked" ? {} : { disabled: "" }) }, t("发布成绩", "Publish results"));
  lock.addEventListener("click", () => {
    if (confirm(t("锁定后所有评分都不能再修改（包括重新开放）。确定锁定？", "After locking no mark can change (nor be reopened). Lock?"))) act("POST", `${base(admin.current.exam.id)}/lock`);
  });
  publish.addEventListener("click", () => {
    if (confirm(t("发布后考生即可查看自己的成绩，且不能撤回。确定发布？", "Candidates see their results at once; this cannot be undone. Publish?"))) act("POST", `${base(admin.current.exam.id)}/publish`);
  });
  const rows = view.rows.flatMap((r) => {
    const sub = el("tr", { class: "sub", hidden: "", "data-reason-for": r.id_number });
    const form = reasonForm(sub);
    const onAction = (s, m, action) => ask(sub, form, s, m, action);
    return [row(
      el("td", {}, r.name, el("div", { class: "hint" }, r.id_number)),
      el("td", {}, ...r.subjects.map((s) => cell(s, open, onAction))),
      el("td", { class: "num" }, mark(r.total)),
      el("td", { "data-passed": String(r.passed) }, r.outcome || "—")), sub];
  });
  box.replaceChildren(
    el("p", { id: "results-state", "data-state": view.state }, el("strong", {}, STATE[view.state]()), " ", el("span", { class: "hint" }, when)),
    settingsForm(view),
    el("div", { class: "row" }, lock, publish),
    open ? el("p", { class: "hint" }, t("评分有误可“重新开放”（考官或评阅老师改后重新提交）；考官未到场可“免除评分”，其余考官提交后即出最终成绩。均需填写原因，记入审计日志。",
      "A wrong mark can be reopened (the marker submits again); an absent examiner can be excused (the others' marks decide). Each needs a reason and is audited.")) : "",
    pager(view),
    el("div", { class: "table-wrap" }, el("table", { id: "results-table" },
      el("thead", {}, el("tr", {}, el("th", {}, t("考生", "Candidate")), el("th", {}, t("各科成绩（评分人与合分方式）", "Subjects (markers, combination)")),
        el("th", { class: "num" }, t("总分", "Total")), el("th", {}, t("结果", "Outcome")))),
      el("tbody", {}, ...(rows.length ? rows : [emptyRow(4, t("名单中还没有考生", "No candidates on the roster"))])))));
}

export async function loadResults() {
  if (!admin.current || !$("results-box")) return;
  $("results-error").hidden = true;
  if (shownExam !== admin.current.exam.id) [offset, shownExam] = [0, admin.current.exam.id];
  try {
    render(await api("GET", `${base(admin.current.exam.id)}?offset=${offset}&limit=${PAGE}`));
  } catch (err) {
    showErrorBox(err);
  }
}

$("results-refresh")?.addEventListener("click", () => loadResults());
