// The notices that stop a candidate before any tap: an in-app browser, a camera the page
// cannot use (no HTTPS, no getUserMedia, permission blocked). Markup: templates/_blockers.html.
import { t } from "/static/js/common.js";
import { $ } from "/static/js/format.js";
import { cameraUnavailable } from "/static/js/camera.js";
import { inAppBrowser } from "/static/js/device.js";


export function blocked(problem) {
  $("camera-blocked").hidden = !problem;
  if (problem) {
    $("camera-blocked-title").textContent = problem.message;
    $("camera-blocked-advice").textContent = problem.advice || "";
  }
}

export function showBlockers() {
  const app = inAppBrowser();
  if (app) {
    $("in-app").hidden = false;
    $("in-app-text").textContent = t(`当前是${app.name}内置浏览器。`, `This is the ${app.name} in-app browser.`);
  }
  const unavailable = cameraUnavailable();
  if (unavailable) blocked(unavailable);
}
