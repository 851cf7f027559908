// One alarm: who and where (the resident card), the device, the timeline, and the actions
// (acknowledge, resolve with an outcome and a note). It follows the feed while open.
import { h, replace } from "../dom.js";
import { t, pick } from "../i18n.js";
import { api, session } from "../api.js";
import { when, dateTime, ago, place, num } from "../format.js";
import { tags, sevBadge, mayAct } from "./queue.js";
import { cameraPanel } from "./cameras.js";

// residentCard shows who lives there; medical notes and contacts come only for roles that may read them.
export function residentCard(r, loc) {
  if (!r) return h("section", { class: "panel", id: "resident" }, h("h2", {}, t("resident.title")), h("p", { class: "muted" }, t("resident.none")));
  return h("section", { class: "panel", id: "resident", "aria-labelledby": "resident-h" },
    h("h2", { id: "resident-h" }, t("resident.title")),
    h("p", { class: "resident-name" }, r.name, r.age ? h("span", { class: "muted" }, ` ${t("resident.ageN", { n: r.age })}`) : null),
    h("dl", { class: "kv" },
      h("dt", {}, t("resident.address")), h("dd", { id: "resident-address" }, place(loc) || "—"),
      h("dt", {}, t("resident.phone")), h("dd", {}, r.phone ? h("a", { class: "phone", href: `tel:${r.phone}`, id: "resident-phone" }, "☎ ", r.phone) : "—"),
      h("dt", {}, t("resident.livesAlone")), h("dd", {}, r.lives_alone ? t("yes") : t("no"))),
    r.medical_notes ? [h("h2", {}, t("resident.medical")), h("p", { class: "medical", id: "medical-notes" }, r.medical_notes)] : null,
    r.emergency_contacts && r.emergency_contacts.length ? [h("h2", {}, t("resident.contacts")),
      h("ul", { id: "contacts" }, r.emergency_contacts.map((c) => h("li", {},
        `${c.name}（${c.relation}）`, " ", h("a", { class: "phone", href: `tel:${c.phone}` }, "☎ ", c.phone))))] : null);
}

// deviceCard shows a device's health.
export function deviceCard(d, id) {
  const hl = (d && d.health) || {};
  return h("section", { class: "panel", id: "device" },
    h("h2", {}, t("device.title")),
    h("dl", { class: "kv" },
      h("dt", {}, t("device.name")), h("dd", {}, h("a", { href: `#/device/${encodeURIComponent(id)}` }, d ? `${d.name} (${d.id})` : id)),
      h("dt", {}, t("device.state")), h("dd", { class: `state-${hl.state || "unknown"}` }, t("dstate." + (hl.state || "unknown"))),
      h("dt", {}, t("device.battery")), h("dd", {}, num(hl.battery_pct, "%")),
      h("dt", {}, t("device.signal")), h("dd", {}, num(hl.rssi_dbm, " dBm")),
      h("dt", {}, t("device.lastSeen")), h("dd", {}, hl.last_seen ? `${dateTime(hl.last_seen)} (${ago(hl.last_seen)})` : "—")));
}

function detailPairs(detail) {
  if (!detail) return null;
  let o;
  try { o = JSON.parse(detail); } catch { return h("p", {}, detail); }
  if (!o || typeof o !== "object") return h("p", {}, String(o));
  return h("dl", { class: "kv" }, Object.entries(o).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}

function outcomeName(code, outcomes) {
  const o = outcomes.find((x) => x.code === code);
  return o ? pick(o.zh, o.en) : code;
}

function actions(a, ctx, reload) {
  if (!mayAct(session.role) || a.state === "resolved") return null;
  const err = h("p", { class: "error", role: "alert" });
  const ack = a.state === "raised" ? h("button", { class: "danger", type: "button", id: "ack-btn", onclick: async () => {
    ack.disabled = true;
    try { ctx.feed.put((await api(`/alarms/${encodeURIComponent(a.id)}/ack`, { method: "POST" })).alarm); reload(); }
    catch (e) { err.textContent = t("error.action", { msg: e.message }); ack.disabled = false; }
  } }, t("action.ack")) : null;
  const outcome = h("select", { id: "outcome", required: true },
    h("option", { value: "" }, t("resolve.choose")),
    ctx.feed.outcomes.map((o) => h("option", { value: o.code }, pick(o.zh, o.en))));
  const note = h("textarea", { id: "note", maxlength: 2000 });
  const form = h("form", { class: "act", id: "resolve-form" },
    h("h2", {}, t("resolve.title")),
    h("label", {}, t("resolve.outcome"), outcome),
    h("label", {}, t("resolve.note"), note),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit", id: "resolve-btn" }, t("action.resolve"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!outcome.value) { err.textContent = t("resolve.needOutcome"); outcome.focus(); return; }
    try {
      const r = await api(`/alarms/${encodeURIComponent(a.id)}/resolve`, { method: "POST", body: { outcome: outcome.value, note: note.value.trim() } });
      ctx.feed.put(r.alarm);
      ctx.toast(t("resolve.done", { title: pick(a.title_zh, a.title_en), outcome: outcomeName(outcome.value, ctx.feed.outcomes) }));
      ctx.go("#/queue");
    } catch (e2) {
      err.textContent = e2.status === 409 ? t("resolve.conflict") : t("error.action", { msg: e2.message });
      reload();
    }
  });
  return h("section", { class: "panel", id: "actions" }, h("h2", {}, t("alarm.actions")), ack ? h("p", {}, ack) : null, form, err);
}

