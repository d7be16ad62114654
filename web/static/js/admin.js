// School admin: exams (create; subjects, rooms, slots, roster import, bookings, audit) and staff accounts.
// Everything shown is read from the API; after a change the affected part is read again.
import { api, clearErrors, el, fmtClock, fmtLength, fmtRange, fmtTime, jsonForm, label, showError, t } from "/static/js/common.js";
import { auditView, roleLabel } from "/static/js/proctor.js";

// Times in tables: the header says 北京时间 once ({zone: false} on the values); elsewhere each value says it.
const $ = (id) => document.getElementById(id);
const NO_ZONE = { zone: false };
const toInt = (v) => (v === "" || v === undefined ? null : Number.isInteger(Number(v)) ? Number(v) : v);
const noEmpty = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ""));
const row = (...cells) => el("tr", {}, ...cells);
const emptyRow = (cols, text) => row(el("td", { colspan: String(cols), class: "empty" }, text));

function fail(err) {
  $("load-error").textContent = err.message;
  $("load-error").hidden = false;
}

let me = null;
let names = {};          // account id -> name (for rooms, bookings, audit)
let current = null;      // { exam, subjects, rooms, slots } of the selected exam

// --- exams -------------------------------------------------------------------------------------

let examNames = {};      // exam id -> name (audit details)

async function loadExams() {
  const { exams } = await api("GET", "/api/admin/exams");
  examNames = Object.fromEntries(exams.map((x) => [x.id, x.name]));
  const body = $("exam-table").tBodies[0];
  body.replaceChildren(...(exams.length ? exams.map((x) => {
    const tr = row(el("td", {}, x.name), el("td", {}, x.school),
      el("td", { class: "nowrap" }, fmtRange(x.booking_opens, x.booking_closes, NO_ZONE)),
      el("td", { class: "mono" }, x.id),
      el("td", {}, el("button", { type: "button", class: "small", onclick: () => selectExam(x.id) }, t("管理", "Manage"))));
    tr.dataset.exam = x.id;
    if (current && current.exam.id === x.id) tr.className = "selected";
    return tr;
  }) : [emptyRow(5, t("还没有考试，请先新建考试。", "No exams yet; create one below."))]));
  if (!exams.length) $("create-exam").open = true;
  return exams;
}

function subjectRow(name = "", minutes = 10) {
  const line = el("div", { class: "subject-row" },
    el("label", {}, t("科目名称", "Subject name"), el("input", { name: "subject_name", maxlength: "50", value: name })),
    el("label", {}, t("面试时长（分钟）", "Interview (min)"),
      el("input", { name: "interview_minutes", type: "number", min: "1", max: "240", value: String(minutes) })),
    el("button", { type: "button", class: "secondary small", title: t("删除该科目", "Remove"),
      onclick: () => line.remove() }, "✕"));
  $("subject-rows").append(line);
}

function setupExamForm() {
  subjectRow();
  $("add-subject-row").addEventListener("click", () => subjectRow());
  const form = $("exam-form");
  jsonForm(form, "/api/admin/exams", async ({ exam }) => {
    form.reset();
    $("subject-rows").replaceChildren();
    subjectRow();
    $("create-exam").open = false;
    await loadExams();
    await selectExam(exam.id);
  }, (b) => ({
    school: b.school, name: b.name, booking_opens: b.booking_opens, booking_closes: b.booking_closes,
    notice: b.notice, pledge: b.pledge,
    subjects: [...$("subject-rows").children]
      .map((r) => ({ name: r.querySelector("[name=subject_name]").value.trim(),
        interview_minutes: toInt(r.querySelector("[name=interview_minutes]").value) }))
      .filter((s) => s.name),
  }));
}

async function selectExam(examId) {
  const data = await api("GET", `/api/admin/exams/${encodeURIComponent(examId)}`);
  current = data;
  history.replaceState(null, "", `?exam=${encodeURIComponent(examId)}`);
  document.querySelectorAll("#exam-table tbody tr").forEach((tr) => { tr.className = tr.dataset.exam === examId ? "selected" : ""; });
  $("exam-detail").hidden = false;
  renderExam();
  $("audit-csv").href = `/api/admin/exams/${encodeURIComponent(examId)}/audit.csv`;
  await Promise.all([loadExaminers(), loadRoster(), loadBookings(), loadAudit(), loadRecordings()]);
}

async function reloadExam() {
  current = await api("GET", `/api/admin/exams/${encodeURIComponent(current.exam.id)}`);
  renderExam();
}

