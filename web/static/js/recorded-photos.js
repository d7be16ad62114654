// Artwork (作品创作, docs/recorded.md "Artwork") on the candidate's recorded page: after a take that filmed the
// whole creation, the candidate photographs the finished work within the photo time (the server's clock): with
// the camera in this page (a still from getUserMedia) or the phone's own camera / album (a file input), sees
// each photo as the server keeps it (upright, no location or other metadata), removes and retakes, and submits
// the take with its photos (the takes card's submit). At the end of the photo time the server submits the take
// with the photos uploaded so far. recorded.js calls: ruleLines(subject), update(sitting, takes),
// decorate(list, takes), confirmText(take).
import { api, el, t } from "/static/js/common.js";
import { $, fmtDuration } from "/static/js/format.js";
import { serverNow } from "/static/js/live.js";
import { photoGrid } from "/static/js/take-view.js";

const photoUrl = (takeId, photo) => `/api/candidate/takes/${encodeURIComponent(takeId)}/photos/${encodeURIComponent(photo.id)}`;
const withUrls = (take) => (take.photos || []).map((p) => ({ ...p, url: p.url || photoUrl(take.id, p) }));

// Send one photo as the request body, with the upload's progress; resolves to the server's answer.
function send(takeId, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/candidate/takes/${encodeURIComponent(takeId)}/photos`);
    xhr.setRequestHeader("Content-Type", blob.type || "application/octet-stream");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else reject((body && body.error) || { code: "http_" + xhr.status, message: t(`上传失败（${xhr.status}），请重试`, `Upload failed (${xhr.status}); try again`) });
    };
    xhr.onerror = () => reject({ code: "network", message: t("网络中断，照片未上传，请重试", "The network dropped: the photo was not uploaded; try again") });
    xhr.send(blob);
  });
}

export function mountPhotos(card, { refresh }) {
  const page = $("recorded-page");
  let sitting = null, active = null, shownFor = "", busy = false, camera = null;
  const clock = el("strong", { class: "mono photo-clock", id: "photo-left" }, "--:--");
  const count = el("p", { class: "hint", id: "photo-count" });
  const grid = el("div", { id: "photo-list" });
  const status = el("p", { class: "hint", id: "photo-status", role: "status" });
  const bar = el("span");
  const progress = el("div", { class: "photo-progress", hidden: "" }, bar);
  const error = el("p", { class: "error", id: "photo-error", role: "alert", hidden: "" });
  const video = el("video", { autoplay: "", muted: "", playsinline: "" });
  const snap = el("button", { type: "button", id: "photo-snap", class: "full" }, t("拍下这张", "Take this photo"));
  const close = el("button", { type: "button", class: "secondary", id: "photo-camera-close" }, t("关闭相机", "Close the camera"));
  const cameraBox = el("div", { class: "photo-camera", hidden: "" }, video, el("div", { class: "actions" }, snap, close));
  const open = el("button", { type: "button", id: "photo-camera" }, t("拍照", "Take a photo"));
  const shoot = el("input", { type: "file", accept: "image/*", capture: "environment", id: "photo-capture", hidden: "" });
  const pick = el("input", { type: "file", accept: "image/*", id: "photo-file", hidden: "" });
  const pickButton = el("button", { type: "button", class: "secondary", id: "photo-pick" }, t("从相册选择", "Choose from the album"));
  const rules = el("p", { class: "hint", id: "photo-rules" });
  const choose = el("div", { class: "actions" }, open, pickButton);
  card.classList.add("photos-card");
  card.replaceChildren(el("h2", {}, t("作品拍照", "Photograph your work")), rules,
    el("div", { class: "sitting-bar" }, el("div", {}, el("span", { class: "hint" }, t("拍照剩余时间 ", "Photo time left ")), clock)),
    count, grid, cameraBox, progress, status, error, choose, shoot, pick);

  const fail = (err) => { error.hidden = false; error.dataset.code = (err && err.code) || ""; error.textContent = (err && err.message) || String(err); };

  function stopCamera() {
    if (camera) camera.getTracks().forEach((track) => track.stop());
    camera = null;
    video.srcObject = null;
    cameraBox.hidden = true;
    choose.hidden = false;
  }

  async function upload(blob) {
    if (!active || busy) return;
    busy = true;
    error.hidden = true;
    progress.hidden = false;
    bar.style.width = "0%";
    status.textContent = t("正在上传照片… 0%", "Uploading the photo… 0%");
    page.dataset.photoUpload = "sending";
    try {
      const answer = await send(active.id, blob, (part) => {
        bar.style.width = Math.round(part * 100) + "%";
        status.textContent = part < 1 ? t(`正在上传照片… ${Math.round(part * 100)}%`, `Uploading the photo… ${Math.round(part * 100)}%`)
          : t("已上传，服务器正在处理照片（去除位置等信息）…", "Uploaded; the server is preparing the photo (removing its location and other data)…");
      });
      active.photos = answer.photos;
      status.textContent = t("照片已保存。", "The photo is saved.");
      page.dataset.photoUpload = "done";
      render();
      refresh();
    } catch (err) {
      status.textContent = "";
      page.dataset.photoUpload = "refused";
      fail(err);
      if (["photo_time_over", "photo_sitting_over"].includes(err.code)) refresh();
    } finally {
      busy = false;
      progress.hidden = true;
    }
  }

  open.addEventListener("click", async () => {
    error.hidden = true;
    try {
      camera = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false });
      video.srcObject = camera;
      cameraBox.hidden = false;
      choose.hidden = true;
      await video.play().catch(() => {});
      cameraBox.scrollIntoView({ block: "center" });
    } catch {
      shoot.click(); // the camera of this page is not available (busy, refused): the phone's own camera app
    }
  });
  snap.addEventListener("click", async () => {
    if (!video.videoWidth) return;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    stopCamera();
    if (blob) await upload(blob);
  });
  close.addEventListener("click", stopCamera);
  pickButton.addEventListener("click", () => pick.click());
  for (const input of [shoot, pick]) {
    input.addEventListener("change", async () => {
      const files = [...input.files];
      input.value = "";
      for (const file of files) await upload(file); // one after another: each gets its own answer
    });
  }

  async function remove(photo) {
    if (!active || !window.confirm(t("删除这张照片？删除后可重新拍摄。", "Remove this photo? You can take another."))) return;
    try {
      active.photos = (await api("DELETE", photoUrl(active.id, photo))).photos;
      render();
      refresh();
    } catch (err) {
      fail(err);
    }
  }

  function render() {
    if (!active || !sitting) return;
    const photos = withUrls(active);
    const full = photos.length >= sitting.photos_max;
    count.textContent = t(`已上传 ${photos.length} / ${sitting.photos_max} 张（至少 ${sitting.photos_min} 张）`,
      `${photos.length} of at most ${sitting.photos_max} photos (at least ${sitting.photos_min})`);
    count.className = photos.length >= sitting.photos_min ? "ok" : "hint";
    grid.replaceChildren(photoGrid(photos, (p, i) => [t(`照片 ${i + 1}`, `Photo ${i + 1}`), " ",
      el("button", { type: "button", class: "link remove", "data-remove": p.id, onclick: () => remove(p) }, t("删除重拍", "Remove"))]));
    open.disabled = pickButton.disabled = full;
    if (full) status.textContent = t("已达到最多张数；如需重拍，请先删除一张。", "The most photos are reached; remove one to take another.");
    page.dataset.photos = String(photos.length);
  }

  function tick() {
    if (!active) return;
    const left = active.photos_until - serverNow();
    clock.textContent = fmtDuration(Math.max(0, left));
    clock.classList.toggle("urgent", left < 120);
    if (left <= 0) { stopCamera(); active = null; card.hidden = true; setTimeout(refresh, 1500); } // the server submits it now
  }
  setInterval(tick, 500);
  addEventListener("pagehide", stopCamera);

  // The stages where the card belongs: between takes and (read-only elsewhere: decorate()) never while filming.
  new MutationObserver(() => { card.hidden = !active || page.dataset.stage !== "ready"; })
    .observe(page, { attributes: true, attributeFilter: ["data-stage"] });

  return {
    // Lines for the rules (考前须知) of an artwork subject.
    ruleLines(subject) {
      if (!subject || subject.form !== "artwork") return [];
      return [t(`作品创作：录制完成后，须在 ${subject.photo_time_limit_min} 分钟内拍摄作品照片（${subject.photos_min}–${subject.photos_max} 张）并提交；时间到时，系统将自动提交该视频和已上传的照片`,
        `Artwork: after the take, photograph your work within ${subject.photo_time_limit_min} minutes (${subject.photos_min}–${subject.photos_max} photos) and submit; when the time is up, the take is submitted with the photos uploaded so far`)];
    },
    // The sitting and its takes as loaded: the take whose photo time runs, if any.
    update(s, takes) {
      sitting = s;
      const artwork = s && s.form === "artwork";
      page.dataset.form = (s && s.form) || "";
      const candidate = artwork && s.state === "in_progress" && s.photos_take ? takes.find((x) => x.id === s.photos_take) : null;
      const running = candidate && candidate.state === "complete" && candidate.number === s.takes_total && candidate.photos_until > serverNow();
      active = running ? candidate : null;
      card.hidden = !active || page.dataset.stage !== "ready";
      if (artwork) $("submit").textContent = t("提交所选视频和作品照片", "Submit the chosen take with its photos");
      if (!active) { stopCamera(); return; }
      rules.textContent = t(`请拍摄完成的作品（可多角度），至少 ${s.photos_min} 张、最多 ${s.photos_max} 张。照片会去除拍摄地点等信息后保存。拍好后请在下方选择本条视频并点击“提交”。时间到时，系统将自动提交本条视频和已上传的照片。`,
        `Photograph the finished work (several angles if you like): ${s.photos_min} to ${s.photos_max} photos. They are kept without their location or other data. Then choose this take below and submit. When the time is up, the take is submitted with the photos uploaded so far.`);
      page.dataset.photoTake = active.id;
      render();
      tick();
      if (shownFor !== active.id) { // a new take's photo time: bring the card into view once
        shownFor = active.id;
        setTimeout(() => { if (!card.hidden) card.scrollIntoView({ behavior: "smooth", block: "start" }); }, 300);
      }
    },
    // Each take of the list shows its photos (read-only), except the one being photographed (the card shows it).
    decorate(list, takes) {
      if (!sitting || sitting.form !== "artwork") return;
      for (const take of takes) {
        const item = list.querySelector(`[data-take="${CSS.escape(take.id)}"]`);
        if (!item || take.state !== "complete" || (active && take.id === active.id)) continue;
        item.append(el("div", { class: "take-photos" }, el("p", { class: "hint" }, t(`作品照片 ${(take.photos || []).length} 张`, `${(take.photos || []).length} photos`)),
          photoGrid(withUrls(take))));
      }
    },
    // The submit's confirmation, for an artwork take: how many photos go with it.
    confirmText(take) {
      if (!sitting || sitting.form !== "artwork" || !take) return "";
      return t(`\n将同时提交作品照片 ${(take.photos || []).length} 张。`, `\n${(take.photos || []).length} photos go with it.`);
    },
  };
}
