// The candidate's onboarding (docs/design.md): verify identity, confirm the exam, read the notice,
// sign the pledge, book a slot. Every state shown comes from the API; after each action the page reloads it.
import { api, clearErrors, el, showError, t } from "/static/js/common.js";
import { $, fmtLeft, fmtLength, fmtRange, fmtTime } from "/static/js/format.js";

const STATE_TEXT = {
  done: () => t("已完成", "Done"),
  todo: () => t("待完成", "To do"),
  locked: () => t("未开始", "Not yet"),
};

function maskId(number) {
  return number && number.length > 10 ? number.slice(0, 6) + "*".repeat(number.length - 10) + number.slice(-4) : number;
}

function setStep(id, state, why) {
  const step = $(id);
  step.dataset.state = state;
  step.querySelector(".state").textContent = STATE_TEXT[state]();
  step.querySelector(".why")?.remove();
  if (why) step.querySelector("h2").after(el("p", { class: "why hint" }, why));
}

// One block per exam inside a step (most candidates have one exam; the name is shown when there are several).
function examBlock(item, many, ...children) {
  return el("div", { class: "exam-block" }, many ? el("h3", {}, item.exam.name) : "", ...children);
}

function folded(summary, ...children) {
  return el("details", { class: "read" }, el("summary", {}, summary), ...children);
}

function actionButton(label, onClick, cls = "full") {
  const button = el("button", { type: "button", class: cls }, label);
  const box = el("div", {}, button);
  button.addEventListener("click", async () => {
    button.disabled = true;
    box.querySelector(".error")?.remove();
    try {
      await onClick();
      await load();
    } catch (err) {
      box.append(el("p", { class: "error", role: "alert" }, err.message));
      button.disabled = false;
    }
  });
  return box;
}

let me = null;

async function load() {
  $("load-error").hidden = true;
  try {
    me = (await api("GET", "/api/auth/me")).account;
    let exams = null;
    if (me.verified_at) {
      try {
        exams = (await api("GET", "/api/candidate/exams")).exams;
      } catch (err) {
        if (err.code !== "not_verified") throw err;
      }
    }
    const slots = {};
    const recorded = {};
    for (const item of exams || []) {
      if (item.enrolment.pledge_signed_at) {
        slots[item.exam.id] = (await api("GET", `/api/candidate/exams/${item.exam.id}/slots`)).slots;
        if (item.subjects.some(isRecorded)) recorded[item.exam.id] = await recordedOverview(item.exam.id);
      }
    }
    render(exams, slots, recorded);
  } catch (err) {
    $("load-error").textContent = err.message;
    $("load-error").hidden = false;
  }
}

function render(exams, slots, recorded = {}) {
  renderIdentity(exams !== null);
  const list = exams || [];
  const many = list.length > 1;
  renderConfirm(exams, many);
  renderNotice(list, many);
  renderPledge(list, many);
  renderBooking(list, many, slots);
  renderSummary(list, slots);
  renderRecorded(list, recorded);
  renderResultsLinks(list);
}

// 查看考试结果: one link per exam; the results page says 已发布 / 未发布 (docs/marking.md "Results")
function renderResultsLinks(list) {
  const box = $("results-card");
  if (!box) return;
  box.hidden = !list.length;
  box.replaceChildren(el("h2", {}, t("考试结果", "Exam results")),
    ...list.map((item) => el("a", { class: "button full secondary-link", href: `/candidate/exams/${item.exam.id}/results`,
      "data-action": "results" }, (list.length > 1 ? item.exam.name + " · " : "") + t("查看考试结果", "See the results"))));
}

// --- recorded subjects (docs/recorded.md): 去考试 / 去模拟考 / 练习 instead of a booking ---

const isRecorded = (subject) => subject.kind === "recorded";
const interviewSubjects = (item) => item.subjects.filter((s) => !isRecorded(s));

async function recordedOverview(examId) {
  try {
    const data = await api("GET", `/api/candidate/exams/${examId}/recorded`);
    return data.subjects || data.items || (Array.isArray(data) ? data : []);
  } catch (err) {
    return { error: err };
  }
}

const SITTING_TEXT = {
  in_progress: () => t("考试进行中", "In progress"),
  submitted: () => t("已提交", "Submitted"),
  auto_submitted: () => t("已自动提交", "Submitted automatically"),
  absent: () => t("缺考", "Absent"),
  reset: () => t("已重置", "Reset"),
};

