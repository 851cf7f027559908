// Checks (检查), the installer's and admin's page: runs the gateway's own installation checks
// (GET /api/v1/doctor, the same as `gateway doctor`) and shows each with its result, what was
// found and how to fix it, coloured by result. The texts come from the gateway in the
// console's language.
import { h, replace } from "../dom.js";
import { t, lang } from "../i18n.js";
import { api, session } from "../api.js";

const STATUSES = ["pass", "warn", "fail", "skip"];

function table(results) {
  return h("table", { id: "doctor-table" },
    h("thead", {}, h("tr", {}, ["doctor.check", "doctor.result", "doctor.detail", "doctor.fix"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", {}, results.map((r) => {
      const st = STATUSES.includes(r.status) ? r.status : "fail";
      return h("tr", { class: "doctor-" + st, dataset: { check: r.id, status: st } },
        h("th", { scope: "row" }, r.name),
        h("td", {}, h("span", { class: "doctor-status" }, t("doctor.status." + st))),
        h("td", { class: "doctor-detail" }, r.detail),
        h("td", {}, r.fix || ""));
    })));
}

export async function render(main) {
  main.append(h("h1", {}, t("doctor.title")));
  if (session.role !== "installer" && session.role !== "admin") {
    main.append(h("p", { class: "error" }, t("doctor.forbidden")));
    return;
  }
  const btn = h("button", { type: "button", class: "primary", id: "doctor-run" }, t("doctor.run"));
  const summary = h("p", { id: "doctor-summary", role: "status" });
  const out = h("div", { id: "doctor-result" });
  main.append(h("p", { class: "muted" }, t("doctor.intro")), h("div", { class: "row" }, btn), summary, out);
  const run = async () => {
    btn.disabled = true;
    summary.className = "muted";
    summary.textContent = t("doctor.running");
    try {
      const r = await api("/doctor?lang=" + lang());
      summary.className = r.fail ? "error" : r.warn ? "doctor-warn-text" : "doctor-ok-text";
      summary.textContent = t(r.ok ? "doctor.summaryOK" : "doctor.summaryFail", r);
      replace(out, table(r.results || []));
    } catch (e) {
      summary.className = "error";
      summary.textContent = t("error.action", { msg: e.message });
    } finally {
      btn.disabled = false;
    }
  };
  btn.addEventListener("click", run);
  run();
}
