// 题库与步骤 (/admin/exams/{exam}/subjects/{subject}/content, docs/recorded.md "Question bank", "Guided items"): a
// recorded subject's question bank (命题作答: the questions of each pool with their image or audio, add one, import a
// zip with its row-by-row report, delete) and a guided subject's steps (指定项目: text, length, an uploaded audio guide
// or the phone's speech; reorder, save whole).
import { api, clearErrors, el, showError, t } from "/static/js/common.js";
import { $, fmtLength } from "/static/js/format.js";

const page = $("content-page");
const examId = page.dataset.examId, subjectId = page.dataset.subjectId;
const enc = encodeURIComponent;
const base = `/api/admin/exams/${enc(examId)}/subjects/${enc(subjectId)}`;
const USE = { formal: () => t("正式考", "Formal"), mock: () => t("模拟考", "Mock") };
let subject = null;
let steps = []; // the steps being edited: {text, duration_s, audio_sha256, audio_type, speak}

function fail(box, err) {
  box.hidden = false;
  box.textContent = (err && err.message) || String(err);
}

// --- the question bank ------------------------------------------------------------------------------

function questionRow(q) {
  const media = q.media_kind === "image" ? el("img", { src: q.media_url, alt: q.media_name, loading: "lazy" })
    : q.media_kind === "audio" ? el("audio", { src: q.media_url, controls: "", preload: "none" }) : el("span", { class: "hint" }, "—");
  const remove = el("button", { type: "button", class: "small secondary", "data-delete": q.id }, t("删除", "Delete"));
  remove.addEventListener("click", async () => {
    if (!window.confirm(t("确定删除这道题目？已抽到它的录制仍保留题目内容。", "Delete this question? Takes that drew it keep their copy."))) return;
    remove.disabled = true;
    try { await api("DELETE", `${base}/questions/${enc(q.id)}`); await loadBank(); } catch (err) { fail($("load-error"), err); remove.disabled = false; }
  });
  return el("tr", { "data-question": q.id, "data-use": q.use },
    el("td", { class: "nowrap" }, USE[q.use] ? USE[q.use]() : q.use),
    el("td", {}, q.text ? el("div", { class: "prompt-text" }, q.text) : el("span", { class: "hint" }, t("（无文字）", "(no text)")),
      q.media_name ? el("div", { class: "hint" }, q.media_name + (q.media_duration_s ? ` · ${fmtLength(q.media_duration_s)}` : "")) : ""),
    el("td", {}, media), el("td", { class: "num" }, String(q.drawn || 0)), el("td", {}, remove));
}

async function loadBank() {
  const { questions, counts } = await api("GET", `${base}/questions`);
  $("bank-counts").textContent = t(`正式考 ${counts.formal} 题 · 模拟考 ${counts.mock} 题`, `${counts.formal} formal · ${counts.mock} mock`);
  $("bank-table").tBodies[0].replaceChildren(...(questions.length ? questions.map(questionRow)
    : [el("tr", {}, el("td", { colspan: "5", class: "empty" }, t("题库中还没有题目。", "No questions yet.")))]));
  page.dataset.questions = String(questions.length);
}

function setupBank() {
  const form = $("question-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = new FormData();
    body.append("use", form.elements.use.value);
    body.append("text", form.elements.text.value);
    if (form.elements.file.files[0]) body.append("file", form.elements.file.files[0]);
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    $("question-progress").hidden = false;
    $("question-progress").textContent = t("正在上传并检查文件…", "Uploading and checking the file…");
    try {
      await api("POST", `${base}/questions`, body);
      form.reset();
      await loadBank();
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
      $("question-progress").hidden = true;
    }
  });

  const upload = $("import-form");
  upload.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(upload);
    const file = upload.elements.file.files[0];
    if (!file) return showError(upload, { field: "file", message: t("请选择 zip 压缩包", "Choose a zip file") });
    const body = new FormData();
    body.append("file", file);
    const button = upload.querySelector("[type=submit]");
    button.disabled = true;
    $("import-progress").hidden = false;
    $("import-progress").textContent = t("正在上传并逐个检查文件，请稍候…", "Uploading and checking every file; please wait…");
    try {
      const res = await fetch(`${base}/questions/import`, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } });
      const data = await res.json().catch(() => ({}));
      if (data.error) throw data.error;
      report(data);
      if (data.stored) { upload.reset(); await loadBank(); }
    } catch (err) {
      showError(upload, err.code ? err : { message: t("上传失败，请检查网络后重试", "The upload failed; check the network and retry") });
      $("import-report").hidden = true;
    } finally {
      button.disabled = false;
      $("import-progress").hidden = true;
    }
  });
}

