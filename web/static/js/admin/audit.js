// Admin tab "audit log": the exam's audit stream (proctor-lib.js auditView) with the names the page knows,
// and the CSV export link (set by exams.js when an exam is selected).
import { $, fmtRange } from "/static/js/format.js";
import { auditView } from "/static/js/proctor-lib.js";
import { admin, roomName } from "/static/js/admin/state.js";

export async function loadAudit() {
  const { exam, subjects, rooms, slots } = admin.current;
  const labels = { ...admin.names, ...admin.examNames };
  for (const s of subjects) labels[s.id] = s.name;
  for (const r of rooms) labels[r.id] = r.name;
  for (const s of slots) labels[s.id] = `${roomName(s.room_id)} ${fmtRange(s.starts_at, s.ends_at)}`;
  await auditView($("audit-log"), exam.id, {
    names: labels,
    onSubject: (id) => { location.href = `/proctor?exam=${encodeURIComponent(exam.id)}&subject=${encodeURIComponent(id)}`; },
  });
}
