// 录制科目评阅: the examiner's marking queue (the codes assigned to them only: no name, ID number, exam code
// or face result reaches this page), playback of one (the main camera and the aux cameras side by side, the
// aux videos following the main one from their offset_s) and, beside it, the grader's own mark sheet from the
// subject's rubric: a draft saved as they type ("已保存草稿"), "提交评分" with a confirm, then sealed.
import { api, clearErrors, el, showError, t } from "/static/js/common.js";
import { $, fmtClock, fmtLength, fmtTime } from "/static/js/format.js";
import { followMain, photoGrid } from "/static/js/take-view.js";
import { takePrompt } from "/static/js/take-prompt.js";

const enc = encodeURIComponent;
const page = $("grading-page");
const SAVE_DELAY_MS = 600;
const STATE = { submitted: () => t("考生提交", "By the candidate"), auto_submitted: () => t("到时自动提交", "Automatically at the deadline") };
const SHEET = {
  assigned: () => t("未评分", "Not marked"),
  draft: () => t("草稿", "Draft"),
  sealed: () => t("已提交", "Submitted"),
};
const marksUrl = (code) => `/api/grader/submissions/${enc(code)}/marks`;
let queue = [];
let current = null; // { sub, rubric, sheet, timer, saving }

const markText = (n) => (n === null || n === undefined ? "—" : String(Math.round(n * 100) / 100));

function sheetCell(sheet) {
  const text = SHEET[sheet.state] ? SHEET[sheet.state]() : sheet.state;
  return el("span", { class: "badge sheet-state", "data-state": sheet.state },
    sheet.state === "sealed" && sheet.total !== null ? `${text} · ${markText(sheet.total)}` : text);
}

function play(sub) {
  const box = $("grading-player");
  $("grading-player-title").textContent = `${sub.code} · ${sub.subject.name}` + (sub.duration_s ? ` · ${fmtLength(sub.duration_s)}` : "");
  document.querySelectorAll("#grading-table tr[data-code]").forEach((tr) => tr.classList.toggle("selected", tr.dataset.code === sub.code));
  page.dataset.playing = sub.code;
  if (!sub.video_url) {
    box.replaceChildren(el("p", { class: "empty" }, t("该视频正在服务器上生成播放文件，请稍后刷新。", "The playback file is still being made on the server; refresh in a moment.")));
    return;
  }
  const figures = [el("figure", {}, el("video", { id: "grading-main", controls: "", preload: "metadata", playsinline: "", class: "rec-player", src: sub.video_url }),
    el("figcaption", {}, t("主机位", "Main camera")))];
  for (const aux of sub.aux) {
    figures.push(el("figure", {}, el("video", { controls: "", preload: "metadata", playsinline: "", muted: "", class: "rec-player aux-player", src: aux.url, "data-offset": String(aux.offset_s || 0) }),
      el("figcaption", {}, t(`辅机位 ${aux.n}`, `Aux camera ${aux.n}`))));
  }
  box.replaceChildren(el("div", { class: "take-pair" }, figures),
    sub.aux.length ? "" : el("p", { class: "hint" }, t("该考生未使用辅机位。", "No aux camera was used.")),
    takePrompt(sub, () => $("grading-main")), // a drawn question, or guided steps to jump to
    (sub.photos || []).length ? el("div", { class: "grading-photos" }, el("h3", {}, t("作品照片", "Photos of the work")), photoGrid(sub.photos)) : "");
  const main = $("grading-main");
  followMain(main, [...box.querySelectorAll("video.aux-player")]); // the main camera carries the sound
  const show = () => $("grading-player-card").scrollIntoView({ block: "start" });
  show();
  main.addEventListener("loadedmetadata", show, { once: true }); // the videos' height is known from now
}

// --- the mark sheet ------------------------------------------------------------------------------

function formMarks(form) {
  const marks = {};
  form.querySelectorAll("input[data-criterion]").forEach((input) => {
    if (input.value.trim() !== "") marks[input.dataset.criterion] = Number(input.value);
  });
  return marks;
}

function showTotal(form) {
  const marks = formMarks(form);
  const total = current.rubric.criteria.reduce((sum, c) => sum + (Number.isFinite(marks[c.id]) ? marks[c.id] * c.weight : 0), 0);
  $("mark-total").textContent = Object.keys(marks).length ? markText(total) : "—";
  return total;
}

function status(text, kind = "") {
  const box = $("mark-status");
  box.textContent = text;
  box.dataset.kind = kind;
}

function updateRow(sheet) {
  const row = queue.find((r) => r.code === sheet.code);
  if (row) row.sheet = { state: sheet.state, total: sheet.total, saved_at: sheet.saved_at };
  const cell = document.querySelector(`#grading-table tr[data-code="${sheet.code}"] td.sheet`);
  if (cell) cell.replaceChildren(sheetCell(sheet));
  summary();
}

