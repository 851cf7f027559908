// Alarm history with filters (time range, type, building, state). The filters live in the
// address (#/history?…), so a reload or a shared link shows the same list.
import { h, replace } from "../dom.js";
import { t, pick } from "../i18n.js";
import { api } from "../api.js";
import { dateTime, place, zonedToMS, msToZoned } from "../format.js";
import { sevBadge, tags } from "./queue.js";

export const alarmTypes = ["sos", "fall", "inactivity", "tamper", "low_battery", "device_offline", "door_left_open", "power_lost",
  "parcel_uncollected", "smoke", "over_temperature", "charger_fault", "temperature_high", "over_power"];

export async function render(main, ctx, _arg, query) {
  const from = h("input", { type: "datetime-local", id: "f-from", name: "from", value: query.get("from") || msToZoned(Date.now() - 7 * 86400e3) });
  const to = h("input", { type: "datetime-local", id: "f-to", name: "to", value: query.get("to") || "" });
  const type = h("select", { id: "f-type", name: "type" }, h("option", { value: "" }, t("filter.any")),
    alarmTypes.map((x) => h("option", { value: x, selected: query.get("type") === x }, t("type." + x))));
  const building = h("input", { id: "f-building", name: "building", size: 6, value: query.get("building") || "" });
  const state = h("select", { id: "f-state", name: "state" }, ["all", "open", "resolved"].map((x) =>
    h("option", { value: x, selected: (query.get("state") || "all") === x }, t("filter.state." + x))));
  const form = h("form", { class: "filters panel row", id: "history-filters", role: "search" },
    h("label", {}, t("filter.from"), from), h("label", {}, t("filter.to"), to), h("label", {}, t("filter.type"), type),
    h("label", {}, t("filter.building"), building), h("label", {}, t("filter.state"), state),
    h("button", { class: "primary", type: "submit" }, t("filter.apply")));
  const out = h("div", { id: "history-results", "aria-live": "polite" });
  main.append(h("h1", {}, t("history.title")), form, out);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, el] of [["from", from], ["to", to], ["type", type], ["building", building], ["state", state]]) if (el.value.trim()) q.set(k, el.value.trim());
    ctx.go("#/history?" + q);
  });

  const q = new URLSearchParams({ state: state.value, limit: "500" });
  if (from.value) q.set("from", String(zonedToMS(from.value)));
  if (to.value) q.set("to", String(zonedToMS(to.value)));
  if (type.value) q.set("type", type.value);
  if (building.value.trim()) q.set("building", building.value.trim());
  let r;
  try { r = await api("/alarms?" + q); } catch (e) { replace(out, h("p", { class: "error" }, t("error.action", { msg: e.message }))); return; }
  const outcomes = r.outcomes || [];
  const outcomeName = (c) => { const o = outcomes.find((x) => x.code === c); return o ? pick(o.zh, o.en) : c || ""; };
  if (!r.alarms.length) { replace(out, h("p", { class: "empty" }, t("history.none"))); return; }
  replace(out, h("p", { class: "muted" }, t("history.count", { n: r.alarms.length })),
    h("table", { id: "history-table" },
      h("thead", {}, h("tr", {}, ["history.raised", "history.severity", "history.alarm", "history.where", "history.state", "history.outcome", "history.closedBy"]
        .map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, r.alarms.map((a) => {
        const d = a.device_info || {};
        return h("tr", { dataset: { id: a.id } },
          h("td", {}, dateTime(a.raised)),
          h("td", {}, sevBadge(a.severity)),
          h("td", {}, h("a", { href: `#/alarm/${encodeURIComponent(a.id)}` }, pick(a.title_zh, a.title_en))),
          h("td", {}, d.resident ? `${d.resident.name} · ` : "", place(d.location), " · ", d.name || a.device),
          h("td", {}, tags(a)),
          h("td", { class: "outcome" }, outcomeName(a.outcome), a.note ? h("div", { class: "muted" }, a.note) : null),
          h("td", {}, a.resolved_by ? `${a.resolved_by} · ${dateTime(a.resolved_at)}` : ""));
      }))));
}
