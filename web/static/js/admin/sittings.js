// Admin: a subject's kind and recorded rules (docs/recorded.md "Configuration"), and the tab "录制考试":
// every candidate's sitting per recorded subject (state, time left, exam code, takes, the submission with
// its face result), playback of a take (main camera and aux cameras side by side), the CSV of submissions.
import { api, clearErrors, el, faceStatusLabel, showError, t } from "/static/js/common.js";
import { $, fmtClock, fmtDuration, fmtLength, fmtLocalInput, fmtRange, fmtTime } from "/static/js/format.js";
import { admin, emptyRow, NO_ZONE, reload, row, subjectName, toInt } from "/static/js/admin/state.js";
import { formFields, formSummary } from "/static/js/admin/forms.js";

const enc = encodeURIComponent;
const paths = {
  subject: (exam, subject) => `/api/admin/exams/${enc(exam)}/subjects/${enc(subject)}`,
  sittings: (exam, subject) => `/api/admin/exams/${enc(exam)}/sittings` + (subject ? `?subject=${enc(subject)}` : ""),
  csv: (exam) => `/api/admin/exams/${enc(exam)}/submissions.csv`,
  video: (take) => `/api/admin/takes/${enc(take)}/video`,
};

export const isRecorded = (s) => s.kind === "recorded";

// "录制 · 3 次 × 2分 · 限时 50 分钟 · 12/01 09:00–10:00"
export function subjectSummary(s) {
  if (!isRecorded(s)) return t(`面试 ${s.interview_minutes} 分钟`, `Interview ${s.interview_minutes} min`);
  return [t("录制考试", "Recorded"), formSummary(s), t(`可录 ${s.takes_allowed} 次`, `${s.takes_allowed} takes`), t(`单次最长 ${fmtLength(s.take_max_s)}`, `≤ ${fmtLength(s.take_max_s)} each`),
    s.time_limit_min ? t(`限时 ${s.time_limit_min} 分钟`, `${s.time_limit_min} min limit`) : t("至考试结束", "until the window closes"),
    t(`考试次数 ${s.sittings_allowed}`, `${s.sittings_allowed} sittings`), s.mock_tries ? t(`模拟考 ${s.mock_tries} 次`, `${s.mock_tries} mock`) : t("无模拟考", "no mock"),
    ...(s.uploads_allowed ? [t(`可上传视频 ≤ ${s.upload_max_mb} MB`, `uploads ≤ ${s.upload_max_mb} MB`)] : []),
    s.window_opens ? fmtRange(s.window_opens, s.window_closes, NO_ZONE) : t("未设置考试时间", "no window")].join(" · ");
}

// --- the subject's rules ------------------------------------------------------------------------------

const num = (name, label, value, min, max) => el("label", {}, label,
  el("input", { name, type: "number", min: String(min), max: String(max), value: String(value ?? "") }));
const when = (name, label, epoch) => el("label", {}, label,
  el("input", { name, type: "datetime-local", value: epoch ? fmtLocalInput(new Date(epoch * 1000)) : "" }));