const subjectName = (id) => current.subjects.find((s) => s.id === id)?.name || id;
const roomName = (id) => current.rooms.find((r) => r.id === id)?.name || id;

function renderExam() {
  const { exam, subjects, rooms, slots } = current;
  $("exam-title").textContent = t(`${exam.name}（${exam.school}）`, `${exam.name} (${exam.school})`);
  $("exam-facts").replaceChildren(
    el("li", {}, t("考试编号：", "Exam id: "), el("span", { class: "mono" }, exam.id)),
    el("li", {}, t("预约开放时间：", "Booking window: ") + fmtRange(exam.booking_opens, exam.booking_closes)),
    el("li", {}, t("考前须知：", "Notice: ") + (exam.notice ? t(`${exam.notice.length} 字`, `${exam.notice.length} characters`) : t("未填写", "empty"))
      + t("；诚信承诺书：", "; pledge: ") + (exam.pledge ? t(`${exam.pledge.length} 字`, `${exam.pledge.length} characters`) : t("未填写", "empty"))));

  $("subject-table").tBodies[0].replaceChildren(...(subjects.length
    ? subjects.map((s) => row(el("td", {}, s.name), el("td", { class: "num" }, String(s.interview_minutes))))
    : [emptyRow(2, t("暂无科目", "No subjects"))]));

  $("room-table").tBodies[0].replaceChildren(...(rooms.length
    ? rooms.map((r) => row(el("td", {}, r.name), el("td", {}, subjectName(r.subject_id)),
      el("td", {}, r.examiners.map((id) => names[id] || id).join(t("、", ", ")) || t("未指定", "none"))))
    : [emptyRow(3, t("暂无考场", "No rooms"))]));
  const subjectSelect = $("room-form").elements.subject_id;
  subjectSelect.replaceChildren(...subjects.map((s) => el("option", { value: s.id }, s.name)));

  const sorted = [...slots].sort((a, b) => a.starts_at - b.starts_at || roomName(a.room_id).localeCompare(roomName(b.room_id)));
  $("slot-table").tBodies[0].replaceChildren(...(sorted.length ? sorted.map(slotRow) : [emptyRow(5, t("暂无考试时段", "No slots"))]));
  const roomSelect = $("slot-form").elements.room_id;
  const keep = roomSelect.value;
  roomSelect.replaceChildren(...rooms.map((r) => el("option", { value: r.id, selected: r.id === keep },
    t(`${r.name}（${subjectName(r.subject_id)}）`, `${r.name} (${subjectName(r.subject_id)})`))));
}

function slotRow(slot) {
  const form = el("form", { class: "inline-form", novalidate: "" },
    el("input", { name: "capacity", type: "number", min: "1", max: "10000", value: String(slot.capacity),
      "aria-label": t("容量", "Capacity") }),
    el("button", { type: "submit", class: "small secondary" }, t("保存", "Save")));
  jsonForm(form, `/api/admin/exams/${current.exam.id}/slots/${slot.id}`, async () => {
    await reloadExam();
  }, (b) => ({ capacity: toInt(b.capacity) }), "PATCH");
  return row(el("td", { class: "nowrap" }, fmtRange(slot.starts_at, slot.ends_at, NO_ZONE)), el("td", {}, subjectName(slot.subject_id)),
    el("td", {}, roomName(slot.room_id)), el("td", { class: "num" }, String(slot.booked)), el("td", {}, form));
}

// --- subjects, rooms, slots --------------------------------------------------------------------

async function loadExaminers() {
  const { users } = await api("GET", "/api/admin/users?role=examiner");
  const box = $("examiner-choices").querySelector(".choices");
  box.replaceChildren(...(users.length ? users.filter((u) => !u.disabled).map((u) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: u.id }), `${u.name || u.username}${u.username ? t(`（${u.username}）`, ` (${u.username})`) : ""}`))
    : [el("p", { class: "empty" }, t("还没有考官账号，请在下方“账号管理”中创建。", "No examiner accounts yet; create them under Accounts."))]));
}

