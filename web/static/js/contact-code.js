// The phone/email + "获取验证码" part of the register and reset pages: which contact the form names,
// and a button that asks the server for a code, then counts down before it can ask again.
import { api, clearErrors, showError, t } from "/static/js/common.js";

// {phone} or {email}: the email when the overseas section is open and filled, else the phone.
export function contactOf(form) {
  const overseas = form.querySelector("details");
  const email = (form.elements.email?.value || "").trim();
  const phone = (form.elements.phone?.value || "").trim();
  return overseas && overseas.open && email ? { email } : { phone };
}

export function codeButton(form, button, purpose) {
  const idle = button.textContent;
  let timer = null;
  const countdown = (seconds) => {
    let left = seconds;
    button.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(timer);
        timer = null;
        button.disabled = false;
        button.textContent = idle;
        return;
      }
      button.textContent = t(`${left} 秒后可重新获取`, `Ask again in ${left} s`);
      left -= 1;
    };
    tick();
    timer = setInterval(tick, 1000);
  };
  button.addEventListener("click", async () => {
    if (timer) return;
    button.disabled = true;
    try {
      const answer = await api("POST", "/api/auth/codes", { purpose, ...contactOf(form) });
      clearErrors(form);
      const hint = form.querySelector("[data-code-hint]");
      if (hint) {
        hint.hidden = false;
        hint.textContent = t(
          `验证码已发送，${Math.round(answer.expires_in_s / 60)} 分钟内有效。`,
          `Code sent; it is valid for ${Math.round(answer.expires_in_s / 60)} minutes.`,
        );
      }
      countdown(answer.resend_after_s || 60);
      form.elements.code?.focus();
    } catch (err) {
      button.disabled = false;
      showError(form, err);
    }
  });
}