function recordedState(view, now) {
  const s = view.subject || view;
  const formal = (view.sittings || {}).formal;
  if (formal && SITTING_TEXT[formal.state]) {
    const text = SITTING_TEXT[formal.state]();
    if (formal.state === "in_progress" && formal.deadline) return { code: "in_progress", text: `${text} · ${t("请在", "submit before")} ${fmtTime(formal.deadline)} ${t("前提交", "")}`.trim() };
    if (formal.state !== "reset") return { code: formal.state, text };
  }
  if (view.submission) return { code: "submitted", text: SITTING_TEXT.submitted() };
  if (now < s.window_opens) return { code: "not_open", text: t(`未开始，${fmtTime(s.window_opens)} 开放，还有 ${fmtLeft(s.window_opens - now)}`, `Opens ${fmtTime(s.window_opens)}, in ${fmtLeft(s.window_opens - now)}`) };
  if (now >= s.window_closes) return { code: "closed", text: t("考试时间已结束", "The exam window has closed") };
  if (view.sittings_left === 0) return { code: "none_left", text: t("考试次数已用完", "No sittings left") };
  return { code: "open", text: t("考试进行中，可进入考试", "Open: you can start") };
}

function renderRecorded(list, recorded) {
  const box = $("recorded-card");
  const ready = list.filter((x) => x.enrolment.pledge_signed_at && x.subjects.some(isRecorded));
  box.hidden = !ready.length;
  if (!ready.length) return;
  const now = Date.now() / 1000;
  box.replaceChildren(el("h2", {}, t("录制考试", "Recorded exams")),
    el("p", { class: "hint" }, t("录制考试无需预约：在考试时间内点击“去考试”，仔细阅读考前须知后进入考场。模拟考和正式考的科目要求、操作流程完全相同。",
      "Recorded subjects need no booking: within the exam window press 'Start the exam' and read the rules. The mock exam follows the same rules and steps.")),
    ...ready.flatMap((item) => {
      const views = recorded[item.exam.id];
      if (views && views.error) return [el("p", { class: "error", role: "alert" }, views.error.message)];
      return item.subjects.filter(isRecorded).map((subject) => {
        const view = (views || []).find((v) => (v.subject || v).id === subject.id) || { subject };
        const s = { ...subject, ...(view.subject || {}) };
        const state = recordedState({ ...view, subject: s }, now);
        const base = `/candidate/exams/${item.exam.id}/recorded/${subject.id}`;
        const open = state.code === "open" || state.code === "in_progress";
        const ended = ["submitted", "auto_submitted", "absent"].includes(state.code);
        const mock = (view.sittings || {}).mock;
        const mockOpen = mock && mock.state === "in_progress";
        const mockLeft = view.mock_left ?? s.mock_tries;
        return el("div", { class: "exam-block subject-recorded", "data-subject": subject.id, "data-state": state.code },
          el("h3", {}, (ready.length > 1 ? item.exam.name + " · " : "") + s.name),
          el("ul", { class: "facts" },
            el("li", {}, t("考试时间：", "Window: ") + fmtRange(s.window_opens, s.window_closes)),
            el("li", {}, t(`可录制 ${s.takes_allowed} 次，单次最长 ${fmtLength(s.take_max_s)}`, `${s.takes_allowed} takes, each at most ${fmtLength(s.take_max_s)}`)
              + (s.time_limit_min ? t(`，考试规定时间 ${s.time_limit_min} 分钟`, `, ${s.time_limit_min} min to submit`) : "")),
            view.sittings_left !== undefined ? el("li", {}, t(`剩余考试次数：${view.sittings_left} 次`, `Sittings left: ${view.sittings_left}`)) : ""),
          el("p", { class: open ? "ok" : "hint", "data-role": "state" }, state.text),
          el("div", { class: "actions" },
            open ? el("a", { class: "button", href: `${base}?mode=formal`, "data-action": "formal" },
              state.code === "in_progress" ? t("继续考试", "Continue the exam") : t("去考试", "Start the exam")) : "",
            ended ? el("a", { class: "button secondary-link", href: `${base}?mode=formal`, "data-action": "result" }, t("查看提交结果", "See the result")) : "",
            mockOpen || (s.mock_tries > 0 && mockLeft > 0) ? el("a", { class: "button secondary-link", href: `${base}?mode=mock`, "data-action": "mock" },
              mockOpen ? t("继续模拟考", "Continue the mock") : t("去模拟考", "Mock exam")) : "",
            el("a", { class: "button secondary-link", href: `${base}?mode=practice`, "data-action": "practice" }, t("练习", "Practice"))));
      });
    }));
}

