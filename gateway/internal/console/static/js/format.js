// Formatting for people: times in the site's time zone, places, durations, severities.
import { t, locale } from "./i18n.js";

export const site = { name: "", code: "", timeZone: "Asia/Shanghai" };

function fmt(opts) { return new Intl.DateTimeFormat(locale(), { timeZone: site.timeZone, hourCycle: "h23", ...opts }); }

// dateTime formats Unix ms as date and time in the site's zone.
export function dateTime(ms) {
  if (!ms) return "—";
  return fmt({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(ms);
}
// clock formats Unix ms as the time of day, or date and time when not today.
export function when(ms) {
  if (!ms) return "—";
  const day = fmt({ year: "numeric", month: "2-digit", day: "2-digit" });
  if (day.format(ms) !== day.format(Date.now())) return dateTime(ms);
  return fmt({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(ms);
}
// ago says how long ago ms was, coarsely.
export function ago(ms, now = Date.now()) {
  if (!ms) return "—";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return t("ago.s", { n: s });
  if (s < 3600) return t("ago.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ago.h", { n: Math.floor(s / 3600) });
  return t("ago.d", { n: Math.floor(s / 86400) });
}

// parts returns the wall-clock fields of ms in the site's zone.
function parts(ms) {
  const o = {};
  for (const p of fmt({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(ms)) o[p.type] = Number(p.value);
  return o;
}

// zonedToMS turns a datetime-local value ("2024-05-01T08:30"), read as wall time in the site's
// zone, into Unix ms. Empty gives 0.
export function zonedToMS(v) {
  if (!v) return 0;
  const [d, tm = "00:00"] = v.split("T");
  const [y, mo, da] = d.split("-").map(Number);
  const [hh, mi, ss = 0] = tm.split(":").map(Number);
  const want = Date.UTC(y, mo - 1, da, hh, mi, ss);
  let guess = want;
  for (let i = 0; i < 3; i++) {
    const p = parts(guess);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    guess += want - seen;
  }
  return guess;
}
// msToZoned is the inverse: Unix ms to a datetime-local value in the site's zone.
export function msToZoned(ms) {
  const p = parts(ms);
  const z = (n) => String(n).padStart(2, "0");
  return `${p.year}-${z(p.month)}-${z(p.day)}T${z(p.hour)}:${z(p.minute)}`;
}

// place is building/unit/room in the local way.
export function place(loc) {
  if (!loc) return "";
  const out = [];
  if (loc.building) out.push(t("loc.building", { v: loc.building }));
  if (loc.unit) out.push(t("loc.unit", { v: loc.unit }));
  if (loc.room) out.push(t("loc.room", { v: loc.room }));
  return out.join(" ");
}

export const severities = ["critical", "high", "medium", "low"];
export function severityRank(s) { const i = severities.indexOf(s); return i < 0 ? 9 : i; }

// num shows a number with a unit, or a dash.
export function num(v, unit) { return v === null || v === undefined ? "—" : `${Math.round(v * 10) / 10}${unit}`; }