function setupDetailForms() {
  const subjectForm = $("subject-form");
  jsonForm(subjectForm, () => `/api/admin/exams/${current.exam.id}/subjects`, async () => {
    subjectForm.elements.name.value = "";
    await reloadExam();
    await loadAudit();
  }, (b) => ({ name: b.name, interview_minutes: toInt(b.interview_minutes) }));

  const roomForm = $("room-form");
  jsonForm(roomForm, () => `/api/admin/exams/${current.exam.id}/rooms`, async () => {
    roomForm.elements.name.value = "";
    roomForm.querySelectorAll("#examiner-choices input[type=checkbox]").forEach((c) => { c.checked = false; });
    await reloadExam();
    await loadAudit();
  }, (b) => ({
    name: b.name, subject_id: b.subject_id,
    examiners: [...roomForm.querySelectorAll("#examiner-choices input[type=checkbox]:checked")].map((c) => c.value),
  }));

  const slotForm = $("slot-form");
  jsonForm(slotForm, () => `/api/admin/exams/${current.exam.id}/slots`, async () => {
    // Offer the next slot of the same length right after this one.
    const start = new Date(slotForm.elements.starts_at.value);
    const end = new Date(slotForm.elements.ends_at.value);
    if (!isNaN(start) && !isNaN(end) && end > start) {
      const next = new Date(end.getTime() + (end - start));
      slotForm.elements.starts_at.value = slotForm.elements.ends_at.value;
      slotForm.elements.ends_at.value = localInput(next);
    }
    await reloadExam();
    await loadAudit();
  }, (b) => ({ room_id: b.room_id, starts_at: b.starts_at, ends_at: b.ends_at, capacity: toInt(b.capacity) }));
}

function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// --- roster ------------------------------------------------------------------------------------

function upload(path, data, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(body.error || { code: `http_${xhr.status}`, message: t("请求失败", "Request failed") + ` (${xhr.status})` });
    };
    xhr.onerror = () => reject({ code: "network", message: t("网络异常，请检查网络后重试", "Network error, check your connection and retry") });
    xhr.send(data);
  });
}

const STATUS = { imported: ["已导入", "imported"], updated: ["已更新", "updated"], rejected: ["未通过", "rejected"] };

function setupRosterForm() {
  const form = $("roster-form");
  const progress = $("roster-progress");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const file = form.elements.file.files[0];
    if (!file) return showError(form, { field: "file", message: t("请上传名单 CSV 文件", "Upload the roster CSV file") });
    const data = new FormData();
    data.append("file", file, file.name);
    const photos = form.elements.photos.files[0];
    if (photos) data.append("photos", photos, photos.name);
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    progress.hidden = false;
    progress.textContent = t("上传中…", "Uploading…");
    $("roster-report").replaceChildren();
    // The server reports how far it is (ID photos are checked for a face, ~0.1 s each) under this id.
    const importId = "imp_" + [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");
    let uploaded = false;
    const poll = setInterval(async () => {
      if (!uploaded) return;
      const p = await api("GET", `/api/admin/imports/${importId}`).catch(() => null);
      if (p && p.stage === "faces") progress.textContent = `${t("正在检测证件照人脸", "Checking ID photos for a face")} ${p.done}/${p.total}`;
      else if (p && p.stage === "writing") progress.textContent = t("正在写入名单…", "Saving the roster…");
    }, 1000);
    try {
      const report = await upload(`/api/admin/exams/${current.exam.id}/roster?import_id=${importId}`, data, (f) => {
        uploaded = f >= 1;
        progress.textContent = f < 1 ? `${t("上传中…", "Uploading…")} ${Math.round(f * 100)}%` : t("上传完成，正在校验名单…", "Uploaded, checking the roster…");
      });
      clearInterval(poll);
      progress.hidden = true;
      renderReport(report);
      await Promise.all([loadRoster(), loadAudit()]);
    } catch (err) {
      clearInterval(poll);
      progress.hidden = true;
      showError(form, err.field ? err : { ...err, field: err.code === "photos_archive" ? "photos" : "file" });
    } finally {
      button.disabled = false;
    }
  });
}