// Once every subject is booked, the booked slots go to the top: that is what a returning candidate looks for.
function renderSummary(list, slots) {
  const box = $("summary");
  const booked = list.flatMap((item) => item.subjects.filter((s) => item.bookings[s.id]).map((s) =>
    ({ exam: item.exam, subject: s, slot: (slots[item.exam.id] || []).find((x) => x.id === item.bookings[s.id]) })));
  const complete = list.length && list.some((item) => interviewSubjects(item).length)
    && list.every((item) => interviewSubjects(item).every((s) => item.bookings[s.id]));
  box.hidden = !complete;
  if (!complete) return;
  box.replaceChildren(
    el("h2", {}, t("考前任务已完成", "Pre-exam tasks done")),
    el("ul", { class: "facts" }, booked.map((b) => el("li", {},
      el("strong", {}, b.subject.name), " ", b.slot ? fmtRange(b.slot.starts_at, b.slot.ends_at) : ""))),
    el("p", { class: "hint" }, t("预约成功后，请在预约的考试时段内进入考试。进入面试前须完成设备检测和人脸比对。",
      "Enter the exam within your booked slot; a device check and a face check come before the interview.")),
    el("p", { class: "hint" }, t("在预约的考试时段内，点击“开始面试”，系统自动检测电量及设备状态，符合要求方可进入候考。",
      "Within your booked slot press 'Start interview': the battery and device are checked, then you join the waiting queue.")),
    ...list.filter((item) => interviewSubjects(item).length).flatMap((item) => {
      const prefix = list.length > 1 ? item.exam.name + " · " : "";
      const mine = booked.filter((b) => b.exam.id === item.exam.id && b.slot).map((b) => b.slot);
      return [startBlock(item.exam, mine, prefix),
        el("a", { class: "button full secondary-link", href: `/candidate/exams/${item.exam.id}/check` },
          prefix + t("设备检测与人脸比对（考前准备）", "Device check and face check (get ready)"))];
    }));
  tickStart();
}

// "Start interview" is offered when the queue of a booked slot is open (a little before the slot starts);
// before that the candidate sees when it opens, counting down, and the button appears by itself.
function startBlock(exam, slots, prefix) {
  const box = el("div", { class: "start-block", "data-exam": exam.id });
  box.slots = slots;
  box.link = el("a", { class: "button full", href: `/candidate/exams/${exam.id}/interview`, "data-action": "interview" },
    prefix + t("开始面试", "Start interview"));
  box.note = el("p", { class: "hint", role: "status" });
  box.append(box.note, box.link);
  return box;
}

let startTimer = null;

function tickStart() {
  const now = Date.now() / 1000;
  clearTimeout(startTimer);
  document.querySelectorAll(".start-block").forEach((box) => {
    const open = box.slots.find((s) => s.queue_opens_at <= now && now < s.ends_at);
    const next = box.slots.filter((s) => s.queue_opens_at > now).sort((a, b) => a.queue_opens_at - b.queue_opens_at)[0];
    box.dataset.state = open ? "open" : next ? "early" : "over";
    box.link.hidden = !open;
    box.note.className = open ? "ok" : "hint";
    box.note.textContent = open
      ? t(`您预约的时段 ${fmtRange(open.starts_at, open.ends_at)} 已开放候考，请点击“开始面试”。`,
        `Your slot ${fmtRange(open.starts_at, open.ends_at)} is open: press 'Start interview'.`)
      : next ? t(`“开始面试”将于 ${fmtTime(next.queue_opens_at)} 开放（时段开始前 ${Math.round((next.starts_at - next.queue_opens_at) / 60)} 分钟），还有 ${fmtLeft(next.queue_opens_at - now)}。可先进行考前练习和考前准备。`,
        `'Start interview' opens at ${fmtTime(next.queue_opens_at)} (${Math.round((next.starts_at - next.queue_opens_at) / 60)} min before the slot), in ${fmtLeft(next.queue_opens_at - now)}. Practise and get ready meanwhile.`)
        : t("您预约的考试时段已结束。", "Your booked slot is over.");
    // the button appears by itself the moment the queue opens
    if (next && next.queue_opens_at - now < 15) startTimer = setTimeout(tickStart, (next.queue_opens_at - now) * 1000 + 300);
  });
}
setInterval(tickStart, 15000);

