// Camera setup, the installer's page: search the LAN for ONVIF cameras (WS-Discovery, about
// 2 s), take one into the form with its RTSP URL filled in, test it (codec, resolution, frame
// rate, or why it cannot be played) and save it: the gateway stores it, credentials sealed,
// and it is on the camera wall at once. Cameras added here can be removed here; those of the
// configuration file cannot.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { api, session } from "../api.js";

const REASONS = ["unreachable", "unauthorized", "not_found", "no_playable_track", "timeout", "error"];

function field(id, label, attrs = {}) {
  return h("label", { for: id }, t(label), h("input", { id, name: id, autocomplete: "off", ...attrs }));
}

// probeText describes a probe report for people.
function probeText(p) {
  if (p.ok) {
    return t("cams.probeOK", { codec: p.codec, w: p.width, h: p.height, fps: (p.frame_rate || 0).toFixed(1),
      audio: p.audio ? p.audio : t("cams.noAudio") });
  }
  const why = REASONS.includes(p.reason) ? t("cams.reason." + p.reason) : p.reason;
  return t("cams.probeFail", { why });
}

// idFor makes a camera id from a discovered device: cam- and its address.
function idFor(d) { return "cam-" + String(d.address).replace(/[^A-Za-z0-9]+/g, "-"); }

