// User administration, for admins: list, add, change role, disable or enable, reset a
// password, remove.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { api, session } from "../api.js";
import { dateTime } from "../format.js";

const ROLES = ["duty", "security", "installer", "admin"];

function roleSelect(value, attrs) {
  return h("select", attrs, ROLES.map((r) => h("option", { value: r, selected: r === value }, t("role." + r))));
}

export async function render(main, ctx) {
  main.append(h("h1", {}, t("users.title")));
  if (session.role !== "admin") { main.append(h("p", { class: "error" }, t("users.adminOnly"))); return; }
  const msg = h("p", { role: "status", id: "users-msg" });
  const body = h("tbody", {});
  const name = h("input", { id: "u-name", required: true, autocomplete: "off", pattern: "[a-z0-9][a-z0-9._-]{0,63}" });
  const display = h("input", { id: "u-display", autocomplete: "off" });
  const role = roleSelect("duty", { id: "u-role" });
  const pw = h("input", { id: "u-password", type: "password", required: true, minlength: 10, autocomplete: "new-password" });
  const add = h("form", { class: "panel row filters", id: "user-add" },
    h("label", {}, t("users.name"), name), h("label", {}, t("users.display"), display), h("label", {}, t("users.role"), role),
    h("label", {}, t("users.password"), pw), h("button", { class: "primary", type: "submit" }, t("users.add")));
  main.append(add, msg, h("table", { id: "users-table" }, h("thead", {}, h("tr", {},
    ["users.name", "users.display", "users.role", "users.status", "users.passwordAt", "users.actions"].map((k) => h("th", { scope: "col" }, t(k))))), body));

  const done = (text) => { msg.className = ""; msg.textContent = text; load(); };
  const fail = (e) => { msg.className = "error"; msg.textContent = t("error.action", { msg: e.message }); };
  const change = async (u, c, text) => { try { await api(`/users/${encodeURIComponent(u.name)}`, { method: "PATCH", body: c }); done(text); } catch (e) { fail(e); load(); } };

  function row(u) {
    const newPw = h("input", { type: "password", minlength: 10, autocomplete: "new-password", "aria-label": t("users.newPassword"), placeholder: t("users.newPassword") });
    return h("tr", { dataset: { name: u.name } },
      h("td", {}, u.name, u.name === session.user ? h("span", { class: "muted" }, ` (${t("users.you")})`) : null),
      h("td", {}, u.display || ""),
      h("td", {}, roleSelect(u.role, { "aria-label": t("users.role"), onchange: (e) => change(u, { role: e.target.value }, t("users.saved", { name: u.name })) })),
      h("td", {}, u.disabled ? h("span", { class: "state-offline" }, t("users.disabled")) : h("span", { class: "state-online" }, t("users.enabled"))),
      h("td", {}, dateTime(u.password_changed_at)),
      h("td", { class: "row" },
        h("button", { type: "button", class: "quiet", onclick: () => change(u, { disabled: !u.disabled }, t(u.disabled ? "users.enabledMsg" : "users.disabledMsg", { name: u.name })) },
          t(u.disabled ? "users.enable" : "users.disable")),
        h("form", { class: "row", onsubmit: async (e) => {
          e.preventDefault();
          try { await api(`/users/${encodeURIComponent(u.name)}/password`, { method: "POST", body: { password: newPw.value } }); done(t("users.pwReset", { name: u.name })); }
          catch (e2) { fail(e2); }
        } }, newPw, h("button", { type: "submit", class: "quiet" }, t("users.reset"))),
        h("button", { type: "button", class: "quiet", onclick: async () => {
          if (!confirm(t("users.confirmRemove", { name: u.name }))) return;
          try { await api(`/users/${encodeURIComponent(u.name)}`, { method: "DELETE" }); done(t("users.removed", { name: u.name })); } catch (e) { fail(e); }
        } }, t("users.remove"))));
  }
  async function load() {
    try { replace(body, (await api("/users")).users.map(row)); } catch (e) { fail(e); }
  }
  add.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const n = name.value.trim();
      await api("/users", { method: "POST", body: { name: n, display: display.value.trim(), role: role.value, password: pw.value } });
      add.reset();
      done(t("users.added", { name: n }));
    } catch (e2) { fail(e2); }
  });
  await load();
}
