// The login page: log in, then go to the page that sent the user here (data-next, already checked by
// the server) or the role's home page.
import { jsonForm } from "/static/js/common.js";

const form = document.getElementById("login-form");
const home = { candidate: "/candidate", examiner: "/examiner", proctor: "/proctor", admin: "/admin" };

// A page of this site only: the browser's own URL parser decides, the way it will when navigating
// (it drops tabs and newlines and reads a backslash as a slash, so "/\evil.example" is another host).
export function sameOrigin(next) {
  if (!next) return "";
  try {
    const url = new URL(next, location.href);
    return url.origin === location.origin ? url.href : "";
  } catch {
    return "";
  }
}

jsonForm(form, "/api/auth/login", (r) => { location.href = sameOrigin(form.dataset.next) || home[r.account.role]; });