function renderIdentity(verified) {
  const form = $("identity-form");
  const done = $("identity-done");
  if (verified) {
    setStep("step-identity", "done");
    form.hidden = true;
    done.hidden = false;
    done.replaceChildren(
      el("div", { class: "done-box" },
        el("div", {}, t("姓名：", "Name: "), el("strong", {}, me.name)),
        el("div", {}, t("身份证号：", "ID number: "), el("span", { class: "mono" }, maskId(me.id_number))),
        el("div", { class: "hint" }, t("认证时间：", "Verified: ") + fmtTime(me.verified_at))),
      el("p", { class: "hint" }, t("认证后不可更改信息。", "Verified details cannot be changed.")));
  } else {
    setStep("step-identity", "todo");
    form.hidden = false;
    done.hidden = true;
    showAppeal();
  }
}

// An appeal filed earlier (this page was reloaded, or the candidate comes back later): say where it stands.
async function showAppeal() {
  const box = $("appeal-box");
  if (!box.hidden && box.firstChild) return; // an appeal flow in progress
  try {
    const { appealStatus, appealView } = await import("/static/js/appeal.js");
    const view = appealView((await appealStatus()).appeal);
    box.hidden = !view;
    box.replaceChildren(...(view ? [view] : []));
    if (view && view.dataset.state === "appeal-open") $("identity-form").hidden = true;
  } catch {
    /* the form still works; the status shows on the next load */
  }
}

function renderConfirm(exams, many) {
  const box = $("exam-list");
  if (exams === null) {
    setStep("step-confirm", "locked", t("请先完成身份认证。认证通过后，这里会出现您待确认的考试。",
      "Verify your identity first; your exams to confirm will then appear here."));
    box.replaceChildren();
    return;
  }
  if (!exams.length) {
    setStep("step-confirm", "todo");
    box.replaceChildren(el("p", { class: "warn" }, t(
      "暂无待确认的考试。如果没有找到需要确认的考试记录，请联系学校核对导入名单是否正确。",
      "No exam to confirm. If you expected one, ask the school to check its imported roster.")));
    return;
  }
  setStep("step-confirm", exams.every((x) => x.enrolment.confirmed_at) ? "done" : "todo");
  box.replaceChildren(...exams.map((item) => el("div", { class: "exam-block" },
    el("h3", {}, item.exam.name),
    el("ul", { class: "facts" },
      el("li", {}, t("学校：", "School: ") + item.exam.school),
      el("li", {}, t("考试科目：", "Subjects: ") + item.subjects.map((s) => (isRecorded(s) ? t(`${s.name}（录制考试）`, `${s.name} (recorded)`)
        : t(`${s.name}（面试 ${s.interview_minutes} 分钟）`, `${s.name} (interview ${s.interview_minutes} min)`))).join(t("、", ", "))),
      el("li", {}, t("预约开放时间：", "Booking window: ") + fmtRange(item.exam.booking_opens, item.exam.booking_closes))),
    item.enrolment.confirmed_at
      ? el("p", { class: "ok" }, t("已确认考试 ", "Confirmed ") + fmtTime(item.enrolment.confirmed_at))
      : actionButton(t("确认考试", "Confirm exam"), () => api("POST", `/api/candidate/exams/${item.exam.id}/confirm`)))));
}

function renderNotice(list, many) {
  const ready = list.filter((x) => x.enrolment.confirmed_at);
  const box = $("notice-list");
  if (!ready.length) {
    setStep("step-notice", "locked", t("请先确认考试。", "Confirm the exam first."));
    box.replaceChildren();
    return;
  }
  setStep("step-notice", ready.every((x) => x.enrolment.notice_read_at) && ready.length === list.length ? "done" : "todo");
  box.replaceChildren(...ready.map((item) => {
    const text = el("div", { class: "notice", tabindex: "0" }, item.exam.notice || t("（学校未填写考前须知）", "(The school has not written a notice.)"));
    return item.enrolment.notice_read_at
      ? examBlock(item, many, el("p", { class: "ok" }, t("已阅读 ", "Read ") + fmtTime(item.enrolment.notice_read_at)),
        folded(t("再次查看考前须知", "Show the notice again"), text))
      : examBlock(item, many, text,
        actionButton(t("我已阅读", "I have read it"), () => api("POST", `/api/candidate/exams/${item.exam.id}/notice`)));
  }));
}

