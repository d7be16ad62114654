// Admin tab "roster": import the roster CSV (and a ZIP of ID photos) with progress, the import report, the roster.
import { api, clearErrors, el, label, showError, t } from "/static/js/common.js";
import { $, fmtTime } from "/static/js/format.js";
import { admin, emptyRow, NO_ZONE, reload, row, subjectName } from "/static/js/admin/state.js";

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

export function setupRosterForm() {
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
      const p = await api("GET", admin.paths.importProgress(importId)).catch(() => null);
      if (p && p.stage === "faces") progress.textContent = `${t("正在检测证件照人脸", "Checking ID photos for a face")} ${p.done}/${p.total}`;
      else if (p && p.stage === "writing") progress.textContent = t("正在写入名单…", "Saving the roster…");
    }, 1000);
    try {
      const report = await upload(admin.paths.rosterImport(admin.current.exam.id, importId), data, (f) => {
        uploaded = f >= 1;
        progress.textContent = f < 1 ? `${t("上传中…", "Uploading…")} ${Math.round(f * 100)}%` : t("上传完成，正在校验名单…", "Uploaded, checking the roster…");
      });
      clearInterval(poll);
      progress.hidden = true;
      renderReport(report);
      await Promise.all([loadRoster(), reload.audit()]);
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
          label(`roster_row_${r.status}`, r.status) + (r.warning ? t("（有警告）", " (warning)") : "")),
        el("td", { class: "mono" }, r.id_number), el("td", {}, r.name),
        el("td", {}, r.reasons.map((x) => el("span", { class: x.level === "warning" ? "reason-warning" : "", "data-code": x.code },
          (x.level === "warning" ? "⚠ " : "") + x.message)).flatMap((node, i) => (i ? [t("；", "; "), node] : [node]))));
      if (r.warning) tr.dataset.warning = "true";
      return tr;
    })));
  $("roster-report").replaceChildren(el("h3", {}, t("导入结果", "Import report")), summary, el("div", { class: "table-wrap" }, table));
}

export async function loadRoster() {
  const { roster } = await api("GET", admin.paths.roster(admin.current.exam.id));
  $("roster-count").textContent = String(roster.length);
  const noPhoto = roster.filter((e) => !e.photo_sha256).length;
  $("roster-no-photo").hidden = !noPhoto;
  $("roster-no-photo").textContent = t(`${noPhoto} 人没有证件照，将无法通过人脸比对`, `${noPhoto} without an ID photo: they cannot pass the face check`);
  $("roster-table").tBodies[0].replaceChildren(...(roster.length ? roster.map((e) => row(
    el("td", {}, e.name), el("td", { class: "mono" }, e.id_number), el("td", {}, e.phone),
    el("td", {}, e.subjects.map(subjectName).join(t("、", ", "))),
    el("td", {}, e.photo_sha256 ? el("a", { href: admin.paths.photo(e.photo_sha256), target: "_blank", rel: "noopener" }, t("查看", "View"))
      : el("span", { class: "reason-warning", "data-code": "row_no_photo" }, t("⚠ 无证件照，无法人脸比对", "⚠ none: no face check possible"))),
    el("td", { class: "nowrap" }, e.updated_at ? fmtTime(e.updated_at, NO_ZONE) : "")))
    : [emptyRow(6, t("名单为空，请导入考生名单。", "The roster is empty; import it above."))]));
}