function renderReport(report) {
  const warnings = report.warnings || 0;
  const summary = el("p", { class: report.rejected || warnings ? "warn" : "done-box" }, t(
    `新导入 ${report.imported} 人，更新 ${report.updated} 人，未通过 ${report.rejected} 行`,
    `${report.imported} imported, ${report.updated} updated, ${report.rejected} rejected`)
    + (warnings ? t(`，其中 ${warnings} 人有警告（已导入）`, `; ${warnings} imported with a warning`) : "") + t("。", ".")
    + (report.rejected ? t(" 未通过的行没有写入，请修改后重新导入。", " Rejected rows were not written; fix them and import again.") : "")
    + (warnings ? t(" 有警告的考生没有证件照，将无法通过人脸比对：请补充证件照后重新导入。",
      " Candidates with a warning have no ID photo and cannot pass the face check: add their photos and import again.") : ""));
  const table = el("table", { id: "report-table" },
    el("thead", {}, row(el("th", { class: "num" }, t("行号", "Line")), el("th", {}, t("结果", "Status")),
      el("th", {}, t("证件号码", "ID number")), el("th", {}, t("姓名", "Name")), el("th", {}, t("原因", "Reasons")))),
    el("tbody", {}, report.rows.map((r) => {
      const tr = row(
        el("td", { class: "num" }, String(r.line)),
        el("td", { class: r.warning ? "status-warning" : `status-${r.status}` },
          t(...(STATUS[r.status] || [r.status, r.status])) + (r.warning ? t("（有警告）", " (warning)") : "")),
        el("td", { class: "mono" }, r.id_number), el("td", {}, r.name),
        el("td", {}, r.reasons.map((x) => el("span", { class: x.level === "warning" ? "reason-warning" : "", "data-code": x.code },
          (x.level === "warning" ? "⚠ " : "") + x.message)).flatMap((node, i) => (i ? [t("；", "; "), node] : [node]))));
      if (r.warning) tr.dataset.warning = "true";
      return tr;
    })));
  $("roster-report").replaceChildren(el("h3", {}, t("导入结果", "Import report")), summary, el("div", { class: "table-wrap" }, table));
}

async function loadRoster() {
  const { roster } = await api("GET", `/api/admin/exams/${current.exam.id}/roster`);
  $("roster-count").textContent = String(roster.length);
  const noPhoto = roster.filter((e) => !e.photo_sha256).length;
  $("roster-no-photo").hidden = !noPhoto;
  $("roster-no-photo").textContent = t(`${noPhoto} 人没有证件照，将无法通过人脸比对`, `${noPhoto} without an ID photo: they cannot pass the face check`);
  $("roster-table").tBodies[0].replaceChildren(...(roster.length ? roster.map((e) => row(
    el("td", {}, e.name), el("td", { class: "mono" }, e.id_number), el("td", {}, e.phone),
    el("td", {}, e.subjects.map(subjectName).join(t("、", ", "))),
    el("td", {}, e.photo_sha256 ? el("a", { href: `/api/staff/photos/${e.photo_sha256}`, target: "_blank", rel: "noopener" }, t("查看", "View"))
      : el("span", { class: "reason-warning", "data-code": "row_no_photo" }, t("⚠ 无证件照，无法人脸比对", "⚠ none: no face check possible"))),
    el("td", { class: "nowrap" }, e.updated_at ? fmtTime(e.updated_at, NO_ZONE) : "")))
    : [emptyRow(6, t("名单为空，请导入考生名单。", "The roster is empty; import it above."))]));
}

// --- bookings ----------------------------------------------------------------------------------

async function loadBookings() {
  const { bookings } = await api("GET", `/api/admin/exams/${current.exam.id}/bookings`);
  bookings.sort((a, b) => a.starts_at - b.starts_at || a.booked_at - b.booked_at);
  const body = $("booking-table").tBodies[0];
  body.replaceChildren();
  if (!bookings.length) return body.append(emptyRow(7, t("暂无预约", "No bookings yet")));
  for (const b of bookings) {
    const cancelRow = el("tr", { class: "sub", hidden: "" });
    const toggle = el("button", { type: "button", class: "small secondary", onclick: () => {
      cancelRow.hidden = !cancelRow.hidden;
      if (!cancelRow.hidden) cancelRow.querySelector("input").focus();
    } }, t("取消预约", "Cancel booking"));
    const form = el("form", { class: "inline-form", novalidate: "" },
      el("label", {}, t("取消原因（必填）", "Reason (required)")),
      el("input", { name: "reason", maxlength: "500", required: "", size: "40" }),
      el("button", { type: "submit", class: "small danger" }, t("确认取消", "Confirm cancellation")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const reason = form.elements.reason.value.trim();
      if (!reason) return showError(form, { field: "reason", message: t("请填写原因", "A reason is required") });
      if (!window.confirm(t(`确定取消 ${b.name} 的预约（${fmtRange(b.starts_at, b.ends_at)}）？`,
        `Cancel the booking of ${b.name} (${fmtRange(b.starts_at, b.ends_at)})?`))) return;
      try {
        await api("POST", `/api/admin/exams/${current.exam.id}/bookings/cancel`,
          { slot_id: b.slot_id, account_id: b.account_id, reason });
        await Promise.all([loadBookings(), reloadExam(), loadAudit()]);
      } catch (err) {
        showError(form, err);
      }
    });
    cancelRow.append(el("td", { colspan: "7" }, form));
    body.append(row(el("td", {}, b.name || b.account_id), el("td", { class: "mono" }, b.id_number),
      el("td", {}, subjectName(b.subject_id)), el("td", {}, roomName(b.room_id)),
      el("td", { class: "nowrap" }, fmtRange(b.starts_at, b.ends_at, NO_ZONE)), el("td", { class: "nowrap" }, fmtTime(b.booked_at, NO_ZONE)),
      el("td", {}, toggle)), cancelRow);
  }
}

