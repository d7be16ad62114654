// The examiner's rooms: exam, subject, interview length and the room's slots with their bookings.
// Each room links to its live page (/examiner/rooms/<id>): the queue, call next, the videos.
import { api, el, t } from "/static/js/common.js";
import { $, fmtRange, fmtTime } from "/static/js/format.js";


function slotState(slot, now) {
  if (now >= slot.ends_at) return t("已结束", "Ended");
  if (now >= slot.starts_at) return t("进行中", "In progress");
  return t("未开始", "Upcoming");
}

function roomCard(item, now) {
  const slots = [...item.slots].sort((a, b) => a.starts_at - b.starts_at);
  const booked = slots.reduce((n, s) => n + s.booked, 0);
  return el("section", { class: "card room", "data-room-id": item.room.id },
    el("h2", {}, item.room.name),
    el("a", { class: "button", href: `/examiner/rooms/${item.room.id}` }, t("进入考场（候考队列与面试）", "Open the room (queue and interview)")),
    el("ul", { class: "facts" },
      el("li", {}, t("考试：", "Exam: ") + `${item.exam.school} · ${item.exam.name}`),
      el("li", {}, t("科目：", "Subject: ") + (item.subject ? item.subject.name : "—")),
      el("li", {}, t("面试时长：", "Interview length: ") + (item.subject ? `${item.subject.interview_minutes} ${t("分钟", "min")}` : "—")),
      el("li", {}, t(`考官人数：${item.room.examiners.length}`, `Examiners on the panel: ${item.room.examiners.length}`)),
      el("li", {}, t(`已预约考生：${booked} 人`, `Candidates booked: ${booked}`))),
    slots.length
      ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, t("考试时段（北京时间）", "Slot (Beijing time)")), el("th", { class: "num" }, t("已预约 / 容量", "Booked / capacity")),
          el("th", {}, t("状态", "Status")))),
        el("tbody", {}, slots.map((s) => el("tr", {},
          el("td", { class: "nowrap" }, fmtRange(s.starts_at, s.ends_at, { zone: false })),
          el("td", { class: "num" }, `${s.booked} / ${s.capacity}`),
          el("td", {}, slotState(s, now)))))))
      : el("p", { class: "empty" }, t("该考场尚未安排考试时段。", "No slots scheduled for this room yet.")));
}

async function load() {
  try {
    const { rooms } = await api("GET", "/api/examiner/rooms");
    const now = Date.now() / 1000;
    $("room-list").replaceChildren(...(rooms.length ? rooms.map((r) => roomCard(r, now))
      : [el("p", { class: "card empty" }, t("暂无分配给您的考场，请联系学校管理员。", "No room is assigned to you yet; contact the school's admin."))]));
  } catch (err) {
    $("load-error").textContent = err.message;
    $("load-error").hidden = false;
    $("room-list").replaceChildren();
  }
}

// 录制科目评阅: shown when the examiner grades recorded subjects (the page /examiner/grading lists them).
async function loadGrading() {
  try {
    const { subjects } = await api("GET", "/api/grader/subjects");
    $("grading-subjects").replaceChildren(...subjects.map((s) => el("li", {}, `${s.exam.school} · ${s.exam.name} · ${s.name}`)));
    $("grading-entry").hidden = !subjects.length;
  } catch (err) {
    $("load-error").textContent = err.message;
    $("load-error").hidden = false;
  }
}

// 未完成评分: ended interviews of the examiner's rooms without their submitted marks (docs/marking.md).
async function loadUnfinished() {
  try {
    const { interviews } = await api("GET", "/api/examiner/marking/unfinished");
    $("unfinished-count").textContent = String(interviews.length);
    $("unfinished-list").replaceChildren(...interviews.map((i) => el("li", { "data-interview": i.interview_id },
      el("a", { href: i.url }, `${i.candidate_name || "—"} · ${i.room_name}`),
      el("span", { class: "hint" }, ` ${t("结束于", "ended")} ${fmtTime(i.ended_at)}` + (i.draft ? t(" · 已有草稿", " · draft saved") : "")))));
    $("unfinished").hidden = !interviews.length;
  } catch (err) {
    $("load-error").textContent = err.message;
    $("load-error").hidden = false;
  }
}

load();
loadGrading();
loadUnfinished();