// The inline editor under the subject table (one subject at a time).
export function editSubject(s) {
  const box = $("subject-editor");
  box.hidden = false;
  const kind = el("select", { name: "kind" },
    el("option", { value: "interview", selected: !isRecorded(s) }, t("在线面试", "Live interview")),
    el("option", { value: "recorded", selected: isRecorded(s) }, t("录制考试", "Recorded exam")));
  const formPart = formFields(s); // 自备展示 / 命题作答 / 指定项目 (admin/forms.js)
  const recordedPart = el("div", { class: "recorded-rules" }, formPart.element,
    el("div", { class: "row" },
      num("takes_allowed", t("可录制次数", "Takes allowed"), s.takes_allowed || 1, 1, 10),
      num("take_max_s", t("单次最长（秒）", "Longest take (s)"), s.take_max_s || 300, 10, 3600),
      num("time_limit_min", t("规定时间（分钟，0 为至考试结束）", "Limit (min, 0: until the window closes)"), s.time_limit_min ?? 0, 0, 600)),
    el("div", { class: "row" },
      when("window_opens", t("考试开始（北京时间）", "Window opens (Beijing time)"), s.window_opens),
      when("window_closes", t("考试结束（北京时间）", "Window closes (Beijing time)"), s.window_closes)),
    el("div", { class: "row" },
      num("sittings_allowed", t("考试次数（含重置）", "Sittings (incl. resets)"), s.sittings_allowed || 1, 1, 5),
      num("mock_tries", t("模拟考次数（0 为无）", "Mock tries (0: none)"), s.mock_tries ?? 0, 0, 10)),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "cut_take_counts", checked: s.cut_take_counts || undefined }),
      t("网络中断导致未录完的视频也计入录制次数", "A take cut short by a lost connection uses up a take")),
    el("div", { class: "row" },
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "uploads_allowed", checked: s.uploads_allowed || undefined }),
        t("允许上传本地视频（考生用手机相机单独录制后上传）", "Uploads allowed (filmed with the phone's camera, then uploaded)")),
      num("upload_max_mb", t("上传视频大小上限（MB）", "Largest upload (MB)"), s.upload_max_mb ?? 500, 1, 4096)));
  const form = el("form", { class: "rules-form", novalidate: "", "data-subject": s.id },
    el("h3", {}, t(`科目规则：${s.name}`, `Rules: ${s.name}`)),
    el("div", { class: "row" }, el("label", {}, t("考试形式", "Kind"), kind),
      num("interview_minutes", t("面试时长（分钟）", "Interview (min)"), s.interview_minutes || 10, 1, 240)),
    recordedPart,
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("保存规则", "Save rules")),
      el("button", { type: "button", class: "secondary", onclick: () => { box.hidden = true; } }, t("取消", "Cancel"))));
  const sync = () => { recordedPart.hidden = kind.value !== "recorded"; };
  kind.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { kind: f.kind.value, interview_minutes: toInt(f.interview_minutes.value) };
    if (body.kind === "recorded") {
      Object.assign(body, {
        ...formPart.read(),
        takes_allowed: toInt(f.takes_allowed.value), take_max_s: toInt(f.take_max_s.value), time_limit_min: toInt(f.time_limit_min.value),
        sittings_allowed: toInt(f.sittings_allowed.value), mock_tries: toInt(f.mock_tries.value), cut_take_counts: f.cut_take_counts.checked,
        uploads_allowed: f.uploads_allowed.checked, upload_max_mb: toInt(f.upload_max_mb.value),
        window_opens: f.window_opens.value, window_closes: f.window_closes.value,
      });
    }
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await api("PUT", paths.subject(admin.current.exam.id, s.id), body);
      clearErrors(form);
      box.hidden = true;
      await reload.exam();
      await loadSittings();
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  box.replaceChildren(form);
  box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

// --- the sittings table -------------------------------------------------------------------------------------

const STATE = {
  not_started: () => t("未开始", "Not started"), in_progress: () => t("考试中", "In progress"), submitted: () => t("已提交", "Submitted"),
  auto_submitted: () => t("自动提交", "Auto-submitted"), absent: () => t("缺考", "Absent"), reset: () => t("已重置", "Reset"),
};
const MODE = { formal: () => t("正式考", "Exam"), mock: () => t("模拟考", "Mock"), practice: () => t("练习", "Practice") };
const TAKE = { recording: () => t("录制中", "recording"), complete: () => t("完整", "complete"), cut: () => t("中断", "cut"),
  failed: () => t("失败", "failed"), discarded: () => t("作废", "discarded") };

// The exam's face check (the queue's check before the takes: 3 strikes + review), and the submitted take's
// identity check (docs/recorded.md "Identity on every take"): frames sampled from the take and compared with
// the roster photo, passed or not with the best / median distance and the frames with no or several faces;
// "比对中" until the server has done it; the reason when it could not. It never blocks the submission.
const IDENTITY_REASON = {
  no_reference_photo: () => t("无名单照片", "no roster photo"),
  reference_unusable: () => t("名单照片不可用", "the roster photo is unusable"),
  take_file_missing: () => t("视频文件缺失", "the video file is missing"),
  take_not_playable: () => t("等待视频生成", "waiting for the video file"),
  take_decode_failed: () => t("视频无法解码", "the video cannot be decoded"),
  facecheck_unavailable: () => t("人脸核验未运行", "the face check is not running"),
  facecheck_busy: () => t("人脸核验繁忙", "the face check is busy"),
  check_failed: () => t("比对出错", "the check failed"),
};
const reasonText = (code) => (IDENTITY_REASON[code] || (() => code))();

