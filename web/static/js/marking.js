// The marking card of the examiner's room (评分, docs/marking.md): during and after an interview the
// examiner marks every criterion of the subject's rubric and may write a comment; the draft is saved as
// they type ("已保存草稿"), "提交评分" seals it (with a confirm). The card shows who of the interview's
// examiners has submitted; the others' marks and the final mark appear only once all have.
// room.js tells this module about the room: "queue-room" (every Room) and "marks-status" (socket
// marks:status) events on #room-page. ?interview=<id> opens the card on that interview.
import { api, el, t } from "/static/js/common.js";
import { $, fmtClock } from "/static/js/format.js";

const page = $("room-page");
const card = $("marking");
const roomId = page.dataset.roomId;
const SAVE_AFTER_MS = 700;

let chosen = new URLSearchParams(location.search).get("interview") || ""; // the examiner's own choice
let interviewId = "";
let view = null; // the last GET .../marks
let saved = ""; // JSON of the last saved {marks, comment}
let timer = null;
let saving = Promise.resolve();
let lastCurrent = undefined; // the room's current candidate, to notice a new interview

const base = (id) => `/api/examiner/rooms/${roomId}/interviews/${id}/marks`;
const num = (v) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100));

function setStatus(text, kind = "") {
  const node = $("marking-status");
  node.textContent = text;
  node.dataset.kind = kind;
  node.className = kind === "error" ? "error" : "hint";
}

// --- which interview ---------------------------------------------------------------------------------

function optionLabel(i) {
  const state = i.state === "called" ? t("面试中", "in progress") : i.state === "done" ? t("已结束", "ended") : t("已移出", "removed");
  const marks = i.marks_state === "sealed" ? t("已提交", "submitted") : i.marks_state === "draft" ? t("草稿", "draft") : t("未评分", "not marked");
  return `${i.candidate_name || "—"} · ${fmtClock(i.called_at, { zone: false })} · ${state} · ${marks}`;
}

async function loadList() {
  let list;
  try {
    ({ interviews: list } = await api("GET", `/api/examiner/rooms/${roomId}/interviews`));
  } catch (err) {
    setStatus(err.message, "error");
    return;
  }
  const select = $("marking-pick");
  if (chosen && !list.some((i) => i.interview_id === chosen)) {
    // an older interview from the unfinished list: still offered
    list = [{ interview_id: chosen, candidate_name: t("（所选面试）", "(chosen interview)"), state: "done", called_at: 0, marks_state: "none" }, ...list];
  }
  select.replaceChildren(...list.map((i) => el("option", { value: i.interview_id }, optionLabel(i))));
  select.hidden = list.length < 2;
  const next = chosen || (list[0] && list[0].interview_id) || "";
  select.value = next;
  if (!next) {
    card.dataset.state = "none";
    $("marking-body").replaceChildren(el("p", { class: "empty" }, t("本考场还没有面试；叫号后即可在此评分。", "No interview in this room yet; once a candidate is called you can mark here.")));
    return;
  }
  if (next !== interviewId) await open(next);
}

async function open(id) {
  await flush();
  interviewId = id;
  card.dataset.interview = id;
  await reload(true);
}

async function reload(inputs) {
  if (!interviewId) return;
  try {
    view = await api("GET", base(interviewId));
  } catch (err) {
    setStatus(err.message, "error");
    return;
  }
  render(inputs);
}

// --- the card ----------------------------------------------------------------------------------------

function values() {
  const marks = {};
  card.querySelectorAll("input[data-criterion]").forEach((input) => {
    const raw = input.value.trim();
    marks[input.dataset.criterion] = raw === "" ? null : Number(raw);
  });
  return { marks, comment: $("marking-comment") ? $("marking-comment").value : "" };
}

function totalOf(marks) {
  if (!view || !view.rubric) return 0;
  return view.rubric.criteria.reduce((sum, c) => sum + (Number.isFinite(marks[c.id]) ? marks[c.id] * c.weight : 0), 0);
}