async function saveDraft(form) {
  const state = current;
  state.timer = null;
  state.saving = true;
  status(t("正在保存…", "Saving…"));
  try {
    const { sheet } = await api("PUT", marksUrl(state.sub.code), { marks: formMarks(form), comment: form.elements.comment.value });
    if (current !== state) return;
    clearErrors(form);
    state.sheet = sheet;
    status(t(`已保存草稿 · ${fmtClock(sheet.saved_at, { seconds: true, zone: false })}`, `Draft saved · ${fmtClock(sheet.saved_at, { seconds: true, zone: false })}`), "saved");
    form.dataset.state = sheet.state;
    const badge = form.querySelector("h2 .sheet-state");
    if (badge) badge.replaceWith(sheetCell(sheet));
    updateRow(sheet);
  } catch (err) {
    if (current !== state) return;
    showError(form, err);
    status(t("草稿未保存，请按提示修改。", "Draft not saved; correct the mark shown."), "error");
  } finally {
    state.saving = false;
  }
}

function renderSheet() {
  const { sub, rubric, sheet } = current;
  const form = $("mark-form");
  const sealed = sheet.state === "sealed";
  form.dataset.state = sheet.state;
  form.dataset.code = sub.code;
  const rows = rubric.criteria.map((c) => el("label", { class: "tm-row" },
    el("span", { class: "tm-name" }, c.name,
      el("span", { class: "hint" }, t(`满分 ${c.max}`, `max ${c.max}`) + (c.weight !== 1 ? t(` · 权重 ${c.weight}`, ` · weight ${c.weight}`) : ""))),
    el("input", {
      type: "number", name: `marks.${c.id}`, "data-criterion": c.id, min: "0", max: String(c.max), step: String(rubric.step),
      inputmode: "decimal", value: sheet.marks[c.id] ?? "", disabled: sealed || undefined, "aria-label": c.name,
    })));
  const head = el("h2", {}, t("评分", "Marks"), " ", el("span", { class: "mono" }, sub.code), " ", sheetCell(sheet));
  const total = el("p", { class: "mark-total" }, t("总分 ", "Total "), el("strong", { id: "mark-total" }, "—"),
    ` / ${markText(rubric.max_total)}`, el("span", { class: "hint" }, t(`（步长 ${rubric.step}）`, ` (step ${rubric.step})`)));
  const comment = el("label", {}, t("评语（选填）", "Comment (optional)"),
    el("textarea", { name: "comment", rows: "3", maxlength: "2000", disabled: sealed || undefined }));
  comment.querySelector("textarea").value = sheet.comment || "";
  const foot = sealed
    ? el("p", { class: "hint sealed-note" }, t(`已于 ${fmtTime(sheet.sealed_at)} 提交评分，不能再修改；如需更正请联系学校管理员。`,
      `Submitted ${fmtTime(sheet.sealed_at)}; it cannot change. Ask the school's admin to correct it.`))
    : el("div", { class: "actions" }, el("button", { type: "submit", id: "mark-seal" }, t("提交评分", "Submit marks")));
  const note = sheet.reopen_reason && !sealed
    ? el("p", { class: "badge-warning reopen-note" }, t(`管理员已重新开放评分：${sheet.reopen_reason}`, `Reopened by the admin: ${sheet.reopen_reason}`)) : "";
  form.replaceChildren(head, note, el("div", { class: "tm-rows" }, rows), total, comment,
    el("p", { id: "mark-status", class: "hint", role: "status" }, sheet.state === "draft" && sheet.saved_at
      ? t(`已保存草稿 · ${fmtClock(sheet.saved_at, { seconds: true, zone: false })}`, `Draft saved · ${fmtClock(sheet.saved_at, { seconds: true, zone: false })}`) : ""), foot);
  showTotal(form);
  $("mark-card").hidden = false;
}

async function openSheet(sub) {
  if (current && current.timer) { clearTimeout(current.timer); await saveDraft($("mark-form")); }
  play(sub);
  try {
    const { sheet, rubric } = await api("GET", marksUrl(sub.code));
    current = { sub, rubric, sheet, timer: null, saving: false };
    renderSheet();
    page.dataset.sheet = sheet.state;
  } catch (err) {
    $("grading-error").textContent = err.message;
    $("grading-error").hidden = false;
  }
}

