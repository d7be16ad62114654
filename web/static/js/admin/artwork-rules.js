// The admin's rules editor (sittings.js editSubject): the recorded subject's form (考试形式) and, for an artwork
// subject (作品创作), its photo rules (docs/recorded.md "Artwork"): minutes to photograph the work after a take,
// the fewest and the most photos. The ranges are the server's (server/recorded/rules.py RANGES).
import { el, t } from "/static/js/common.js";

export const FORMS = [
  ["performance", () => t("自备展示", "Performance")],
  ["artwork", () => t("作品创作（录制后拍摄作品照片）", "Artwork (photos of the work after the take)")],
];

const num = (name, text, value, min, max) => el("label", {}, text,
  el("input", { name, type: "number", min: String(min), max: String(max), value: String(value ?? "") }));

// The form's select and the artwork part (shown for the artwork form only).
export function formFields(s) {
  const select = el("select", { name: "form" }, FORMS.map(([value, text]) => el("option", { value, selected: (s.form || "performance") === value }, text())));
  const artwork = el("div", { class: "row artwork-rules" },
    num("photo_time_limit_min", t("拍照时间（录制结束后，分钟）", "Photo time after a take (min)"), s.photo_time_limit_min ?? 10, 1, 120),
    num("photos_min", t("作品照片最少张数", "Fewest photos"), s.photos_min ?? 1, 1, 20),
    num("photos_max", t("作品照片最多张数", "Most photos"), s.photos_max ?? 6, 1, 20));
  const sync = () => { artwork.hidden = select.value !== "artwork"; };
  select.addEventListener("change", sync);
  sync();
  return { row: el("div", { class: "row" }, el("label", {}, t("考试形式", "Form"), select)), artwork };
}

// The body's part for the form: {form} and, for artwork, its photo rules.
export function formBody(f, toInt) {
  const body = { form: f.form.value };
  if (body.form === "artwork") {
    Object.assign(body, { photo_time_limit_min: toInt(f.photo_time_limit_min.value), photos_min: toInt(f.photos_min.value), photos_max: toInt(f.photos_max.value) });
  }
  return body;
}