// --- audit -------------------------------------------------------------------------------------

async function loadAudit() {
  const examId = current.exam.id;
  const labels = { ...names, ...examNames };
  for (const s of current.subjects) labels[s.id] = s.name;
  for (const r of current.rooms) labels[r.id] = r.name;
  for (const s of current.slots) labels[s.id] = `${roomName(s.room_id)} ${fmtRange(s.starts_at, s.ends_at)}`;
  await auditView($("audit-log"), examId, {
    names: labels,
    onSubject: (id) => { location.href = `/proctor?exam=${encodeURIComponent(examId)}&subject=${encodeURIComponent(id)}`; },
  });
}

// --- recordings --------------------------------------------------------------------------------

const mb = (bytes) => `${((bytes || 0) / 1024 / 1024).toFixed(1)} MB`;

async function loadRecordings() {
  const box = $("recordings-error");
  try {
    const { recordings } = await api("GET", `/api/admin/exams/${encodeURIComponent(current.exam.id)}/recordings`);
    box.hidden = true;
    $("recordings-table").tBodies[0].replaceChildren(...(recordings.length ? recordings.map(recordingRow)
      : [emptyRow(6, t("暂无录像", "No recordings yet"))]));
  } catch (err) {
    box.textContent = err.message;
    box.hidden = false;
  }
}

// A file as people name it: "张小艺 · 视频 · 第 1 段 · 12:03 开始 · 4分12秒" (the file name stays in the link).
function trackTitle(r, tr, { zone = false } = {}) {
  const who = tr.participant_name || (tr.label === "aux" ? r.candidate_name : "") || t("参与者", "participant");
  const parts = [tr.label === "aux" ? `${who}（${label("participant_kind_aux")}）` : who, label(`track_kind_${tr.kind}`, tr.kind)];
  if (tr.segment) parts.push(t(`第 ${tr.segment} 段`, `part ${tr.segment}`));
  if (tr.started_at) {
    const clock = fmtClock(tr.started_at, { zone: false });
    parts.push(zone ? t(`北京时间 ${clock} 开始`, `from ${clock} Beijing time`) : t(`${clock} 开始`, `from ${clock}`));
  }
  const length = tr.duration_s || (tr.started_at && tr.ended_at ? tr.ended_at - tr.started_at : 0);
  if (length) parts.push(fmtLength(length));
  return parts.join(" · ");
}

function recordingRow(r) {
  const files = el("ul", { class: "facts" }, r.tracks.map((tr) => el("li", { "data-file": tr.file, title: tr.file },
    `${trackTitle(r, tr)} · ${mb(tr.size)} `,
    el("button", { type: "button", class: "link", onclick: () => play(r, tr) }, t("播放", "Play")), " · ",
    el("a", { href: `${tr.url}?download=1`, download: tr.file }, t("下载", "Download")),
    tr.sha256 ? el("div", { class: "hint mono" }, "SHA-256 " + tr.sha256) : "")));
  const state = label(`rec_state_${r.state}`, r.state);
  return row(el("td", { class: "nowrap" }, r.started_at ? fmtTime(r.started_at, NO_ZONE) : ""),
    el("td", {}, r.candidate_name || r.account_id), el("td", {}, r.room_name || ""),
    el("td", { class: r.state === "failed" ? "error" : "" }, state), el("td", { class: "num" }, r.duration_s ? fmtLength(r.duration_s) : "—"),
    el("td", {}, files));
}