function render(inputs) {
  const { rubric, mine, interview } = view;
  card.dataset.state = mine.state;
  card.dataset.allSealed = String(view.all_sealed);
  $("marking-who").textContent = `${interview.candidate_name || "—"}` + (interview.state === "called" ? t("（面试中）", " (in progress)") : "");
  if (!rubric) {
    $("marking-body").replaceChildren(el("p", { class: "error" }, t("该科目尚未设置评分标准，请联系学校管理员。", "This subject has no rubric yet; ask the school's admin.")));
    renderPanel();
    return;
  }
  if (inputs) {
    const excused = (view.excused || []).some((e) => e.me);
    const sealed = mine.state === "sealed" || excused;
    const rows = rubric.criteria.map((c) => el("label", { class: "mark-row" },
      el("span", { class: "mark-name" }, c.name, el("span", { class: "hint" }, ` ${t("满分", "max")} ${num(c.max)}` + (c.weight !== 1 ? ` × ${num(c.weight)}` : ""))),
      el("input", {
        type: "number", inputmode: "decimal", min: "0", max: String(c.max), step: String(rubric.step),
        "data-criterion": c.id, name: `marks.${c.id}`, value: mine.marks[c.id] !== undefined ? String(mine.marks[c.id]) : "",
        disabled: sealed, "aria-label": c.name,
      })));
    const comment = el("textarea", { id: "marking-comment", name: "comment", maxlength: "1000", rows: "2", disabled: sealed, placeholder: t("评语（可选）", "Comment (optional)") });
    comment.value = mine.comment || "";
    const submit = el("button", { type: "button", id: "marking-seal", disabled: sealed }, sealed ? t("已提交评分", "Marks submitted") : t("提交评分", "Submit marks"));
    submit.addEventListener("click", seal);
    $("marking-body").replaceChildren(
      el("p", { class: "hint rubric-facts" }, t(`步长 ${num(rubric.step)} 分 · 满分 ${num(rubric.max_total)} 分 · 合分：`, `Step ${num(rubric.step)} · out of ${num(rubric.max_total)} · combined by `)
        + (rubric.combine === "trimmed_mean" ? t("去掉最高分和最低分后平均（4 位及以上考官）", "mean without the highest and lowest (4+ examiners)") : t("各考官总分的平均", "the mean of the examiners' totals"))),
      el("div", { class: "mark-grid" }, rows),
      el("label", { class: "mark-comment" }, t("评语", "Comment"), comment),
      el("div", { class: "mark-submit" },
        el("p", { class: "mark-total" }, t("我的总分：", "My total: "), el("strong", { id: "marking-total" }, num(totalOf(mine.marks))),
          el("span", { class: "hint" }, ` / ${num(rubric.max_total)}`)),
        submit));
    card.querySelectorAll("input[data-criterion], #marking-comment").forEach((node) => node.addEventListener("input", typed));
    saved = JSON.stringify(values());
    if (excused) submit.hidden = true;
    if (excused) setStatus(t("管理员已免除您对这场面试的评分", "An admin excused you from marking this interview"), "sealed");
    else setStatus(sealed ? t(`已提交 ${fmtClock(mine.sealed_at, { seconds: true, zone: false })}，不能再修改`, "Submitted; it can no longer change")
      : mine.saved_at ? t(`已保存草稿 ${fmtClock(mine.saved_at, { seconds: true, zone: false })}`, "Draft saved") : t("尚未评分", "Not marked yet"), sealed ? "sealed" : mine.saved_at ? "saved" : "");
  }
  renderPanel();
}

function renderPanel() {
  const { panel, others, final, all_sealed: all } = view;
  $("marking-panel").replaceChildren(...panel.map((p) => el("li", { "data-account": p.account_id, "data-sealed": String(p.sealed) },
    el("span", {}, (p.name || p.account_id) + (p.me ? t("（我）", " (me)") : "")),
    el("span", { class: p.sealed ? "ok" : "muted" }, p.sealed ? t("✓ 已提交", "✓ submitted") : t("未提交", "not submitted")))),
    ...(view.excused || []).map((p) => el("li", { "data-account": p.account_id, "data-excused": "true" },
      el("span", {}, (p.name || p.account_id) + (p.me ? t("（我）", " (me)") : "")),
      el("span", { class: "muted" }, t("已免除（管理员）", "excused (by an admin)")))));
  const result = $("marking-result");
  if (!all) {
    result.replaceChildren(el("p", { class: "hint", id: "marking-hidden" }, t("全部考官提交后才显示其他考官的评分和最终成绩。", "The other examiners' marks and the final mark show once every examiner has submitted.")));
    return;
  }
  const rubric = view.rubric;
  const meExcused = (view.excused || []).some((e) => e.me);
  const sheets = [...(meExcused ? [] : [{ ...view.mine, name: t("我", "Me") }]), ...others];
  result.replaceChildren(
    el("div", { class: "table-wrap" }, el("table", { id: "marking-others" },
      el("thead", {}, el("tr", {}, el("th", {}, t("考官", "Examiner")), ...rubric.criteria.map((c) => el("th", { class: "num" }, c.name)), el("th", { class: "num" }, t("总分", "Total")))),
      el("tbody", {}, sheets.map((s) => el("tr", { "data-examiner": s.examiner },
        el("td", {}, s.name || s.examiner, s.comment ? el("div", { class: "hint" }, s.comment) : ""),
        ...rubric.criteria.map((c) => el("td", { class: "num" }, s.marks[c.id] !== undefined ? num(s.marks[c.id]) : "—")),
        el("td", { class: "num" }, num(s.total))))))),
    el("p", { class: "mark-final" }, t("最终成绩：", "Final mark: "), el("strong", { id: "marking-final" }, final === null ? "—" : num(final))));
}

