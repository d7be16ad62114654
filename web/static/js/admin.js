// School admin: exams (create; subjects, rooms, slots, roster import, bookings, recordings, audit) and staff
// accounts. Everything shown is read from the API; after a change the affected part is read again.
// One module per tab under admin/ (state.js is what they share); this entry names the API's paths and wires
// the tabs: which reloads follow a change, what selecting an exam reads, the tab switcher.
import { api } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { admin, fail, reload } from "/static/js/admin/state.js";
import { loadExams, reloadExam, renderExamFacts, selectExam, setupExamForm } from "/static/js/admin/exams.js";
import { loadExaminers, renderRooms, setupRoomForms } from "/static/js/admin/rooms.js";
import { loadProctors, setupProctorForm } from "/static/js/admin/proctors.js";
import { loadGraders } from "/static/js/admin/graders.js";
import { loadRubrics } from "/static/js/admin/rubric.js";
import { loadRoster, setupRosterForm } from "/static/js/admin/roster.js";
import { loadBookings } from "/static/js/admin/bookings.js";
import { loadRecordings } from "/static/js/admin/recordings.js";
import { loadAudit } from "/static/js/admin/audit.js";
import { loadSittings, setupSittings } from "/static/js/admin/sittings.js";
import { loadMarkingProgress } from "/static/js/admin/marking_progress.js";
import { loadResults } from "/static/js/admin/results.js";
import { loadUsers, setupUserForm } from "/static/js/admin/users.js";

const enc = encodeURIComponent;
// Every path the admin page calls (the tab modules read them from admin.paths).
admin.paths = {
  me: "/api/auth/me",
  exams: "/api/admin/exams",
  exam: (exam) => `/api/admin/exams/${enc(exam)}`,
  subjects: (exam) => `/api/admin/exams/${exam}/subjects`,
  rooms: (exam) => `/api/admin/exams/${exam}/rooms`,
  slots: (exam) => `/api/admin/exams/${exam}/slots`,
  slot: (exam, slot) => `/api/admin/exams/${exam}/slots/${slot}`,
  roster: (exam) => `/api/admin/exams/${exam}/roster`,
  rosterImport: (exam, importId) => `/api/admin/exams/${exam}/roster?import_id=${importId}`,
  importProgress: (importId) => `/api/admin/imports/${importId}`,
  bookings: (exam) => `/api/admin/exams/${exam}/bookings`,
  cancelBooking: (exam) => `/api/admin/exams/${exam}/bookings/cancel`,
  recordings: (exam) => `/api/admin/exams/${enc(exam)}/recordings`,
  auditCsv: (exam) => `/api/admin/exams/${enc(exam)}/audit.csv`,
  export: (exam, kind, fmt) => `/api/admin/exams/${enc(exam)}/exports/${kind}.${fmt}`,
  users: "/api/admin/users",
  examiners: "/api/admin/users?role=examiner",
  proctors: "/api/admin/users?role=proctor",
  examProctors: (exam) => `/api/admin/exams/${enc(exam)}/proctors`,
  user: (account) => `/api/admin/users/${account}`,
  revokeSessions: (account) => `/api/admin/users/${account}/revoke-sessions`,
  photo: (sha256) => `/api/staff/photos/${sha256}`,
};

Object.assign(reload, {
  exam: reloadExam,
  audit: loadAudit,
  examiners: loadExaminers,
  render: () => { renderExamFacts(); renderRooms(); loadGraders().catch(fail); loadRubrics().catch(fail); },
  sittings: loadSittings,
  // a newly selected exam: every tab reads its part
  selected: () => Promise.all([loadExaminers(), loadProctors(), loadRoster(), loadBookings(), loadAudit(), loadRecordings(), loadSittings(), loadMarkingProgress(), loadResults()]),
});

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
  setupRoomForms();
  setupProctorForm();
  setupRosterForm();
  setupUserForm();
  setupSittings();
  $("audit-refresh").addEventListener("click", () => loadAudit().catch(fail));
  $("recordings-refresh").addEventListener("click", () => loadRecordings());
  $("sittings-refresh").addEventListener("click", () => loadMarkingProgress());
  try {
    admin.me = (await api("GET", admin.paths.me)).account;
    await loadUsers();
    const exams = await loadExams();
    const wanted = new URLSearchParams(location.search).get("exam");
    if (wanted && exams.some((x) => x.id === wanted)) await selectExam(wanted);
  } catch (err) {
    fail(err);
  }
}

start();
