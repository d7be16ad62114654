// Admin tab "recordings": the exam's interview recordings, one row per interview with its files, a player.
import { api, el, label, t } from "/static/js/common.js";
import { $, fmtClock, fmtLength, fmtSize, fmtTime } from "/static/js/format.js";
import { admin, emptyRow, NO_ZONE, row } from "/static/js/admin/state.js";

export async function loadRecordings() {
  const box = $("recordings-error");
  try {
    const { recordings } = await api("GET", admin.paths.recordings(admin.current.exam.id));
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
    `${trackTitle(r, tr)} · ${fmtSize(tr.size)} `,
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
