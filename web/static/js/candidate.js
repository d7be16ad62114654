// The candidate's onboarding (seed 003, 2-3): verify identity, confirm the exam, read the notice,
// sign the pledge, book a slot. Every state shown comes from the API; after each action the page reloads it.
import { api, clearErrors, el, fmtTime, jsonForm, t } from "/static/js/common.js";

const $ = (id) => document.getElementById(id);
const STATE_TEXT = {
  done: () => t("已完成", "Done"),
  todo: () => t("待完成", "To do"),
  locked: () => t("未开始", "Not yet"),
};

function clock(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });
}
const sameDay = (a, b) => fmtTime(a).slice(0, 10) === fmtTime(b).slice(0, 10);
export const fmtRange = (a, b) => `${fmtTime(a)} – ${sameDay(a, b) ? clock(b) : fmtTime(b)}`;

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
    for (const item of exams || []) {
      if (item.enrolment.pledge_signed_at) {
        slots[item.exam.id] = (await api("GET", `/api/candidate/exams/${item.exam.id}/slots`)).slots;
      }
    }
    render(exams, slots);
  } catch (err) {
    $("load-error").textContent = err.message;
    $("load-error").hidden = false;
  }
}

function render(exams, slots) {
  renderIdentity(exams !== null);
  const list = exams || [];
  const many = list.length > 1;
  renderConfirm(exams, many);
  renderNotice(list, many);
  renderPledge(list, many);
  renderBooking(list, many, slots);
  renderSummary(list, slots);
}

// Once every subject is booked, the booked slots go to the top: that is what a returning candidate looks for.
function renderSummary(list, slots) {
  const box = $("summary");
  const booked = list.flatMap((item) => item.subjects.filter((s) => item.bookings[s.id]).map((s) =>
    ({ exam: item.exam, subject: s, slot: (slots[item.exam.id] || []).find((x) => x.id === item.bookings[s.id]) })));
  const complete = list.length && list.every((item) => item.subjects.every((s) => item.bookings[s.id]));
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
    ...list.flatMap((item) => [
      el("a", { class: "button full", href: `/candidate/exams/${item.exam.id}/interview`, "data-action": "interview" },
        (list.length > 1 ? item.exam.name + " · " : "") + t("开始面试", "Start interview")),
      el("a", { class: "button full secondary-link", href: `/candidate/exams/${item.exam.id}/check` },
        (list.length > 1 ? item.exam.name + " · " : "") + t("设备检测与人脸比对（考前准备）", "Device check and face check (get ready)"))]));
}

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
      el("li", {}, t("考试科目：", "Subjects: ") + item.subjects.map((s) =>
        t(`${s.name}（面试 ${s.interview_minutes} 分钟）`, `${s.name} (interview ${s.interview_minutes} min)`)).join(t("、", ", "))),
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
  const allBooked = ready.length === list.length && ready.every((x) => x.subjects.every((s) => x.bookings[s.id]));
  setStep("step-booking", allBooked ? "done" : "todo");
  box.replaceChildren(...ready.map((item) => {
    const closed = windowState(item.exam);
    const parts = [el("p", { class: "hint" }, t("预约开放时间：", "Booking window: ") + fmtRange(item.exam.booking_opens, item.exam.booking_closes))];
    if (closed) parts.push(el("p", { class: "warn" }, closed));
    for (const subject of item.subjects) {
      parts.push(subjectSlots(item, subject, slots[item.exam.id] || [], closed));
    }
    return examBlock(item, many, ...parts);
  }));
}

function subjectSlots(item, subject, allSlots, closed) {
  const head = el("h4", {}, `${subject.name} · ${t("面试", "interview")} ${subject.interview_minutes} ${t("分钟", "min")}`);
  const bookedId = item.bookings[subject.id];
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
    return el("div", { class: "subject-slots" }, head, el("p", { class: "empty" },
      t("学校尚未发布该科目的考试时段。", "The school has not published slots for this subject yet.")));
  }
  const form = el("form", { class: "booking-form", novalidate: "" });
  for (const slot of mine) {
    const started = slot.starts_at <= now;
    const off = Boolean(closed) || started || slot.remaining <= 0;
    const status = started ? t("已开始", "started") : slot.remaining <= 0 ? t("已约满", "full")
      : t(`剩余 ${slot.remaining} 个名额`, `${slot.remaining} place${slot.remaining === 1 ? "" : "s"} left`);
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
    } catch (err) {
      fail(err.message);
      button.disabled = false;
    }
  });
  return el("div", { class: "subject-slots" }, head, form);
}

jsonForm($("identity-form"), "/api/candidate/identity", () => load(),
  (b) => ({ name: b.name.trim(), id_number: b.id_number.trim().toUpperCase() }));
load();