function renderPledge(list, many) {
  const ready = list.filter((x) => x.enrolment.notice_read_at);
  const box = $("pledge-list");
  if (!ready.length) {
    setStep("step-pledge", "locked", t("请先完成考前阅读。", "Read the pre-exam notice first."));
    box.replaceChildren();
    return;
  }
  setStep("step-pledge", ready.every((x) => x.enrolment.pledge_signed_at) && ready.length === list.length ? "done" : "todo");
  box.replaceChildren(...ready.map((item) => {
    const text = el("div", { class: "notice", tabindex: "0" }, item.exam.pledge || t("（学校未填写承诺书内容）", "(The school has not written a pledge.)"));
    if (item.enrolment.pledge_signed_at) {
      return examBlock(item, many, el("p", { class: "ok" }, t("已签署 ", "Signed ") + fmtTime(item.enrolment.pledge_signed_at)),
        folded(t("查看承诺书", "Show the pledge"), text));
    }
    const box = el("input", { type: "checkbox", name: "agree", value: "1" });
    const check = el("label", { class: "check" }, box, t("我已阅读并同意", "I have read and agree"));
    const button = el("button", { type: "submit", class: "full" }, t("签署承诺书", "Sign the pledge"));
    const form = el("form", { class: "pledge-form", novalidate: "" }, check, button);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      button.disabled = true;
      try {
        await api("POST", `/api/candidate/exams/${item.exam.id}/pledge`, { agree: box.checked });
        await load();
      } catch (err) {
        // The error goes under the checkbox line (showError would put it between the box and its text).
        if (err.field === "agree") box.setAttribute("aria-invalid", "true");
        check.after(el("p", { class: "error", role: "alert" }, err.message));
        button.disabled = false;
      }
    });
    return examBlock(item, many, text, form);
  }));
}

function windowState(exam) {
  const now = Date.now() / 1000;
  if (now < exam.booking_opens) return t("预约尚未开放，开放时间：", "Booking is not open yet; it opens ") + fmtTime(exam.booking_opens);
  if (now >= exam.booking_closes) return t("预约已截止，错过开放时间将无法预约。", "Booking has closed.");
  return "";
}

function renderBooking(list, many, slots) {
  const ready = list.filter((x) => x.enrolment.pledge_signed_at);
  const box = $("booking-list");
  if (!ready.length) {
    setStep("step-booking", "locked", t("请先签署诚信承诺书。", "Sign the integrity pledge first."));
    box.replaceChildren();
    return;
  }
  const allBooked = ready.length === list.length && ready.every((x) => interviewSubjects(x).every((s) => x.bookings[s.id]));
  setStep("step-booking", allBooked ? "done" : "todo");
  box.replaceChildren(...ready.map((item) => {
    const closed = windowState(item.exam);
    const parts = [el("p", { class: "hint" }, t("预约开放时间：", "Booking window: ") + fmtRange(item.exam.booking_opens, item.exam.booking_closes))];
    if (closed) parts.push(el("p", { class: "warn" }, closed));
    for (const subject of interviewSubjects(item)) {
      parts.push(subjectSlots(item, subject, slots[item.exam.id] || [], closed));
    }
    if (item.subjects.some(isRecorded)) {
      parts.push(el("p", { class: "hint" }, t("录制考试科目（", "Recorded subjects (") + item.subjects.filter(isRecorded).map((s) => s.name).join(t("、", ", "))
        + t("）无需预约，请在上方“录制考试”中进入。", ") need no booking: start them under 'Recorded exams' above.")));
    }
    return examBlock(item, many, ...parts);
  }));
}

