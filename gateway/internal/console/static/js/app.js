// The console's shell: login state, the header (site, navigation, link state, clock, sound,
// language), the hash router and the live feed every page shares.
import { t, lang, pick, setLang, translateStatic } from "./i18n.js";
import { api, me, logout, session, whenLoggedOut } from "./api.js";
import { site, dateTime } from "./format.js";
import { AlarmFeed } from "./feed.js";
import { Siren } from "./siren.js";
import { replace } from "./dom.js";
import * as loginView from "./views/login.js";
import * as queueView from "./views/queue.js";
import * as alarmView from "./views/alarm.js";
import * as historyView from "./views/history.js";
import * as devicesView from "./views/devices.js";
import * as usersView from "./views/users.js";
import * as camerasView from "./views/cameras.js";
import * as provisionView from "./views/provision.js";
import * as camsetupView from "./views/camsetup.js";
import * as setupView from "./views/setup.js";
import * as doctorView from "./views/doctor.js";

const routes = {
  login: loginView.render,
  queue: queueView.render,
  alarm: alarmView.render,
  history: historyView.render,
  devices: devicesView.render,
  device: devicesView.renderOne,
  users: usersView.render,
  cameras: camerasView.render,
  provision: provisionView.render,
  camsetup: camsetupView.render,
  setup: setupView.render,
  doctor: doctorView.render,
};

const main = document.getElementById("view");
const feed = new AlarmFeed();
const siren = new Siren();
let cleanup = () => {};
let toastTimer = 0;

const ctx = {
  feed, siren,
  go(hash) { if (location.hash === hash) route(); else location.hash = hash; },
  toast(msg) {
    const b = document.getElementById("banner");
    b.textContent = msg;
    b.className = "info";
    b.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { b.hidden = true; soundBanner(); }, 6000);
  },
  announce(msg) { document.getElementById("announce").textContent = msg; },
  async loggedIn() {
    await loadSite();
    if (session.role !== "installer") feed.start(); // the alarm stream is not theirs (403)
    showHeader();
  },
  rerender: () => route(),
};

async function loadSite() {
  try {
    const s = await api("/site");
    site.name = s.name || "";
    site.code = s.code || "";
    if (s.time_zone) site.timeZone = s.time_zone;
  } catch { /* keep the defaults; the pages still work */ }
}

function showHeader() {
  const top = document.getElementById("top");
  top.hidden = !session.user;
  document.getElementById("site-name").textContent = site.name;
  document.getElementById("who").textContent = session.user ? `${session.user} · ${t("role." + session.role)}` : "";
  for (const el of top.querySelectorAll("[data-role]")) el.hidden = !el.dataset.role.split(" ").includes(session.role);
  document.getElementById("lang-btn").textContent = lang() === "zh" ? "English" : "中文";
  document.getElementById("lang-btn").lang = lang() === "zh" ? "en" : "zh-CN";
  translateStatic(document);
  updateLink();
  updateSound();
  updateCount();
}

function updateLink() {
  const el = document.getElementById("link-state");
  el.hidden = session.role === "installer";
  el.className = "link " + (feed.connected ? "up" : "down");
  el.textContent = feed.connected ? t("link.up") : t("link.down");
}

function updateSound() {
  const b = document.getElementById("sound-btn");
  if (!siren.ready()) { b.textContent = t("sound.enable"); b.hidden = false; }
  else if (siren.muted()) b.textContent = t("sound.muted");
  else b.textContent = t("sound.mute");
  soundBanner();
}

// soundBanner warns when alarms cannot be heard (no gesture yet since the page loaded).
function soundBanner() {
  const b = document.getElementById("banner");
  if (!session.user || (b.className === "info" && !b.hidden)) return;
  const need = !siren.ready();
  b.className = "sound";
  b.hidden = !need;
  if (need) replace(b, t("sound.needGesture"));
}

function updateCount() {
  const n = feed.open.size;
  const unacked = [...feed.open.values()].filter((a) => a.state === "raised").length;
  const badge = document.getElementById("open-count");
  badge.hidden = n === 0;
  badge.textContent = String(n);
  badge.setAttribute("aria-label", t("queue.count", { n }));
  document.title = (unacked ? `(${unacked}) ` : "") + t("app.title") + (site.name ? " · " + site.name : "");
  const critical = [...feed.open.values()].some((a) => a.severity === "critical" && a.state === "raised");
  siren.set(critical);
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [p, q = ""] = raw.split("?");
  const [name, ...rest] = p.split("/");
  return { name: name || "queue", arg: rest.map(decodeURIComponent).join("/"), query: new URLSearchParams(q) };
}

async function route() {
  cleanup();
  cleanup = () => {};
  let { name, arg, query } = parseHash();
  // logged out: the login page, or the first-run setup while the gateway has no admin
  const gate = session.user ? "" : setupView.state.needed ? "setup" : "login";
  if (gate && name !== gate) { location.replace("#/" + gate); return; }
  if (session.user && (name === "login" || name === "setup")) { location.replace("#/queue"); return; }
  if (!routes[name]) name = "queue";
  for (const a of document.querySelectorAll("#nav a")) {
    const cur = a.dataset.nav === name || (a.dataset.nav === "devices" && name === "device");
    if (cur) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  const c = await routes[name](main, ctx, arg, query);
  if (typeof c === "function") cleanup = c;
}

document.getElementById("lang-btn").addEventListener("click", async () => {
  await setLang(lang() === "zh" ? "en" : "zh");
  showHeader();
  route();
});
document.getElementById("logout-btn").addEventListener("click", async () => {
  feed.stop();
  siren.set(false);
  await logout().catch(() => {});
  showHeader();
  ctx.go("#/login");
});
document.getElementById("sound-btn").addEventListener("click", () => {
  if (!siren.ready()) siren.unlock();
  else if (siren.muted()) siren.mute(0);
  else siren.mute(60000);
});
siren.onchange = updateSound;
feed.addEventListener("link", updateLink);
feed.addEventListener("reset", updateCount);
feed.addEventListener("change", (e) => {
  updateCount();
  const { change, live } = e.detail;
  if (live && change.kind === "raised") {
    const a = change.alarm;
    if (a.severity !== "critical") siren.chime();
    ctx.announce(t("queue.newAlarm", { title: pick(a.title_zh, a.title_en) }));
  }
});
whenLoggedOut(() => {
  feed.stop();
  siren.set(false);
  showHeader();
  if (parseHash().name !== "login") location.replace("#/login");
});
window.addEventListener("hashchange", route);
setInterval(() => {
  document.getElementById("clock").textContent = session.user ? dateTime(Date.now()) : "";
}, 1000);

translateStatic(document);
if (await me()) await ctx.loggedIn();
else { await setupView.check(); showHeader(); }
route();
