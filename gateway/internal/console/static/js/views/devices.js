// Devices: the list with each one's health, live from the stream, and one device with its
// latest events and, where the gateway keeps time series, a chart of its telemetry.
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { api } from "../api.js";
import { dateTime, ago, place, num } from "../format.js";
import { deviceCard, residentCard } from "./alarm.js";
import { lineChart } from "../chart.js";

const METRICS = { callbutton: ["battery_pct", "rssi_dbm"], locker: ["temperature_c", "humidity_pct", "occupied"],
  charger: ["power_w", "temp_c", "voltage_v", "current_a", "energy_wh"] };

function row(d) {
  const hl = d.health || {};
  return h("tr", { dataset: { id: d.id } },
    h("td", {}, h("a", { href: `#/device/${encodeURIComponent(d.id)}` }, d.name || d.id), h("div", { class: "muted" }, d.id)),
    h("td", {}, t("family." + d.family)),
    h("td", {}, place(d.location)),
    h("td", {}, d.resident ? d.resident.name : ""),
    h("td", { class: `state-${hl.state || "unknown"}` }, t("dstate." + (hl.state || "unknown"))),
    h("td", {}, num(hl.battery_pct, "%")),
    h("td", {}, num(hl.rssi_dbm, " dBm")),
    h("td", {}, hl.last_seen ? ago(hl.last_seen) : "—"));
}

export async function render(main, ctx, _arg, query) {
  const fam = h("select", { id: "d-family" }, h("option", { value: "" }, t("filter.any")),
    Object.keys(METRICS).map((f) => h("option", { value: f, selected: query.get("family") === f }, t("family." + f))));
  const st = h("select", { id: "d-state" }, h("option", { value: "" }, t("filter.any")),
    ["online", "offline"].map((s) => h("option", { value: s, selected: query.get("state") === s }, t("dstate." + s))));
  const onFilter = () => ctx.go("#/devices?" + new URLSearchParams(Object.entries({ family: fam.value, state: st.value }).filter(([, v]) => v)));
  fam.addEventListener("change", onFilter);
  st.addEventListener("change", onFilter);
  const body = h("tbody", {});
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  main.append(h("h1", {}, t("devices.title")),
    h("div", { class: "filters panel row" }, h("label", {}, t("devices.family"), fam), h("label", {}, t("device.state"), st)),
    summary,
    h("table", { id: "devices-table" }, h("thead", {}, h("tr", {}, ["device.name", "devices.family", "resident.address", "resident.title",
      "device.state", "device.battery", "device.signal", "device.lastSeen"].map((k) => h("th", { scope: "col" }, t(k))))), body));
  const q = new URLSearchParams(Object.entries({ family: fam.value, state: st.value }).filter(([, v]) => v));
  let r;
  try { r = await api("/devices?" + q); } catch (e) { summary.textContent = t("error.action", { msg: e.message }); return; }
  const byID = new Map(r.devices.map((d) => [d.id, d]));
  const draw = () => {
    const ds = [...byID.values()].sort((a, b) => (a.health?.state === "offline" ? 0 : 1) - (b.health?.state === "offline" ? 0 : 1) || a.id.localeCompare(b.id));
    const off = ds.filter((d) => d.health?.state === "offline").length;
    summary.textContent = t("devices.summary", { n: ds.length, off });
    replace(body, ds.map(row));
  };
  const onDevice = (e) => { if (byID.has(e.detail.id)) { byID.set(e.detail.id, e.detail); draw(); } };
  ctx.feed.addEventListener("device", onDevice);
  draw();
  return () => ctx.feed.removeEventListener("device", onDevice);
}

async function drawChart(box, d, metric, hours) {
  const to = Date.now(), from = to - hours * 3600e3;
  const q = new URLSearchParams({ metric, from: String(from), to: String(to) });
  try {
    const r = await api(`/devices/${encodeURIComponent(d.id)}/series?` + q);
    const lines = (r.series || []).filter((l) => l.points && l.points.length);
    if (!lines.length) { replace(box, h("p", { class: "muted" }, t("chart.empty"))); return; }
    replace(box, lineChart(lines, `${t("metric." + metric)} · ${t("chart.hours", { n: hours })}`),
      lines.length > 1 ? h("p", { class: "muted" }, lines.map((l, i) => `${i ? " · " : ""}${t("chart.port", { n: l.port ?? i + 1 })}`)) : null);
  } catch (e) {
    replace(box, h("p", { class: "muted" }, e.status === 404 || e.status === 405 ? t("chart.unavailable") : t("error.action", { msg: e.message })));
  }
}

export async function renderOne(main, ctx, id) {
  const view = h("div", {});
  main.append(view);
  let r;
  try { r = await api(`/devices/${encodeURIComponent(id)}`); }
  catch (e) { replace(view, h("h1", {}, t("device.title")), h("p", { class: "error" }, e.status === 404 ? t("device.notFound") : e.message)); return; }
  const d = r.device;
  const metrics = METRICS[d.family] || [];
  const metric = h("select", { id: "chart-metric" }, metrics.map((m) => h("option", { value: m }, t("metric." + m))));
  const hours = h("select", { id: "chart-hours" }, [1, 6, 24, 168].map((n) => h("option", { value: n, selected: n === 24 }, t("chart.hours", { n }))));
  const box = h("div", { class: "chart", id: "telemetry-chart", dataset: { device: d.id } }, h("p", { class: "muted" }, t("chart.loading")));
  const redraw = () => drawChart(box, d, metric.value, Number(hours.value));
  metric.addEventListener("change", redraw);
  hours.addEventListener("change", redraw);
  const cardBox = h("div", {}, deviceCard(d, d.id));
  replace(view,
    h("p", {}, h("a", { href: "#/devices" }, "← ", t("nav.devices"))),
    h("h1", {}, d.name || d.id, " ", h("span", { class: "muted" }, `${d.id} · ${t("family." + d.family)} · ${place(d.location)}`)),
    h("div", { class: "detail" },
      cardBox,
      d.resident ? residentCard(d.resident, d.location) : null,
      h("section", { class: "panel", id: "telemetry" }, h("h2", {}, t("chart.title")),
        metrics.length ? h("div", { class: "row" }, h("label", {}, t("chart.metric"), metric), h("label", {}, t("chart.range"), hours)) : null,
        box)),
    h("section", { class: "panel", id: "events" }, h("h2", {}, t("device.events")),
      r.events.length ? h("table", {}, h("thead", {}, h("tr", {}, ["event.time", "event.type", "event.data"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, r.events.map((e) => h("tr", {}, h("td", {}, dateTime(e.ts)), h("td", {}, t("event." + e.type) === "event." + e.type ? e.type : t("event." + e.type)),
          h("td", {}, h("code", {}, JSON.stringify(e.data)))))))
        : h("p", { class: "muted" }, t("device.noEvents"))));
  if (metrics.length) redraw(); else replace(box, h("p", { class: "muted" }, t("chart.empty")));
  const onDevice = (e) => { if (e.detail.id === d.id) replace(cardBox, deviceCard(e.detail, d.id)); };
  ctx.feed.addEventListener("device", onDevice);
  return () => ctx.feed.removeEventListener("device", onDevice);
}
