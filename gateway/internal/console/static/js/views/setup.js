// The first-run setup page: shown instead of the login while the gateway has no admin account.
// It sets the admin account and the site (name, code, time zone, grid code) once, from the
// box's local network; the gateway then restarts with the new site and the console continues
// logged in as the new admin.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { api, me } from "../api.js";

// state is what GET /api/v1/setup said: whether the setup is needed, and whether this browser
// is on the gateway's local network.
export const state = { needed: false, lan: true };

// check asks the gateway whether the setup is needed (410 and any failure: it is not).
export async function check() {
  try {
    const r = await api("/setup");
    state.needed = r.needed === true;
    state.lan = r.lan !== false;
  } catch {
    state.needed = false;
  }
  return state.needed;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitForRestart polls /me until the restarted gateway answers (it answers 503 while it
// restarts, and nothing while it binds its port again); false if the session is not accepted.
async function waitForRestart() {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    try { return (await me()) !== null; } catch { /* 503 or no answer: restarting */ }
    await sleep(300);
  }
  return false;
}

export function render(main, ctx) {
  const input = (id, attrs = {}) => h("input", { id, name: id, required: true, ...attrs });
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const guess = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const f = {
    admin: input("setup-admin", { autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 32 }),
    password: input("setup-password", { type: "password", autocomplete: "new-password", minlength: 10 }),
    password_confirm: input("setup-password2", { type: "password", autocomplete: "new-password", minlength: 10 }),
    site_name: input("setup-site-name", { maxlength: 64 }),
    site_code: input("setup-site-code", { autocapitalize: "none", spellcheck: "false", maxlength: 63, pattern: "[a-z0-9][a-z0-9_\\-]*" }),
    time_zone: input("setup-time-zone", { list: "setup-zones", value: guess && guess !== "UTC" ? guess : "Asia/Shanghai", spellcheck: "false" }),
    grid_code: input("setup-grid-code", { inputmode: "numeric", maxlength: 15, pattern: "[0-9]{15}" }),
  };
  // what each field must be, shown under it when the gateway refuses it
  const rules = {
    admin: t("setup.rule.admin"), password: t("setup.rule.password"), password_confirm: t("setup.rule.passwordConfirm"),
    site_name: t("setup.rule.siteName"), site_code: t("setup.rule.siteCode"), time_zone: t("setup.rule.timeZone"),
    grid_code: t("setup.rule.gridCode"),
  };
  const errs = {};
  const field = (key, label, hint) => {
    errs[key] = h("span", { class: "error", id: `${f[key].id}-error`, role: "alert" });
    f[key].setAttribute("aria-describedby", `${f[key].id}-error`);
    return h("label", {}, label, f[key], hint ? h("span", { class: "muted" }, hint) : null, errs[key]);
  };
  const err = h("p", { class: "error", role: "alert", id: "setup-error" });
  const status = h("p", { role: "status", id: "setup-status" });
  const btn = h("button", { class: "primary", type: "submit", id: "setup-submit", disabled: !state.lan }, t("setup.submit"));
  const form = h("form", { class: "login setup panel", "aria-labelledby": "setup-title", novalidate: true },
    h("h1", { id: "setup-title" }, t("setup.title")),
    h("p", {}, t("setup.intro")),
    state.lan ? null : h("p", { class: "error", id: "setup-not-lan" }, t("setup.notLan")),
    h("fieldset", {}, h("legend", {}, t("setup.adminSection")),
      field("admin", t("setup.admin")),
      field("password", t("setup.password"), t("setup.rule.password")),
      field("password_confirm", t("setup.passwordConfirm"))),
    h("fieldset", {}, h("legend", {}, t("setup.siteSection")),
      field("site_name", t("setup.siteName")),
      field("site_code", t("setup.siteCode"), t("setup.siteCodeHint")),
      field("time_zone", t("setup.timeZone"), t("setup.rule.timeZone")),
      h("datalist", { id: "setup-zones" }, zones.map((z) => h("option", { value: z }))),
      field("grid_code", t("setup.gridCode"), t("setup.rule.gridCode"))),
    btn, err, status);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ctx.siren.unlock(); // the click is the gesture that lets the siren sound later
    for (const k of Object.keys(f)) { errs[k].textContent = ""; f[k].removeAttribute("aria-invalid"); }
    err.textContent = "";
    const body = Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value]));
    btn.disabled = true;
    let res;
    try {
      res = await api("/setup", { method: "POST", body });
    } catch (e2) {
      btn.disabled = false;
      if (e2.status === 400 && e2.body && e2.body.fields) {
        let first = null;
        for (const k of Object.keys(e2.body.fields)) {
          if (!f[k]) continue;
          f[k].setAttribute("aria-invalid", "true");
          errs[k].textContent = rules[k];
          errs[k].title = e2.body.fields[k]; // the gateway's own words, in English
          first = first || f[k];
        }
        err.textContent = t("setup.invalid");
        if (first) first.focus();
      } else if (e2.status === 409 || e2.status === 410) {
        state.needed = false;
        err.textContent = t("setup.alreadyDone");
        setTimeout(() => ctx.go("#/login"), 2500);
      } else if (e2.status === 403) {
        err.textContent = t("setup.forbidden");
      } else {
        err.textContent = e2.status ? t("error.action", { msg: e2.message }) : t("error.network");
      }
      return;
    }
    state.needed = false;
    replace(status, t("setup.restarting", { site: res.site ? res.site.name : "" }));
    if (!(await waitForRestart())) {
      replace(status);
      err.textContent = t("setup.loginPlease");
      setTimeout(() => ctx.go("#/login"), 2500);
      return;
    }
    await ctx.loggedIn();
    ctx.go("#/queue");
  });
  main.append(form);
  f.admin.focus();
}