// The import's report: stored, or why not, row by row.
function report(data) {
  const box = $("import-report");
  box.hidden = false;
  box.dataset.stored = String(data.stored);
  const head = data.stored ? el("p", { class: "ok" }, t(`已导入 ${data.stored} 道题目。`, `${data.stored} questions imported.`))
    : el("p", { class: "error" }, t("未导入任何题目：请按下面的原因修改后重新上传。", "Nothing was imported: fix what is listed below and upload again."));
  const problems = (data.problems || []).map((p) => el("p", { class: "error", "data-code": p.code }, p.message));
  const rows = (data.rows || []).map((r) => el("tr", { "data-line": String(r.line), "data-status": r.status },
    el("td", { class: "num" }, String(r.line)), el("td", {}, r.use), el("td", {}, r.text), el("td", {}, r.file),
    el("td", { class: r.status === "ok" ? "ok" : "error" }, r.status === "ok" ? t("通过", "ok") : r.reasons.map((x) => x.message).join("；"))));
  box.replaceChildren(head, ...problems, rows.length ? el("div", { class: "table-wrap" }, el("table", { class: "import-report" },
    el("thead", {}, el("tr", {}, ...[t("行", "Line"), t("用途", "Pool"), t("题目", "Text"), t("文件", "File"), t("检查结果", "Result")].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows))) : "");
}

// --- the steps ---------------------------------------------------------------------------------------------

const audioUrl = (sha) => `${base}/steps/audio/${enc(sha)}`;

function renderTotal() {
  const total = steps.reduce((sum, s) => sum + (Number(s.duration_s) || 0), 0);
  $("steps-total").textContent = t(`共 ${steps.length} 步，约 ${fmtLength(total)}（单次最长 ${fmtLength(subject.take_max_s)}）`,
    `${steps.length} steps, about ${fmtLength(total)} (longest take ${fmtLength(subject.take_max_s)})`);
}

function renderSteps() {
  renderTotal();
  $("steps-list").replaceChildren(...steps.map((s, i) => {
    const text = el("textarea", { rows: "2", maxlength: "500", "aria-label": t(`第 ${i + 1} 步文字`, `Step ${i + 1} text`) });
    text.value = s.text || "";
    text.addEventListener("input", () => { s.text = text.value; });
    const seconds = el("input", { type: "number", min: "3", max: "600", value: String(s.duration_s || 30), "aria-label": t("时长（秒）", "Seconds") });
    seconds.addEventListener("input", () => { s.duration_s = Number(seconds.value); renderTotal(); });
    const speak = el("input", { type: "checkbox", checked: s.speak || undefined, disabled: s.audio_sha256 ? "" : undefined });
    speak.addEventListener("change", () => { s.speak = speak.checked; });
    const file = el("input", { type: "file", accept: "audio/mpeg,audio/mp4,audio/wav,.mp3,.m4a,.wav", class: "step-file" });
    file.addEventListener("change", () => uploadGuide(s, file));
    const guide = s.audio_sha256 ? el("div", {}, el("audio", { controls: "", preload: "none", src: audioUrl(s.audio_sha256) }),
      el("button", { type: "button", class: "small secondary", onclick: () => { s.audio_sha256 = ""; renderSteps(); } }, t("移除音频", "Remove the audio"))) : "";
    const move = (d) => { const j = i + d; if (j < 0 || j >= steps.length) return; [steps[i], steps[j]] = [steps[j], steps[i]]; renderSteps(); };
    return el("li", { "data-step": String(i) }, el("strong", {}, String(i + 1)),
      el("div", {}, text, el("label", { class: "check" }, speak, t("由手机朗读步骤文字（未上传指导音时）", "The phone reads the text aloud (without an audio guide)")),
        el("label", {}, t("指导音（选填）", "Audio guide (optional)"), file), guide),
      el("label", {}, t("时长（秒）", "Seconds"), seconds),
      el("div", { class: "step-tools" },
        el("button", { type: "button", class: "small secondary", onclick: () => move(-1), disabled: i === 0 ? "" : undefined }, "↑"),
        el("button", { type: "button", class: "small secondary", onclick: () => move(1), disabled: i === steps.length - 1 ? "" : undefined }, "↓"),
        el("button", { type: "button", class: "small secondary", onclick: () => { steps.splice(i, 1); renderSteps(); } }, t("删除", "Delete"))));
  }));
}

async function uploadGuide(step, input) {
  const file = input.files[0];
  if (!file) return;
  const body = new FormData();
  body.append("file", file);
  $("steps-status").textContent = t("正在上传并检查音频…", "Uploading and checking the audio…");
  $("steps-error").hidden = true;
  try {
    const made = await api("POST", `${base}/steps/audio`, body);
    Object.assign(step, { audio_sha256: made.sha256, speak: false });
    $("steps-status").textContent = t("音频已上传，保存步骤后生效。", "Audio uploaded: save the steps to use it.");
    renderSteps();
  } catch (err) {
    input.value = "";
    $("steps-status").textContent = "";
    fail($("steps-error"), err);
  }
}

function setupSteps() {
  $("step-add").addEventListener("click", () => { steps.push({ text: "", duration_s: 30, speak: true, audio_sha256: "" }); renderSteps(); });
  $("steps-save").addEventListener("click", async () => {
    const button = $("steps-save");
    button.disabled = true;
    $("steps-error").hidden = true;
    try {
      const body = { steps: steps.map((s) => ({ text: s.text || "", duration_s: Number(s.duration_s), speak: Boolean(s.speak), audio_sha256: s.audio_sha256 || "" })) };
      const saved = await api("PUT", `${base}/steps`, body);
      subject = saved.subject;
      steps = subject.steps.map((s) => ({ ...s }));
      renderSteps();
      $("steps-status").textContent = t("步骤已保存。", "Steps saved.");
      page.dataset.steps = String(steps.length);
    } catch (err) {
      fail($("steps-error"), err);
      $("steps-status").textContent = "";
    } finally {
      button.disabled = false;
    }
  });
}

async function load() {
  try {
    const data = await api("GET", `/api/admin/exams/${enc(examId)}`);
    subject = (data.subjects || []).find((s) => s.id === subjectId);
    const form = subject.kind === "recorded" ? subject.form : "interview";
    $("bank-card").hidden = form !== "question";
    $("steps-card").hidden = form !== "guided";
    if (!["question", "guided"].includes(form)) {
      fail($("form-note"), { message: t("本科目不是“命题作答”或“指定项目”形式：请先在学校管理后台“科目与考场”中点击“编辑规则”修改录制形式。",
        "This subject is neither drawn questions nor guided items: change its form under Edit rules in the school admin first.") });
    }
    if (form === "question") { setupBank(); await loadBank(); }
    if (form === "guided") {
      steps = (subject.steps || []).map((s) => ({ ...s }));
      if (!steps.length) steps.push({ text: "", duration_s: 30, speak: true, audio_sha256: "" });
      setupSteps();
      renderSteps();
    }
    page.dataset.state = "ready";
  } catch (err) {
    fail($("load-error"), err);
    page.dataset.state = "error";
  }
}

load();