function play(r, tr) {
  const box = $("player");
  box.hidden = false;
  const media = el(tr.kind === "video" ? "video" : "audio", { controls: "", preload: "metadata", playsinline: "", class: "rec-player", src: tr.url });
  box.replaceChildren(el("h3", { title: tr.file }, trackTitle(r, tr, { zone: true })), media);
  media.play().catch(() => {});
  box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

// --- accounts ----------------------------------------------------------------------------------

async function loadUsers() {
  const all = (await api("GET", "/api/admin/users")).users;
  names = Object.fromEntries(all.map((u) => [u.id, u.name || u.username || u.phone || u.email]));
  const role = $("user-filter").value;
  const users = role === "staff" ? all.filter((u) => u.role !== "candidate") : role ? all.filter((u) => u.role === role) : all;
  const order = { admin: 0, proctor: 1, examiner: 2, candidate: 3 };
  users.sort((a, b) => order[a.role] - order[b.role] || a.created_at - b.created_at);
  $("user-table").tBodies[0].replaceChildren(...(users.length ? users.map(userRow) : [emptyRow(6, t("暂无账号", "No accounts"))]));
}

function userRow(u) {
  const note = el("span", { class: "hint" });
  const act = async (fn) => {
    try { await fn(); } catch (err) { note.textContent = err.message; note.className = "error"; }
  };
  const actions = el("div", { class: "actions" });
  if (u.id === me.id) actions.append(el("span", { class: "muted" }, t("当前登录账号", "You")));
  else {
    actions.append(
      el("button", { type: "button", class: "small " + (u.disabled ? "" : "danger"), onclick: () => act(async () => {
        if (!u.disabled && !window.confirm(t(`停用账号 ${names[u.id]}？停用后其所有登录会话立即失效。`,
          `Disable ${names[u.id]}? All their sessions end at once.`))) return;
        await api("PATCH", `/api/admin/users/${u.id}`, { disabled: !u.disabled });
        await loadUsers();
      }) }, u.disabled ? t("启用", "Enable") : t("停用", "Disable")),
      el("button", { type: "button", class: "small secondary", onclick: () => act(async () => {
        const { revoked } = await api("POST", `/api/admin/users/${u.id}/revoke-sessions`);
        note.className = "hint";
        note.textContent = t(`已注销 ${revoked} 个登录会话`, `${revoked} session(s) revoked`);
      }) }, t("注销登录", "Revoke sessions")));
  }
  actions.append(note);
  const logins = [u.username, u.phone, u.email, u.id_number].filter(Boolean).join(" / ");
  return row(el("td", {}, roleLabel(u.role)), el("td", {}, u.name),
    el("td", {}, logins, el("div", { class: "hint mono" }, u.id)),
    el("td", { class: u.disabled ? "error" : "ok" }, u.disabled ? t("已停用", "Disabled") : t("正常", "Active")),
    el("td", { class: "nowrap" }, u.created_at ? fmtTime(u.created_at, NO_ZONE) : ""), el("td", {}, actions));
}

function setupUserForm() {
  const form = $("user-form");
  jsonForm(form, "/api/admin/users", async () => {
    form.reset();
    await loadUsers();
    if (current) await loadExaminers();
  }, noEmpty);
  $("user-filter").addEventListener("change", () => loadUsers().catch(fail));
}

// --- tabs of the exam detail ------------------------------------------------------------------

function showPanel(id) {
  document.querySelectorAll("#exam-tabs [data-panel]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.panel === id)));
  document.querySelectorAll("#exam-detail .panel").forEach((p) => { p.hidden = p.id !== id; });
  sessionStorage.setItem("admin.panel", id);
}

function setupTabs() {
  document.querySelectorAll("#exam-tabs [data-panel]").forEach((b) => b.addEventListener("click", () => showPanel(b.dataset.panel)));
  showPanel(sessionStorage.getItem("admin.panel") || "panel-setup");
}

// --- start -------------------------------------------------------------------------------------

async function start() {
  setupTabs();
  setupExamForm();
  setupDetailForms();
  setupRosterForm();
  setupUserForm();
  $("audit-refresh").addEventListener("click", () => loadAudit().catch(fail));
  $("recordings-refresh").addEventListener("click", () => loadRecordings());
  try {
    me = (await api("GET", "/api/auth/me")).account;
    await loadUsers();
    const exams = await loadExams();
    const wanted = new URLSearchParams(location.search).get("exam");
    if (wanted && exams.some((x) => x.id === wanted)) await selectExam(wanted);
  } catch (err) {
    fail(err);
  }
}

start();
