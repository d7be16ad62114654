// The registration page: a code sent to the phone (or the email, overseas), then the account.
import { jsonForm } from "/static/js/common.js";
import { codeButton, contactOf } from "/static/js/contact-code.js";

const form = document.getElementById("register-form");
codeButton(form, document.getElementById("send-code"), "register");
jsonForm(form, "/api/auth/register", () => { location.href = "/candidate"; }, (b) => ({
  ...contactOf(form),
  code: (b.code || "").trim(),
  password: b.password || "",
}));
