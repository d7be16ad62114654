// One take as staff look at it (the review page, the graders' page): the main camera and the aux cameras side
// by side, the aux videos following the main one from their offset; the photos of an artwork (作品照片); and,
// when the take has them, its drawn question (命题) and its steps (指定项目) with a jump to each step.
import { el, t } from "/static/js/common.js";
import { fmtDuration, fmtSize } from "/static/js/format.js";

// The aux videos follow the main one (muted: the main camera carries the sound), each from its offset in it.
export function followMain(main, aux) {
  aux.forEach((v) => { v.muted = true; });
  const follow = () => aux.forEach((v) => {
    const at = main.currentTime - Number(v.dataset.offset || 0);
    if (at >= 0 && Math.abs(v.currentTime - at) > 0.5) v.currentTime = at;
    if (at >= 0 && v.paused && !main.paused) v.play().catch(() => {});
  });
  main.addEventListener("play", follow);
  main.addEventListener("seeked", follow);
  main.addEventListener("timeupdate", follow);
  main.addEventListener("pause", () => aux.forEach((v) => v.pause()));
}

// Main + aux figures; aux is [{url, offset_s, n}]. Returns {box, main}.
export function angles(mainUrl, aux) {
  const main = el("video", { controls: "", preload: "metadata", playsinline: "", class: "rec-player main-player", src: mainUrl });
  const auxVideos = aux.map((a) => el("video", { controls: "", preload: "metadata", playsinline: "", muted: "", class: "rec-player aux-player",
    src: a.url, "data-offset": String(a.offset_s || 0) }));
  const box = el("div", { class: "take-pair" },
    el("figure", {}, main, el("figcaption", {}, t("主机位", "Main camera"))),
    ...auxVideos.map((v, i) => el("figure", {}, v, el("figcaption", {}, t(`辅机位 ${aux[i].n || i + 1}`, `Aux camera ${aux[i].n || i + 1}`)))));
  followMain(main, auxVideos);
  return { box, main };
}

// The photos of the finished work: a grid of thumbnails, each opening the full photo. `details(photo, i)` adds
// a caption line (the staff see size and checksum; graders only the number and the pixels).
export function photoGrid(photos, details = (p, i) => t(`照片 ${i + 1} · ${p.width}×${p.height}`, `Photo ${i + 1} · ${p.width}x${p.height}`)) {
  if (!photos || !photos.length) return el("p", { class: "hint photos-none" }, t("未上传作品照片。", "No photo of the work was uploaded."));
  return el("div", { class: "photo-grid" }, photos.map((p, i) => el("figure", { class: "photo-item", "data-photo": String(i + 1) },
    el("a", { href: p.url, target: "_blank", rel: "noopener" },
      el("img", { src: p.url, alt: t(`作品照片 ${i + 1}`, `Photo ${i + 1} of the work`), loading: "lazy", width: String(p.width), height: String(p.height) })),
    el("figcaption", {}, details(p, i)))));
}

export const staffPhotoDetails = (p, i) => [t(`照片 ${i + 1}`, `Photo ${i + 1}`), `${p.width}×${p.height}`, fmtSize(p.size),
  el("span", { class: "mono", title: p.sha256 }, "SHA-256 " + String(p.sha256 || "").slice(0, 12) + "…")]
  .flatMap((x, n) => (n ? [" · ", x] : [x]));

// The drawn question ({text, image_url?, audio_url?}), when the take has one; "" otherwise.
export function questionBlock(question) {
  if (!question || typeof question !== "object") return "";
  return el("div", { class: "take-question" },
    el("h4", {}, t("抽取的题目", "Question drawn")),
    question.text ? el("p", { class: "question-text" }, question.text) : "",
    question.image_url ? el("img", { class: "question-image", src: question.image_url, alt: t("题目图片", "The question's picture") }) : "",
    question.audio_url ? el("audio", { controls: "", preload: "none", src: question.audio_url }) : "");
}

// The step timeline ([{index, text, offset_s, video_s}]: server/recorded/take_forms.py steps_view), when the take
// has one: each step jumps the main video to it (video_s: where it is in the playback file, which leaves out the
// time between reconnected segments; offset_s until that file is written).
export function stepsBlock(steps, main) {
  if (!Array.isArray(steps) || !steps.length) return "";
  const at = (s) => Number(s.video_s ?? s.offset_s ?? 0);
  return el("div", { class: "take-steps" },
    el("h4", {}, t("指定项目步骤", "Steps")),
    el("ol", {}, steps.map((s, i) => el("li", { "data-step": String(s.index ?? i + 1) },
      main ? el("button", { type: "button", class: "link", onclick: () => { main.currentTime = at(s); main.play().catch(() => {}); } },
        fmtDuration(at(s))) : fmtDuration(at(s)),
      " ", s.text || ""))));
}
