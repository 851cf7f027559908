// The alarm queue: every open alarm, most severe first, then oldest first; live from the feed.
// Cards are keyed by alarm id and rebuilt only when their alarm changes, so focus stays put.
import { h } from "../dom.js";
import { t, pick } from "../i18n.js";
import { api, session } from "../api.js";
import { when, ago, place, severityRank } from "../format.js";

export function mayAct(role) { return role === "duty" || role === "admin"; }

function order(a, b) {
  return severityRank(a.severity) - severityRank(b.severity) || a.raised - b.raised || (a.id < b.id ? -1 : 1);
}

// tags are the small state markers of an alarm, shared with the detail page.
export function tags(a) {
  return [
    h("span", { class: `tag state-${a.state}` }, t("state." + a.state)),
    a.escalated ? h("span", { class: "tag escalated", title: when(a.escalated_at) }, t("alarm.escalated")) : null,
    a.cancelled_at ? h("span", { class: "tag cancelled" }, t("alarm.cancelled", { at: when(a.cancelled_at) })) : null,
    a.count > 1 ? h("span", { class: "tag" }, t("alarm.repeats", { n: a.count })) : null,
    a.case_id ? h("span", { class: "tag" }, t("alarm.case", { state: a.case_state || a.case_id })) : null,
  ];
}

export function sevBadge(s) { return h("span", { class: `sev ${s}` }, t("sev." + s)); }

function card(a, ctx) {
  const d = a.device_info || {};
  const r = d.resident;
  const flash = a.severity === "critical" && a.state === "raised";
  const ack = mayAct(session.role) && a.state === "raised"
    ? h("button", { class: "danger", type: "button", "data-action": "ack", onclick: async (e) => {
      const b = e.currentTarget;
      b.disabled = true;
      try { ctx.feed.put((await api(`/alarms/${encodeURIComponent(a.id)}/ack`, { method: "POST" })).alarm); }
      catch (err) { ctx.toast(t("error.action", { msg: err.message })); b.disabled = false; }
    } }, t("action.ack"))
    : null;
  return h("li", { class: `alarm-card sev-${a.severity} st-${a.state}${flash ? " flash" : ""}`, dataset: { id: a.id, state: a.state },
    "aria-label": `${t("sev." + a.severity)} ${pick(a.title_zh, a.title_en)}` },
  h("div", { class: "sevcol" }, sevBadge(a.severity), tags(a)),
  h("div", { class: "title" }, h("a", { href: `#/alarm/${encodeURIComponent(a.id)}` }, pick(a.title_zh, a.title_en))),
  h("div", { class: "actions" }, ack, h("a", { class: "button", href: `#/alarm/${encodeURIComponent(a.id)}` }, t("action.open"))),
  h("div", { class: "where" },
    r ? h("strong", { class: "resident" }, r.name, r.age ? ` (${t("resident.ageN", { n: r.age })})` : "") : null,
    r ? " · " : null, place(d.location), " · ", d.name || a.device,
    r && r.phone ? [" · ", h("a", { href: `tel:${r.phone}`, class: "phone-link" }, "☎ ", r.phone)] : null),
  h("div", { class: "meta" },
    h("span", {}, t("alarm.raisedAt", { at: when(a.raised) }), " (", h("span", { "data-ago": a.raised }, ago(a.raised)), ")"),
    a.ack_by ? h("span", {}, t("alarm.ackBy", { who: a.ack_by, at: when(a.ack_at) })) : null));
}

export function render(main, ctx) {
  const list = h("ol", { class: "queue", id: "queue", "aria-live": "polite" });
  const empty = h("p", { class: "empty", id: "queue-empty" }, t("queue.empty"));
  main.append(h("h1", {}, t("queue.title")), empty, list);
  const nodes = new Map(); // id → {li, sig}
  const draw = () => {
    const alarms = [...ctx.feed.open.values()].sort(order);
    empty.hidden = alarms.length > 0;
    empty.textContent = ctx.feed.connected || alarms.length ? t("queue.empty") : t("queue.loading");
    const keep = new Set();
    let prev = null;
    for (const a of alarms) {
      keep.add(a.id);
      const sig = JSON.stringify(a);
      let n = nodes.get(a.id);
      if (!n || n.sig !== sig) {
        const li = card(a, ctx);
        if (n) n.li.replaceWith(li);
        n = { li, sig };
        nodes.set(a.id, n);
      }
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== n.li) list.insertBefore(n.li, want);
      prev = n.li;
    }
    for (const [id, n] of nodes) if (!keep.has(id)) { n.li.remove(); nodes.delete(id); }
  };
  const tick = setInterval(() => { for (const el of list.querySelectorAll("[data-ago]")) el.textContent = ago(Number(el.dataset.ago)); }, 15000);
  ctx.feed.addEventListener("change", draw);
  ctx.feed.addEventListener("reset", draw);
  ctx.feed.addEventListener("device", draw);
  ctx.feed.addEventListener("link", draw);
  draw();
  return () => {
    clearInterval(tick);
    ctx.feed.removeEventListener("change", draw);
    ctx.feed.removeEventListener("reset", draw);
    ctx.feed.removeEventListener("device", draw);
    ctx.feed.removeEventListener("link", draw);
  };
}
