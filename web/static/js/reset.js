// The "forgot password" page: a code sent to the account's phone (or email), then a new password.
import { jsonForm } from "/static/js/common.js";
import { codeButton, contactOf } from "/static/js/contact-code.js";

const form = document.getElementById("reset-form");
codeButton(form, document.getElementById("send-code"), "reset");
jsonForm(form, "/api/auth/password-reset", () => {
  form.hidden = true;
  document.getElementById("reset-done").hidden = false;
}, (b) => ({ ...contactOf(form), code: (b.code || "").trim(), password: b.password || "" }));