export async function render(main, ctx, id) {
  let alive = true, building = "";
  const view = h("div", {});
  main.append(view);
  const load = async () => {
    let r;
    try {
      if (!ctx.feed.outcomes.length) ctx.feed.outcomes = (await api("/alarms?state=open&limit=1")).outcomes || [];
      r = await api(`/alarms/${encodeURIComponent(id)}`);
    }
    catch (e) {
      if (alive) replace(view, h("h1", {}, t("alarm.title")), h("p", { class: "error" }, e.status === 404 ? t("alarm.notFound") : t("error.action", { msg: e.message })));
      return;
    }
    if (!alive) return;
    const a = r.alarm, d = a.device_info;
    building = d?.location?.building || "";
    // keep what the person is typing when the alarm changes under them
    const keepOutcome = view.querySelector("#outcome")?.value, keepNote = view.querySelector("#note")?.value;
    replace(view,
      h("p", {}, h("a", { href: "#/queue" }, "← ", t("nav.queue"))),
      h("h1", { id: "alarm-title" }, sevBadge(a.severity), " ", pick(a.title_zh, a.title_en), " ", tags(a)),
      h("div", { class: "detail" },
        residentCard(d && d.resident, d && d.location),
        h("section", { class: "panel", id: "alarm-facts" },
          h("h2", {}, t("alarm.facts")),
          h("dl", { class: "kv" },
            h("dt", {}, t("alarm.raised")), h("dd", {}, dateTime(a.raised)),
            h("dt", {}, t("alarm.last")), h("dd", {}, dateTime(a.last)),
            h("dt", {}, t("alarm.state")), h("dd", { id: "alarm-state" }, t("state." + a.state)),
            a.ack_by ? [h("dt", {}, t("alarm.ackedBy")), h("dd", {}, `${a.ack_by} · ${dateTime(a.ack_at)}`)] : null,
            a.resolved_by ? [h("dt", {}, t("alarm.resolvedBy")), h("dd", {}, `${a.resolved_by} · ${dateTime(a.resolved_at)}`)] : null,
            a.outcome ? [h("dt", {}, t("alarm.outcome")), h("dd", { id: "alarm-outcome" }, outcomeName(a.outcome, ctx.feed.outcomes))] : null,
            a.note ? [h("dt", {}, t("alarm.note")), h("dd", {}, a.note)] : null),
          detailPairs(a.detail)),
        actions(a, ctx, load),
        deviceCard(d, a.device),
        h("section", { class: "panel", id: "timeline" },
          h("h2", {}, t("alarm.timeline")),
          h("ol", { class: "timeline" }, r.timeline.map((c) => h("li", {},
            h("time", {}, dateTime(c.at)),
            h("span", {}, h("strong", {}, t("kind." + c.kind)), c.actor ? ` · ${c.actor}` : "", c.detail ? ` · ${c.detail}` : "")))))));
    if (keepOutcome) view.querySelector("#outcome").value = keepOutcome;
    if (keepNote) view.querySelector("#note").value = keepNote;
  };
  const onChange = (e) => { if (e.detail.change.alarm?.id === id && e.detail.change.kind !== "local") load(); };
  ctx.feed.addEventListener("change", onChange);
  await load();
  const stopCamera = await cameraPanel(view, building); // the camera of the alarm's building (cameras.js)
  return () => { alive = false; ctx.feed.removeEventListener("change", onChange); stopCamera(); };
}
