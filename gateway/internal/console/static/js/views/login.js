// The login page.
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { login, session } from "../api.js";

export function render(main, ctx) {
  const err = h("p", { class: "error", role: "alert", id: "login-error" });
  const user = h("input", { id: "login-user", name: "user", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const btn = h("button", { class: "primary", type: "submit", id: "login-submit" }, t("login.submit"));
  const form = h("form", { class: "login panel", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, t("login.title")),
    h("label", {}, t("login.user"), user),
    h("label", {}, t("login.password"), pass),
    btn, err,
    h("p", { class: "muted" }, t("login.soundHint")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ctx.siren.unlock(); // the click is the gesture that lets the siren sound later
    btn.disabled = true;
    err.textContent = "";
    try {
      await login(user.value.trim(), pass.value);
      await ctx.loggedIn();
      ctx.go(session.role === "installer" ? "#/provision" : "#/queue"); // installers see no alarms
    } catch (e2) {
      err.textContent = e2.status === 429 ? t("login.limited") : e2.status === 401 || e2.status === 400 || e2.status === 403
        ? t("login.bad") : t("error.network");
      btn.disabled = false;
      pass.select();
    }
  });
  main.append(form);
  user.focus();
}