export function identityLine(result) {
  if (!result) return "";
  const head = t("提交视频人脸比对：", "Submitted take, identity: ");
  if (result.status === "pending") {
    return el("div", { class: "hint", "data-identity": "pending" }, head + t("比对中", "checking"),
      result.reason ? t(`（${reasonText(result.reason)}，稍后重试）`, ` (${reasonText(result.reason)}, retried later)`) : "");
  }
  if (result.status === "error") {
    return el("div", { class: "hint", "data-identity": "error" }, head + t("未比对：", "not checked: ") + reasonText(result.reason));
  }
  const parts = [];
  if (typeof result.best === "number") parts.push(t("最佳 ", "best ") + result.best.toFixed(3));
  if (typeof result.median === "number") parts.push(t("中位 ", "median ") + result.median.toFixed(3));
  if (typeof result.threshold === "number") parts.push(t("阈值 ", "threshold ") + result.threshold.toFixed(2));
  parts.push(t(`${result.frames} 帧`, `${result.frames} frames`));
  if (result.no_face) parts.push(t(`无人脸 ${result.no_face} 帧`, `${result.no_face} without a face`));
  if (result.several) parts.push(t(`多人脸 ${result.several} 帧`, `${result.several} with several faces`));
  return el("div", { "data-identity": result.status },
    head, result.passed ? el("strong", { class: "ok" }, t("通过", "passed")) : el("strong", { class: "error" }, t("未通过", "not passed")),
    el("div", { class: "hint" }, parts.join(" · ")));
}

function faceCell(item, sub) {
  const gate = item.face;
  const lines = [gate ? faceStatusLabel(gate.status) + (gate.strikes ? t(`（失败 ${gate.strikes} 次）`, ` (${gate.strikes} failed)`) : "") : "—"];
  if (sub && sub.identity) lines.push(identityLine(sub.identity));
  return lines;
}

function takeCell(item, x, i) {
  const submitted = item.submission && (item.submission.take_id || (item.submission.take || {}).id) === x.id;
  return el("li", { "data-take": x.id },
    t(`第 ${i + 1} 条`, `#${i + 1}`), " · ", (TAKE[x.state] || (() => x.state))(),
    x.duration_s ? " · " + fmtLength(x.duration_s) : "", x.started_at ? " · " + fmtClock(x.started_at, NO_ZONE) : "",
    submitted ? el("strong", { class: "ok" }, t(" · 已提交", " · submitted")) : "", " ",
    x.video_url ? el("button", { type: "button", class: "link", onclick: () => play(item, x, i) }, t("播放", "Play")) : "",
    x.video_url ? el("a", { href: x.video_url + "?download=1", download: `${x.id}.webm` }, t(" 下载", " Download")) : "");
}

function sittingRow(item) {
  const s = item.sitting || {};
  const state = s.state || item.state || "not_started";
  const takes = (item.takes || s.takes || []).filter((x) => x.state !== "discarded");
  const left = state === "in_progress" && s.deadline ? fmtDuration(s.deadline - Date.now() / 1000) : "";
  const sub = item.submission || s.submission;
  const tr = row(
    el("td", {}, item.candidate_name || item.name || item.account_id || "", item.id_number ? el("div", { class: "hint mono" }, item.id_number) : "",
      // the candidate's audit timeline (every entry, take, submission and check, with actor and time)
      item.account_id ? el("div", {}, el("a", { class: "audit-link", href: `/proctor?exam=${encodeURIComponent(admin.current.exam.id)}&subject=${encodeURIComponent(item.account_id)}#audit` },
        t("审计记录", "Audit timeline"))) : ""),
    el("td", { class: "nowrap" }, subjectName(item.subject_id || s.subject_id)),
    el("td", { class: "nowrap" }, (MODE[s.mode || item.mode] || (() => s.mode || "—"))()),
    el("td", { "data-state": state }, (STATE[state] || (() => state))(), left ? el("div", { class: "hint" }, t("剩余 ", "left ") + left) : "",
      s.id ? el("div", {}, el("a", { class: "review-link", href: `/admin/sittings/${encodeURIComponent(s.id)}` }, t("审阅", "Review"))) : "",
      s.entered_at ? el("div", { class: "hint" }, t("进入 ", "in ") + fmtClock(s.entered_at, NO_ZONE)) : ""),
    el("td", { class: "mono" }, s.code || s.exam_code || item.code || "—"),
    el("td", {}, takes.length ? el("ul", { class: "facts" }, takes.map((x, i) => takeCell({ ...item, submission: sub }, x, i))) : "—"),
    el("td", {}, sub ? [fmtTime(sub.submitted_at, NO_ZONE), sub.state === "auto_submitted" ? el("div", { class: "hint" }, t("自动提交", "automatic")) : "",
      sub.take ? el("div", {}, t(`第 ${sub.take.number} 条 · `, `take ${sub.take.number} · `) + fmtLength(sub.take.duration_s)) : "",
      sub.take && sub.take.sha256 ? el("div", { class: "hint mono", title: sub.take.sha256 }, "SHA-256 " + sub.take.sha256.slice(0, 12) + "…") : ""] : "—"),
    el("td", {}, faceCell(item, sub)));
  tr.dataset.state = state;
  return tr;
}

