// Provisioning, the installer's page: add a device by form or many from a CSV file; each new
// device's MQTT password and connection settings are shown once, with a QR code to scan into
// the device; then the page follows each new device live (waiting → connected → first
// message) from the gateway's device stream, and can remove one, which revokes its login.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { api, session, ApiError } from "../api.js";
import { dateTime } from "../format.js";

const FAMILIES = ["callbutton", "locker", "charger"];
const CSV_HEADER = "family,id,name,building,unit,room,grid_code,heartbeat_interval,password,product_key,resident_name,resident_age,resident_phone,resident_medical_notes,resident_lives_alone,contact_name,contact_relation,contact_phone";

// importCSV posts a CSV file's text; api() speaks JSON only.
async function importCSV(text) {
  const r = await fetch("/api/v1/devices/import", { method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "text/csv; charset=utf-8", Accept: "application/json", "X-CSRF-Token": session.csrf }, body: text });
  let data = null;
  try { data = await r.json(); } catch { data = { error: r.statusText }; }
  if (!r.ok) throw new ApiError(r.status, data?.error || r.statusText, data);
  return data;
}

function field(id, label, attrs = {}) {
  return h("label", { for: id }, t(label), h("input", { id, name: id, ...attrs }));
}

// problemList shows a refused request's problems: strings (the form) or {line, column, message} (CSV).
function problemList(e) {
  const ps = e.body?.problems || [];
  return h("div", { class: "problems", role: "alert" },
    h("p", { class: "error" }, ps.length ? t("prov.problems", { n: ps.length }) : t("error.action", { msg: e.message })),
    ps.length && typeof ps[0] === "object"
      ? h("table", { id: "import-problems" }, h("thead", {}, h("tr", {}, ["prov.line", "prov.column", "prov.problem"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, ps.map((p) => h("tr", {}, h("td", {}, String(p.line)), h("td", {}, p.column ? h("code", {}, p.column) : "—"), h("td", {}, p.message)))))
      : h("ul", {}, ps.map((p) => h("li", {}, p))));
}

// step is a device's progress: waiting, online (connected), message (first message received),
// or removed.
function step(d) {
  const hl = d.health || {};
  if (hl.first_message) return "message";
  if (hl.state === "online") return "online";
  return "waiting";
}

export async function render(main, ctx) {
  if (session.role !== "installer" && session.role !== "admin") {
    main.append(h("h1", {}, t("prov.title")), h("p", { class: "error" }, t("prov.forbidden")));
    return;
  }
  const cards = new Map(); // id → { li, device }
  const list = h("ul", { id: "new-devices", class: "new-devices" });
  const listEmpty = h("p", { id: "new-devices-empty", class: "muted" }, t("prov.none"));

  // one new device: password, QR code, settings, live progress, remove
  function card(nd) {
    const d = nd.device, c = nd.connection;
    const progress = h("ol", { class: "progress" },
      ["waiting", "online", "message"].map((s) => h("li", { dataset: { step: s } }, t("prov.step." + s))));
    const when = h("p", { class: "muted when", "aria-live": "polite" });
    const actions = h("div", { class: "row actions" });
    const li = h("li", { class: "panel new-device", dataset: { id: d.id, step: "waiting" } },
      h("h3", {}, d.name || d.id, " ", h("span", { class: "muted" }, `${d.id} · ${t("family." + d.family)}`)),
      h("div", { class: "row top" },
        h("figure", { class: "qr" }, h("img", { class: "qr", src: nd.qr, alt: t("prov.qrAlt", { id: d.id }) }),
          h("figcaption", { class: "muted" }, t("prov.qrHint"))),
        h("div", { class: "settings" },
          h("p", { class: "once" }, t("prov.once")),
          h("dl", {},
            h("dt", {}, t("prov.broker")), h("dd", { class: "broker" }, `${c.host}:${c.port || c.tls_port}`, c.tls_port && c.port ? ` (TLS ${c.tls_port})` : ""),
            h("dt", {}, t("prov.username")), h("dd", {}, h("code", {}, c.id)),
            h("dt", {}, t("prov.password")), h("dd", {}, h("code", { class: "password" }, nd.mqtt_password)),
            h("dt", {}, t("prov.prefix")), h("dd", {}, h("code", {}, c.prefix + "/…"))),
          h("details", {}, h("summary", {}, t("prov.json")), h("pre", {}, JSON.stringify(c, null, 1))))),
      progress, when, actions);
    const entry = { li, device: d, removed: false };
    const askRemove = () => replace(actions,
      h("span", { class: "error" }, t("prov.confirmRemove", { id: d.id })),
      h("button", { type: "button", class: "danger confirm-remove", onclick: remove }, t("prov.removeYes")),
      h("button", { type: "button", class: "quiet", onclick: showRemove }, t("prov.removeNo")));
    const showRemove = () => replace(actions, h("button", { type: "button", class: "remove", onclick: askRemove }, t("prov.remove")));
    async function remove() {
      try {
        await api(`/devices/${encodeURIComponent(d.id)}`, { method: "DELETE" });
      } catch (e) {
        if (e.status !== 404) { replace(actions, h("span", { class: "error" }, t("error.action", { msg: e.message }))); return; }
      }
      entry.removed = true;
      li.dataset.step = "removed";
      li.querySelector("img.qr").remove();
      li.querySelector(".password").textContent = "—";
      replace(when, t("prov.removed"));
      replace(actions);
      ctx.announce(t("prov.removed"));
    }
    showRemove();
    entry.update = (dev) => {
      if (entry.removed) return;
      entry.device = dev;
      const s = step(dev);
      li.dataset.step = s;
      li.dataset.state = dev.health?.state || "unknown";
      const order = ["waiting", "online", "message"];
      for (const el of progress.children) el.classList.toggle("done", order.indexOf(el.dataset.step) <= order.indexOf(s));
      const hl = dev.health || {};
      replace(when, s === "message" ? t("prov.firstAt", { at: dateTime(hl.first_message) })
        : s === "online" ? t("prov.onlineAt", { at: dateTime(hl.state_since) }) : t("prov.waitingHint"),
        hl.state === "offline" && s !== "waiting" ? " · " + t("dstate.offline") : "");
    };
    entry.update(d);
    return entry;
  }

  function added(nds) {
    for (const nd of nds) {
      const e = card(nd);
      cards.set(nd.device.id, e);
      list.prepend(e.li);
    }
    listEmpty.hidden = cards.size > 0;
    ctx.announce(t("prov.added", { n: nds.length }));
  }

  // the form: one device
  const family = h("select", { id: "p-family", name: "family" }, FAMILIES.map((f) => h("option", { value: f }, t("family." + f))));
  const contacts = h("div", { id: "p-contacts" });
  const addContact = () => contacts.append(h("div", { class: "row contact" },
    h("label", {}, t("prov.contactName"), h("input", { class: "c-name" })),
    h("label", {}, t("prov.contactRelation"), h("input", { class: "c-relation" })),
    h("label", {}, t("prov.contactPhone"), h("input", { class: "c-phone", type: "tel" }))));
  addContact();
  const resident = h("fieldset", { id: "p-resident" }, h("legend", {}, t("prov.resident")),
    h("div", { class: "row" }, field("p-res-name", "prov.residentName"), field("p-res-age", "prov.residentAge", { type: "number", min: 0, max: 130 }),
      field("p-res-phone", "prov.residentPhone", { type: "tel" })),
    h("label", { for: "p-res-notes" }, t("prov.medicalNotes"), h("textarea", { id: "p-res-notes", rows: 2 })),
    h("p", { class: "muted" }, t("prov.contacts")), contacts,
    h("button", { type: "button", class: "quiet", onclick: addContact }, t("prov.addContact")));
  const showResident = () => { resident.hidden = family.value !== "callbutton"; };
  family.addEventListener("change", showResident);
  showResident();
  const formMsg = h("div", { id: "add-result", "aria-live": "polite" });
  const val = (id) => document.getElementById(id).value.trim();
  const form = h("form", { id: "add-form", class: "panel", novalidate: true },
    h("h2", {}, t("prov.addOne")),
    h("div", { class: "row" }, h("label", { for: "p-family" }, t("devices.family"), family), field("p-id", "prov.id", { required: true, autocomplete: "off" }),
      field("p-name", "prov.name")),
    h("div", { class: "row" }, field("p-building", "prov.building"), field("p-unit", "prov.unit"), field("p-room", "prov.room"),
      field("p-grid", "prov.gridCode", { inputmode: "numeric" }), field("p-heartbeat", "prov.heartbeat", { value: "60s" })),
    resident,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "add-submit" }, t("prov.addSubmit"))),
    formMsg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { id: val("p-id"), family: family.value, name: val("p-name"),
      location: { building: val("p-building"), unit: val("p-unit"), room: val("p-room") },
      grid_code: val("p-grid"), heartbeat_interval: val("p-heartbeat") };
    if (family.value === "callbutton" && val("p-res-name")) {
      body.resident = { name: val("p-res-name"), age: Number(val("p-res-age") || 0), phone: val("p-res-phone"), medical_notes: val("p-res-notes"),
        emergency_contacts: [...contacts.querySelectorAll(".contact")].map((r) => ({ name: r.querySelector(".c-name").value.trim(),
          relation: r.querySelector(".c-relation").value.trim(), phone: r.querySelector(".c-phone").value.trim() })).filter((c) => c.name || c.phone) };
    }
    const btn = document.getElementById("add-submit");
    btn.disabled = true;
    try {
      const nd = await api("/devices", { method: "POST", body });
      replace(formMsg, h("p", {}, t("prov.addedOne", { id: nd.device.id })));
      added([nd]);
      for (const id of ["p-id", "p-name", "p-room", "p-res-name", "p-res-age", "p-res-phone", "p-res-notes"]) document.getElementById(id).value = "";
      for (const i of contacts.querySelectorAll("input")) i.value = "";
    } catch (e) {
      replace(formMsg, e.status === 409 ? h("p", { class: "error", role: "alert" }, t("prov.exists", { id: body.id })) : problemList(e));
    } finally {
      btn.disabled = false;
    }
  });

  // the CSV import
  const file = h("input", { type: "file", id: "csv-file", accept: ".csv,text/csv" });
  const text = h("textarea", { id: "csv-text", rows: 6, spellcheck: "false", placeholder: CSV_HEADER });
  file.addEventListener("change", async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const importMsg = h("div", { id: "import-result", "aria-live": "polite" });
  const importBtn = h("button", { type: "button", class: "primary", id: "import-submit" }, t("prov.importSubmit"));
  importBtn.addEventListener("click", async () => {
    if (!text.value.trim()) { replace(importMsg, h("p", { class: "error" }, t("prov.importEmpty"))); return; }
    importBtn.disabled = true;
    try {
      const r = await importCSV(text.value);
      replace(importMsg, h("p", {}, t("prov.imported", { n: r.devices.length })));
      added(r.devices);
      text.value = "";
      file.value = "";
    } catch (e) {
      replace(importMsg, e.status === 413 || e.status === 415 || e.status === 409 ? h("p", { class: "error", role: "alert" }, e.message) : problemList(e));
    } finally {
      importBtn.disabled = false;
    }
  });
  const importBox = h("section", { id: "import", class: "panel" },
    h("h2", {}, t("prov.import")),
    h("p", { class: "muted" }, t("prov.importHint")), h("pre", { class: "csv-header" }, CSV_HEADER),
    h("div", { class: "row" }, h("label", { for: "csv-file" }, t("prov.file"), file)),
    h("label", { for: "csv-text" }, t("prov.paste"), text),
    h("div", { class: "row" }, importBtn), importMsg);

  main.append(h("h1", {}, t("prov.title")), h("p", { class: "muted" }, t("prov.intro")),
    h("div", { class: "provision" }, form, importBox),
    h("section", { id: "new" }, h("h2", {}, t("prov.new")), h("p", { class: "muted" }, t("prov.newHint")), listEmpty, list));

  // live progress: device changes from the gateway; after each (re)connection, reread the
  // devices on the page so nothing that happened meanwhile is missed
  const live = h("span", { id: "prov-live", class: "link down", role: "status" }, t("link.down"));
  main.querySelector("#new h2").append(" ", live);
  const es = new EventSource("/api/v1/stream/devices");
  es.addEventListener("device", (e) => { const d = JSON.parse(e.data); cards.get(d.id)?.update(d); });
  es.addEventListener("ready", async () => {
    live.className = "link up";
    live.textContent = t("link.up");
    for (const [id, c] of cards) {
      if (c.removed) continue;
      try { c.update((await api(`/devices/${encodeURIComponent(id)}`)).device); } catch { /* removed elsewhere */ }
    }
  });
  es.onerror = () => { live.className = "link down"; live.textContent = t("link.down"); };
  return () => es.close();
}