function subjectSlots(item, subject, allSlots, closed) {
  const head = el("h4", {}, `${subject.name} · ${t("面试", "interview")} ${subject.interview_minutes} ${t("分钟", "min")}`);
  const bookedId = item.bookings[subject.id];
  const cancelled = (item.cancellations || {})[subject.id];
  const cancelNote = cancelled ? el("div", { class: "warn", "data-cancelled": cancelled.slot_id, role: "alert" },
    el("strong", {}, t(`您预约的时段 ${fmtRange(cancelled.starts_at, cancelled.ends_at)} 已被学校取消`,
      `The school cancelled your booking ${fmtRange(cancelled.starts_at, cancelled.ends_at)}`)),
    el("p", {}, t("原因：", "Reason: ") + (cancelled.reason || t("未说明", "not given"))),
    el("p", {}, t("请重新选择时段预约。", "Please book another slot."))) : "";
  if (bookedId) {
    const slot = allSlots.find((s) => s.id === bookedId);
    return el("div", { class: "subject-slots" }, head,
      el("div", { class: "done-box" },
        el("strong", {}, t("已预约：", "Booked: ") + (slot ? fmtRange(slot.starts_at, slot.ends_at) : bookedId)),
        el("div", { class: "hint" }, t("预约成功后，请在预约的考试时段内进入考试。预约完成后不可修改。",
          "Enter the exam within your booked slot. The booking cannot be changed."))));
  }
  const now = Date.now() / 1000;
  const mine = allSlots.filter((s) => s.subject_id === subject.id).sort((a, b) => a.starts_at - b.starts_at);
  if (!mine.length) {
    return el("div", { class: "subject-slots" }, head, cancelNote, el("p", { class: "empty" },
      t("学校尚未发布该科目的考试时段。", "The school has not published slots for this subject yet.")));
  }
  const form = el("form", { class: "booking-form", novalidate: "" });
  const late = (item.exam.late_booking_min || 0) * 60; // the school lets a started slot be booked while this much remains
  for (const slot of mine) {
    const started = slot.starts_at <= now;
    const lateOk = started && late > 0 && slot.ends_at - now >= late;
    const off = Boolean(closed) || (started && !lateOk) || slot.remaining <= 0;
    const status = started && !lateOk ? t("已开始", "started") : slot.remaining <= 0 ? t("已约满", "full")
      : (lateOk ? t("进行中，可预约 · ", "running, bookable · ") : "")
        + t(`剩余 ${slot.remaining} 个名额`, `${slot.remaining} place${slot.remaining === 1 ? "" : "s"} left`);
    form.append(el("label", { class: "slot-option" + (off ? " off" : "") },
      el("input", { type: "radio", name: "slot_id", value: slot.id, disabled: off }),
      el("span", { class: "when" }, fmtRange(slot.starts_at, slot.ends_at)),
      el("span", { class: "badge" }, status)));
  }
  const button = el("button", { type: "submit", class: "full", disabled: Boolean(closed) }, t("确认预约", "Book this slot"));
  form.append(button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const picked = form.querySelector("input[name=slot_id]:checked");
    const fail = (message) => button.before(el("p", { class: "error", role: "alert" }, message));
    if (!picked) return fail(t("请选择一个考试时段", "Choose a time slot"));
    const slot = mine.find((s) => s.id === picked.value);
    const question = t(`确认预约 ${subject.name}：${fmtRange(slot.starts_at, slot.ends_at)}？\n预约完成后不可修改。`,
      `Book ${subject.name}: ${fmtRange(slot.starts_at, slot.ends_at)}?\nA booking cannot be changed afterwards.`);
    if (!window.confirm(question)) return;
    button.disabled = true;
    try {
      await api("POST", `/api/candidate/exams/${item.exam.id}/bookings`, { slot_id: slot.id });
      await load();
      // the next step (start the interview, get ready) is at the top of a long page: bring it into view
      const next = $("summary").hidden ? $("step-booking") : $("summary");
      next.scrollIntoView({ behavior: "smooth", block: "start" });
      next.focus({ preventScroll: true });
    } catch (err) {
      fail(err.message);
      button.disabled = false;
    }
  });
  return el("div", { class: "subject-slots" }, head, cancelNote, form);
}

// Verification; an ID number that another account verified first opens the appeal (去申诉) below the form.
$("identity-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const button = form.querySelector("[type=submit]");
  const values = Object.fromEntries(new FormData(form));
  const pair = { name: values.name.trim(), id_number: values.id_number.trim().toUpperCase() };
  button.disabled = true;
  $("appeal-box").hidden = true;
  try {
    await api("POST", "/api/candidate/identity", pair);
    clearErrors(form);
    await load();
  } catch (err) {
    showError(form, err);
    if (err.code === "id_claimed") {
      const { mountAppeal } = await import("/static/js/appeal.js");
      $("appeal-box").hidden = false;
      mountAppeal($("appeal-box"), pair, { onFiled: () => { form.hidden = true; } });
      $("appeal-box").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  } finally {
    button.disabled = false;
  }
});
load();