function play(item, x, i) {
  const box = $("sitting-player");
  box.hidden = false;
  const auxUrls = x.aux_urls || [];
  const videos = [el("figure", {}, el("video", { controls: "", preload: "metadata", playsinline: "", class: "rec-player", src: x.video_url || paths.video(x.id) }),
    el("figcaption", {}, t("主机位", "Main camera")))];
  auxUrls.forEach((url, n) => {
    videos.push(el("figure", {}, el("video", { controls: "", preload: "metadata", playsinline: "", muted: "", class: "rec-player", src: url }),
      el("figcaption", {}, t(`辅机位 ${n + 1}`, `Aux camera ${n + 1}`))));
  });
  box.replaceChildren(el("h3", {}, `${item.candidate_name || item.name || ""} · ${subjectName(item.subject_id || (item.sitting || {}).subject_id)} · `
    + t(`第 ${i + 1} 条`, `take ${i + 1}`) + (x.duration_s ? " · " + fmtLength(x.duration_s) : "")),
  el("div", { class: "take-pair" }, videos),
  x.sha256 ? el("p", { class: "hint mono" }, "SHA-256 " + x.sha256) : "");
  if (auxUrls.length) { // main and aux play together
    const [main, ...aux] = box.querySelectorAll("video");
    main.addEventListener("play", () => aux.forEach((v) => { v.currentTime = main.currentTime; v.play().catch(() => {}); }));
    main.addEventListener("pause", () => aux.forEach((v) => v.pause()));
  }
  box.querySelector("video").play().catch(() => {});
  box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

export async function loadSittings() {
  if (!admin.current) return;
  const recorded = admin.current.subjects.filter(isRecorded);
  $("sittings-tab").hidden = !recorded.length;
  const select = $("sittings-subject");
  const keep = select.value;
  select.replaceChildren(el("option", { value: "" }, t("全部录制科目", "Every recorded subject")),
    ...recorded.map((s) => el("option", { value: s.id, selected: s.id === keep }, s.name)));
  $("sittings-csv").href = paths.csv(admin.current.exam.id);
  const box = $("sittings-error");
  if (!recorded.length) {
    $("sittings-table").tBodies[0].replaceChildren(emptyRow(8, t("本考试没有录制考试科目", "This exam has no recorded subject")));
    return;
  }
  try {
    const data = await api("GET", paths.sittings(admin.current.exam.id, select.value));
    const items = data.sittings || data.items || [];
    box.hidden = true;
    $("sittings-table").tBodies[0].replaceChildren(...(items.length ? items.map(sittingRow) : [emptyRow(8, t("暂无考生", "No candidates"))]));
    $("sittings-summary").textContent = summary(items);
  } catch (err) {
    box.textContent = err.message;
    box.hidden = false;
  }
}

function summary(items) {
  const count = {};
  for (const item of items) {
    const state = (item.sitting || {}).state || item.state || "not_started";
    count[state] = (count[state] || 0) + 1;
  }
  return Object.entries(count).map(([k, n]) => `${(STATE[k] || (() => k))()} ${n}`).join(" · ");
}

export function setupSittings() {
  $("sittings-subject").addEventListener("change", () => loadSittings());
  $("sittings-refresh").addEventListener("click", () => loadSittings());
}