function setupSheet() {
  const form = $("mark-form");
  form.addEventListener("input", () => {
    if (!current || current.sheet.state === "sealed") return;
    showTotal(form);
    status(t("正在输入…", "Typing…"));
    if (current.timer) clearTimeout(current.timer);
    current.timer = setTimeout(() => saveDraft(form), SAVE_DELAY_MS);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current || current.sheet.state === "sealed") return;
    const missing = current.rubric.criteria.filter((c) => !Number.isFinite(formMarks(form)[c.id]));
    if (missing.length) {
      showError(form, { field: `marks.${missing[0].id}`, message: t(`请为“${missing[0].name}”打分后再提交`, `Mark ${missing[0].name} before submitting`) });
      return;
    }
    const total = markText(showTotal(form));
    if (!window.confirm(t(`确认提交 ${current.sub.code} 的评分吗？总分 ${total}。提交后不能再修改。`,
      `Submit the marks of ${current.sub.code}? Total ${total}. They cannot change afterwards.`))) return;
    if (current.timer) { clearTimeout(current.timer); current.timer = null; }
    const button = $("mark-seal");
    button.disabled = true;
    try {
      const { sheet } = await api("POST", `${marksUrl(current.sub.code)}/seal`, { marks: formMarks(form), comment: form.elements.comment.value });
      current.sheet = sheet;
      renderSheet();
      updateRow(sheet);
      page.dataset.sheet = sheet.state;
    } catch (err) {
      showError(form, err);
      button.disabled = false;
    }
  });
}

// --- the queue -------------------------------------------------------------------------------------

function summary() {
  const done = queue.filter((r) => r.sheet.state === "sealed").length;
  $("grading-count").textContent = String(queue.length);
  $("grading-summary").textContent = queue.length ? t(`已提交 ${done} / ${queue.length}`, `${done} of ${queue.length} submitted`) : "";
}

function subRow(sub) {
  return el("tr", { "data-code": sub.code, "data-state": sub.state, class: current && current.sub.code === sub.code ? "selected" : "" },
    el("td", { class: "mono" }, el("strong", {}, sub.code)),
    el("td", {}, sub.subject.name, el("div", { class: "hint" }, sub.exam.name)),
    el("td", {}, (STATE[sub.state] || (() => sub.state))()),
    el("td", { class: "num" }, sub.duration_s ? fmtLength(sub.duration_s) : "—"),
    el("td", { class: "sheet" }, sheetCell(sub.sheet)),
    el("td", {}, el("button", { type: "button", class: "small", "data-play": sub.code, onclick: () => openSheet(sub) },
      sub.sheet.state === "sealed" ? t("查看", "View") : t("评阅", "Mark"))));
}

// The subjects the grader grades whose exam window is still open: graded from its close (004_*: the examiners
// assess the videos after the deadline; until then a submission may still be reset and withdrawn).
function showWaiting(waiting) {
  let box = $("grading-waiting");
  if (!box) {
    box = el("div", { id: "grading-waiting", class: "card", role: "status" });
    $("grading-list-card").before(box);
  }
  box.hidden = !waiting.length;
  box.replaceChildren(...waiting.map((w) => el("p", { "data-subject": w.subject.id },
    t(`${w.exam.name} · ${w.subject.name}：考试时间到 ${fmtTime(w.opens_at)} 结束，结束后开始评阅。`,
      `${w.exam.name} · ${w.subject.name}: graded once the exam time is over (${fmtTime(w.opens_at)}).`))));
}

async function load() {
  const table = $("grading-table");
  if (!table) { page.dataset.state = "none"; return; }
  const subject = $("grading-subject").value;
  try {
    const answer = await api("GET", "/api/grader/queue");
    queue = subject ? answer.queue.filter((r) => r.subject.id === subject) : answer.queue;
    const waiting = subject ? answer.waiting.filter((w) => w.subject.id === subject) : answer.waiting;
    $("grading-error").hidden = true;
    showWaiting(waiting);
    table.tBodies[0].replaceChildren(...(queue.length ? queue.map(subRow)
      : [el("tr", {}, el("td", { colspan: "6", class: "empty" }, waiting.length
        ? t("考试时间结束后，分配给您的作品会出现在这里。", "The submissions assigned to you appear here once the exam time is over.")
        : t("暂无分配给您的作品。作品提交后由系统自动分配。", "Nothing assigned to you yet; submissions are assigned as they come in.")))]));
    summary();
    page.dataset.state = "ready";
  } catch (err) {
    $("grading-error").textContent = err.message;
    $("grading-error").hidden = false;
    page.dataset.state = "error";
  }
}

if ($("grading-subject")) {
  $("grading-subject").addEventListener("change", () => load());
  $("grading-refresh").addEventListener("click", () => load());
}
setupSheet();
window.addEventListener("beforeunload", () => { if (current && current.timer) saveDraft($("mark-form")); });
load();