// --- saving ------------------------------------------------------------------------------------------

function typed() {
  const { marks } = values();
  $("marking-total").textContent = num(totalOf(marks));
  card.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  setStatus(t("正在输入…", "Typing…"), "dirty");
  clearTimeout(timer);
  timer = setTimeout(() => { saving = save(); }, SAVE_AFTER_MS);
}

function markInvalid(err) {
  const input = err.field && card.querySelector(`[name="${err.field}"]`);
  if (input) input.setAttribute("aria-invalid", "true");
}

async function save() {
  const body = values();
  const text = JSON.stringify(body);
  if (!view || view.mine.state === "sealed" || text === saved) {
    if (text === saved && view && view.mine.state !== "sealed") setStatus(t(`已保存草稿 ${fmtClock(view.mine.saved_at || Date.now() / 1000, { seconds: true, zone: false })}`, "Draft saved"), "saved");
    return;
  }
  setStatus(t("正在保存…", "Saving…"), "saving");
  try {
    const { sheet } = await api("PUT", base(interviewId), body);
    saved = text;
    view.mine = sheet;
    if (JSON.stringify(values()) === text) setStatus(t(`已保存草稿 ${fmtClock(sheet.saved_at, { seconds: true, zone: false })}`, `Draft saved ${fmtClock(sheet.saved_at, { seconds: true, zone: false })}`), "saved");
  } catch (err) {
    markInvalid(err);
    setStatus(t("草稿未保存：", "Draft not saved: ") + err.message, "error");
    if (err.code === "marks_sealed") reload(true); // sealed in another tab
  }
}

async function flush() {
  if (timer) {
    clearTimeout(timer);
    timer = null;
    saving = save();
  }
  await saving;
}

async function seal() {
  await flush();
  const body = values();
  const missing = view.rubric.criteria.filter((c) => body.marks[c.id] === null);
  if (missing.length) {
    setStatus(t(`请为“${missing[0].name}”打分后再提交`, `Mark ${missing[0].name} before submitting`), "error");
    card.querySelector(`[data-criterion="${missing[0].id}"]`).setAttribute("aria-invalid", "true");
    return;
  }
  const total = num(totalOf(body.marks));
  if (!confirm(t(`确认提交评分？总分 ${total} 分。提交后不能修改。`, `Submit your marks? Total ${total}. They cannot change afterwards.`))) return;
  $("marking-seal").disabled = true;
  try {
    view = await api("POST", base(interviewId) + "/seal", body);
    render(true);
  } catch (err) {
    $("marking-seal").disabled = false;
    markInvalid(err);
    setStatus(err.message, "error");
    if (err.code === "marks_sealed") reload(true); // sealed in another tab
    if (err.code === "room_check_unverified") { // room.js offers the override on the room's card
      page.dispatchEvent(new CustomEvent("room-check-needed", { detail: { interview_id: interviewId, name: view.interview.candidate_name } }));
    }
  }
}

// --- the room ----------------------------------------------------------------------------------------

$("marking-pick").addEventListener("change", (ev) => {
  chosen = ev.target.value;
  open(chosen);
});
page.addEventListener("queue-room", (ev) => {
  const current = ev.detail.current ? `${ev.detail.current.account_id}:${ev.detail.current.state}` : "";
  if (current === lastCurrent) return;
  const first = lastCurrent === undefined;
  lastCurrent = current;
  if (first) return; // the first load below has it
  if (ev.detail.current && ev.detail.current.state === "called") chosen = ""; // a new interview: mark it
  loadList();
});
page.addEventListener("marks-status", (ev) => {
  if (ev.detail.interview_id !== interviewId) return;
  reload(false);
});
// leaving or reloading within the save delay: the last keystrokes still reach the server
window.addEventListener("pagehide", () => {
  if (!timer || !view || view.mine.state === "sealed") return;
  clearTimeout(timer);
  timer = null;
  const body = JSON.stringify(values());
  if (body === saved) return;
  fetch(base(interviewId), { method: "PUT", headers: { "Content-Type": "application/json", Accept: "application/json" }, credentials: "same-origin", body, keepalive: true });
});
loadList();