export async function render(main, ctx) {
  if (session.role !== "installer" && session.role !== "admin") {
    main.append(h("h1", {}, t("cams.title")), h("p", { class: "error" }, t("cams.forbidden")));
    return;
  }
  const val = (id) => document.getElementById(id).value.trim();

  // discovery
  const iface = h("input", { id: "c-iface", placeholder: t("cams.allInterfaces"), autocomplete: "off", size: 10 });
  const searchBtn = h("button", { type: "button", id: "discover-btn", class: "primary" }, t("cams.search"));
  const found = h("div", { id: "discovered", "aria-live": "polite" });
  searchBtn.addEventListener("click", async () => {
    searchBtn.disabled = true;
    replace(found, h("p", { class: "muted" }, t("cams.searching")));
    try {
      const body = iface.value.trim() ? { interface: iface.value.trim() } : {};
      const r = await api("/cameras/discover", { method: "POST", body });
      const ds = r.devices || [];
      replace(found,
        h("p", { class: "muted", id: "discover-summary" }, t("cams.found", { n: ds.length, ms: r.duration_ms, ifs: (r.interfaces || []).join(", ") })),
        ds.length ? h("table", { id: "discover-table" },
          h("thead", {}, h("tr", {}, ["cams.address", "cams.name", "cams.hardware", "cams.location", ""].map((k) => h("th", { scope: "col" }, k ? t(k) : "")))),
          h("tbody", {}, ds.map((d) => h("tr", { dataset: { address: d.address } },
            h("td", {}, d.address), h("td", {}, d.name || "—"), h("td", {}, d.hardware || "—"), h("td", {}, (d.location || []).join(", ") || "—"),
            h("td", {}, h("button", { type: "button", class: "take", onclick: () => take(d) }, t("cams.add"))))))) : null);
    } catch (e) {
      replace(found, h("p", { class: "error", role: "alert" }, t("error.action", { msg: e.message })));
    } finally {
      searchBtn.disabled = false;
    }
  });

  // the form: test, then save
  const result = h("div", { id: "cam-result", "aria-live": "polite" });
  const force = h("input", { type: "checkbox", id: "c-force" });
  const forceRow = h("label", { for: "c-force", hidden: true }, force, " ", t("cams.force"));
  const saveBtn = h("button", { type: "submit", class: "primary", id: "save-btn", disabled: true }, t("cams.save"));
  const testBtn = h("button", { type: "button", id: "test-btn" }, t("cams.test"));
  const form = h("form", { id: "cam-form", class: "panel", novalidate: true },
    h("h2", {}, t("cams.addTitle")),
    h("div", { class: "row" }, field("c-id", "cams.id", { required: true }), field("c-name", "cams.name", { required: true }), field("c-building", "cams.building")),
    h("div", { class: "row" }, field("c-url", "cams.url", { required: true, size: 48, placeholder: "rtsp://192.168.1.64:554/Streaming/Channels/101" })),
    h("div", { class: "row" }, field("c-user", "cams.username"), field("c-pass", "cams.password", { type: "password" })),
    h("p", { class: "muted" }, t("cams.sealed")),
    h("div", { class: "row" }, testBtn, saveBtn, forceRow),
    result);
  let tested = ""; // the form's contents when the last test passed
  const snapshot = () => JSON.stringify([val("c-url"), val("c-user"), document.getElementById("c-pass").value]);
  const resetTest = () => { if (snapshot() !== tested) { saveBtn.disabled = !force.checked; } };
  form.addEventListener("input", resetTest);
  force.addEventListener("change", () => { saveBtn.disabled = !force.checked && snapshot() !== tested; });

  function take(d) {
    document.getElementById("c-id").value = idFor(d);
    document.getElementById("c-name").value = d.name || d.hardware || d.address;
    document.getElementById("c-url").value = d.rtsp_url;
    tested = "";
    saveBtn.disabled = true;
    replace(result, h("p", { class: "muted" }, t("cams.taken", { addr: d.address })));
    document.getElementById("c-user").focus();
  }

  testBtn.addEventListener("click", async () => {
    testBtn.disabled = true;
    replace(result, h("p", { class: "muted" }, t("cams.testing")));
    try {
      const p = await api("/cameras/probe", { method: "POST", body: { url: val("c-url"), username: val("c-user"), password: document.getElementById("c-pass").value } });
      replace(result, h("p", { id: "probe-result", class: p.ok ? "ok" : "error", dataset: { ok: String(p.ok) } }, probeText(p)));
      if (p.ok) tested = snapshot();
      saveBtn.disabled = !p.ok && !force.checked;
      forceRow.hidden = p.ok;
    } catch (e) {
      replace(result, h("p", { class: "error", role: "alert" }, t("error.action", { msg: e.message })));
    } finally {
      testBtn.disabled = false;
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    saveBtn.disabled = true;
    const body = { id: val("c-id"), name: val("c-name"), building: val("c-building"), url: val("c-url"), username: val("c-user"),
      password: document.getElementById("c-pass").value, force: force.checked };
    try {
      const r = await api("/cameras", { method: "POST", body });
      replace(result, h("p", { id: "save-result", class: "ok" }, t("cams.saved", { name: r.camera.name }), " ", probeText(r.probe)));
      document.getElementById("c-pass").value = "";
      tested = "";
      ctx.announce(t("cams.saved", { name: r.camera.name }));
      await loadList();
    } catch (e) {
      const ps = e.body?.problems;
      replace(result, h("div", { class: "problems", role: "alert" },
        h("p", { class: "error" }, e.body?.probe ? probeText(e.body.probe) : t("error.action", { msg: e.message })),
        ps ? h("ul", {}, ps.map((p) => h("li", {}, p))) : null));
      if (e.body?.probe) forceRow.hidden = false;
      saveBtn.disabled = false;
    }
  });

  // the site's cameras
  const list = h("ul", { id: "cam-list", class: "cam-list" });
  async function loadList() {
    let cams = [];
    try { cams = (await api("/cameras")).cameras || []; } catch (e) { replace(list, h("li", { class: "error" }, e.message)); return; }
    replace(list, cams.length ? cams.map((c) => {
      const actions = h("span", { class: "actions" });
      const li = h("li", { dataset: { camera: c.id, origin: c.origin } }, h("strong", {}, c.name || c.id), ` ${c.id}`,
        c.building ? ` · ${t("cams.buildingN", { b: c.building })}` : "", " · ", h("span", { class: "muted" }, t("cams.origin." + (c.origin || "config"))), " ", actions);
      if (c.origin === "runtime") {
        const askRemove = () => replace(actions, h("span", { class: "error" }, t("cams.confirmRemove", { id: c.id })), " ",
          h("button", { type: "button", class: "danger confirm-remove", onclick: remove }, t("prov.removeYes")),
          h("button", { type: "button", class: "quiet", onclick: () => loadList() }, t("prov.removeNo")));
        async function remove() {
          try { await api(`/cameras/${encodeURIComponent(c.id)}`, { method: "DELETE" }); } catch (e) {
            if (e.status !== 404) { replace(actions, h("span", { class: "error" }, t("error.action", { msg: e.message }))); return; }
          }
          ctx.announce(t("cams.removed", { id: c.id }));
          loadList();
        }
        actions.append(h("button", { type: "button", class: "remove", onclick: askRemove }, t("cams.remove")));
      }
      return li;
    }) : h("li", { class: "muted" }, t("cams.none")));
  }

  replace(main, h("h1", {}, t("cams.title")),
    h("section", { class: "panel", id: "discover-panel" }, h("h2", {}, t("cams.searchTitle")), h("p", { class: "muted" }, t("cams.searchHint")),
      h("div", { class: "row" }, h("label", { for: "c-iface" }, t("cams.interface"), iface), searchBtn), found),
    form,
    h("section", { class: "panel" }, h("h2", {}, t("cams.listTitle")), list));
  await loadList();
}
