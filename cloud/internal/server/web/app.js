// Grid centre web UI: plain JavaScript over the cloud's JSON API. Simplified Chinese by default,
// English available; times shown in the site's time zone from the session.
"use strict";

const T = {
  "zh-CN": {
    title: "网格化管理 · 案件中心", nav_cases: "案件", nav_gateways: "网关", nav_reports: "时效评价", logout: "退出",
    other_lang: "English", login: "登录", username: "用户名", password: "密码",
    cases: "案件列表", id: "编号", state: "状态", priority: "优先级", category: "类别", grid: "网格编码", site: "小区", address: "地址",
    reported: "上报时间", due: "办理时限", department: "处置部门", all: "全部", overdue_only: "仅超期", active_only: "仅在办",
    filter: "筛选", overdue: "超期", late: "超时", none: "无", back: "返回列表",
    urgent: "紧急", normal: "一般", resident: "居民", phone: "电话", unit: "房号", medical: "医疗信息", contact: "联系人",
    description: "描述", source: "来源", location: "坐标", timeline: "办理过程", steps: "可执行操作", no_actions: "当前角色无可执行操作",
    target: "派遣部门", note: "意见/原因", score: "评分", assignee: "处置人",
    gateways: "网关列表", name: "名称", link: "链路", last_contact: "最近联系", heartbeat: "心跳间隔(秒)", version: "版本", outbox: "待发",
    reports: "部门时效评价(近30天结案)", cases_n: "结案数", on_time_cases: "按时案件", steps_n: "环节数", late_steps: "超时环节", rate: "按时率",
    roles: { admin: "管理员", dispatcher: "受理派遣员", handler: "处置人员", inspector: "核查员", gateway: "网关" },
    states: { reported: "已上报", registered: "已立案", dispatched: "已派遣", handled: "已处置", verified: "已核查", closed: "已结案", evaluated: "已评价", returned: "已退回", parked: "已挂账" },
    actions: { report: "上报", register: "立案", dispatch: "派遣", handle: "处置完成", return: "退回", verify: "核查通过", reopen: "核查不通过", close: "结案", evaluate: "评价", park: "挂账", resume: "恢复办理" },
    links: { online: "在线", offline: "离线", never: "从未连接" },
    errors: { login_required: "请先登录", bad_login: "用户名或密码错误", rate_limited: "登录失败次数过多，请稍后再试", illegal_transition: "当前状态不允许此操作",
      forbidden: "当前角色无权执行此操作", invalid: "输入不完整或不正确", conflict: "案件已被他人更新，请刷新", csrf: "安全校验失败，请刷新页面", not_found: "未找到", internal: "服务器错误" },
    done: "操作成功",
  },
  en: {
    title: "Grid management · Case centre", nav_cases: "Cases", nav_gateways: "Gateways", nav_reports: "Timeliness", logout: "Log out",
    other_lang: "中文", login: "Log in", username: "Username", password: "Password",
    cases: "Cases", id: "No.", state: "State", priority: "Priority", category: "Category", grid: "Grid code", site: "Site", address: "Address",
    reported: "Reported", due: "Due", department: "Department", all: "All", overdue_only: "Overdue only", active_only: "Open only",
    filter: "Filter", overdue: "Overdue", late: "Late", none: "none", back: "Back to list",
    urgent: "Urgent", normal: "Normal", resident: "Resident", phone: "Phone", unit: "Unit", medical: "Medical notes", contact: "Contact",
    description: "Description", source: "Source", location: "Coordinates", timeline: "Timeline", steps: "Actions", no_actions: "No action for your role now",
    target: "Department", note: "Note / reason", score: "Score", assignee: "Assignee",
    gateways: "Gateways", name: "Name", link: "Link", last_contact: "Last contact", heartbeat: "Heartbeat (s)", version: "Version", outbox: "Pending",
    reports: "Timeliness per department (cases closed in the last 30 days)", cases_n: "Cases", on_time_cases: "On time", steps_n: "Steps", late_steps: "Late steps", rate: "On-time rate",
    roles: { admin: "Admin", dispatcher: "Dispatcher", handler: "Handler", inspector: "Inspector", gateway: "Gateway" },
    states: { reported: "Reported", registered: "Registered", dispatched: "Dispatched", handled: "Handled", verified: "Verified", closed: "Closed", evaluated: "Evaluated", returned: "Returned", parked: "Parked" },
    actions: { report: "Report", register: "Register", dispatch: "Dispatch", handle: "Handled", return: "Return", verify: "Verify", reopen: "Reject", close: "Close", evaluate: "Evaluate", park: "Park", resume: "Resume" },
    links: { online: "online", offline: "offline", never: "never connected" },
    errors: { login_required: "Please log in", bad_login: "Wrong username or password", rate_limited: "Too many failed logins; try again later", illegal_transition: "Not possible in this state",
      forbidden: "Your role may not do this", invalid: "Incomplete or invalid input", conflict: "Changed by someone else; reload", csrf: "Security check failed; reload the page", not_found: "Not found", internal: "Server error" },
    done: "Done",
  },
};

const state = { session: null, lang: localStorage.getItem("lang") || document.documentElement.lang || "zh-CN" };
const t = (k) => T[state.lang][k] ?? k;
const tt = (group, k) => (T[state.lang][group] || {})[k] || k;
const $ = (sel, root = document) => root.querySelector(sel);

// el builds an element: el("td", {class: "x"}, "text", child…). Text is never parsed as HTML.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : String(kid));
  return e;
}

function fmtTime(s) {
  if (!s) return "–";
  const tz = state.session?.time_zone || "Asia/Shanghai";
  return new Intl.DateTimeFormat(state.lang, { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(s));
}

function toast(msg, ok) {
  const b = $("#toast");
  b.textContent = msg;
  b.className = ok ? "ok" : "";
  b.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (b.hidden = true), 4000);
}

async function apiCall(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.session) headers["X-CSRF-Token"] = state.session.csrf;
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(tt("errors", data.code) + (data.error && data.code !== "bad_login" ? " — " + data.error : ""));
    err.code = data.code;
    err.status = resp.status;
    throw err;
  }
  return data;
}

function setLang(lang) {
  state.lang = lang;
  localStorage.setItem("lang", lang);
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  $("#lang").textContent = t("other_lang");
  route();
}

function showLogin() {
  $("#bar").hidden = true;
  const user = el("input", { name: "username", autocomplete: "username", required: true });
  const pass = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = el("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      state.session = await apiCall("POST", "/api/v1/session", { username: user.value, password: pass.value });
      afterLogin();
    } catch (e) { toast(e.message); }
  } },
  el("h1", {}, t("title")),
  el("label", {}, t("username"), user), el("label", {}, t("password"), pass),
  el("button", { class: "primary", type: "submit", id: "login-btn" }, t("login")),
  el("button", { type: "button", onclick: () => setLang(state.lang === "en" ? "zh-CN" : "en") }, t("other_lang")));
  $("#main").replaceChildren(form);
  user.focus();
}

function afterLogin() {
  $("#bar").hidden = false;
  const u = state.session.user;
  $("#who").textContent = `${u.display_name} · ${tt("roles", u.role)}${u.department ? " · " + u.department : ""}`;
  if (!location.hash || location.hash === "#/login") location.hash = "#/cases";
  else route();
}

async function route() {
  if (!state.session) return showLogin();
  const h = location.hash || "#/cases";
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", h.startsWith(a.getAttribute("href")));
  try {
    let m;
    if ((m = h.match(/^#\/cases\/(\d+)$/))) await showCase(m[1]);
    else if (h.startsWith("#/gateways")) await showGateways();
    else if (h.startsWith("#/reports")) await showReports();
    else await showCases();
  } catch (e) {
    if (e.status === 401) { state.session = null; return showLogin(); }
    toast(e.message);
  }
}

function badgeState(s) { return el("span", { class: "badge state-" + s }, tt("states", s)); }
function badgePriority(p) { return el("span", { class: "badge " + p }, t(p)); }

async function showCases() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const stateSel = el("select", { name: "state" }, el("option", { value: "" }, t("all")),
    Object.keys(T[state.lang].states).map((s) => el("option", { value: s, selected: q.get("state") === s }, tt("states", s))));
  const prSel = el("select", { name: "priority" }, el("option", { value: "" }, t("all")),
    ["urgent", "normal"].map((p) => el("option", { value: p, selected: q.get("priority") === p }, t(p))));
  const grid = el("input", { name: "grid", placeholder: t("grid"), value: q.get("grid") || "", size: 16 });
  const overdue = el("input", { type: "checkbox", name: "overdue", checked: q.get("overdue") === "1" });
  const active = el("input", { type: "checkbox", name: "active", checked: q.get("active") === "1" });
  const apply = () => {
    const p = new URLSearchParams();
    if (stateSel.value) p.set("state", stateSel.value);
    if (prSel.value) p.set("priority", prSel.value);
    if (grid.value) p.set("grid", grid.value);
    if (overdue.checked) p.set("overdue", "1");
    if (active.checked) p.set("active", "1");
    location.hash = "#/cases?" + p.toString();
  };
  const data = await apiCall("GET", "/api/v1/cases?" + q.toString());
  const rows = data.cases.map((c) => el("tr", { class: "link" + (c.overdue ? " overdue" : ""), "data-id": c.id, onclick: () => (location.hash = "#/cases/" + c.id) },
    el("td", {}, c.id), el("td", {}, badgeState(c.state), c.overdue ? [" ", el("span", { class: "badge overdue" }, t("overdue"))] : null),
    el("td", {}, badgePriority(c.priority)), el("td", {}, c.category.subclass_name, el("div", { class: "muted" }, c.category.class + c.category.subclass)),
    el("td", {}, c.site, el("div", { class: "muted" }, c.address)), el("td", {}, c.grid_code),
    el("td", {}, fmtTime(c.reported_at)), el("td", {}, fmtTime(c.due)), el("td", {}, c.department || "–")));
  $("#main").replaceChildren(
    el("h1", {}, t("cases")),
    el("div", { class: "filters" }, stateSel, prSel, grid, el("label", {}, overdue, t("overdue_only")), el("label", {}, active, t("active_only")),
      el("button", { class: "primary", type: "button", onclick: apply }, t("filter"))),
    el("table", { id: "cases" }, el("thead", {}, el("tr", {}, ["id", "state", "priority", "category", "site", "grid", "reported", "due", "department"].map((k) => el("th", {}, t(k))))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 9, class: "muted" }, t("none"))))));
}

function actionForm(view) {
  const c = view.case;
  if (!view.actions.length) return el("div", { class: "actions muted" }, t("no_actions"));
  const target = el("select", { name: "target" }, (state.session.departments || []).map((d) => el("option", { value: d }, d)));
  const assignee = el("input", { name: "assignee", placeholder: t("assignee"), size: 10 });
  const note = el("input", { name: "note", placeholder: t("note"), size: 30 });
  const score = el("select", { name: "score" }, [5, 4, 3, 2, 1].map((n) => el("option", { value: n }, n)));
  const needs = new Set(view.actions);
  const send = async (a) => {
    const body = { version: c.version, note: note.value };
    if (a === "dispatch") { body.target = target.value; body.assignee = assignee.value; }
    if (a === "evaluate") body.score = Number(score.value);
    try {
      await apiCall("POST", `/api/v1/cases/${c.id}/actions/${a}`, body);
      toast(t("done"), true);
      route();
    } catch (e) { toast(e.message); }
  };
  return el("div", { class: "actions" },
    needs.has("dispatch") ? [el("label", {}, t("target"), target), assignee] : null,
    needs.has("evaluate") ? el("label", {}, t("score"), score) : null,
    note,
    view.actions.map((a) => el("button", { type: "button", "data-action": a, onclick: () => send(a) }, tt("actions", a))));
}

async function showCase(id) {
  const view = await apiCall("GET", "/api/v1/cases/" + id);
  const c = view.case;
  const r = c.resident || {};
  const dl = (pairs) => el("dl", {}, pairs.filter(([, v]) => v !== undefined && v !== "" && v !== null).map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
  $("#main").replaceChildren(
    el("p", {}, el("a", { href: "#/cases" }, "← " + t("back"))),
    el("h1", {}, `#${c.id} `, c.category.subclass_name, " ", badgeState(c.state), " ", badgePriority(c.priority), c.overdue ? [" ", el("span", { class: "badge overdue" }, t("overdue"))] : null),
    el("h2", {}, t("steps")), actionForm(view),
    el("div", { class: "grid2" },
      el("div", {}, dl([["category", `${c.category.class_name} / ${c.category.subclass_name} (${c.category.kind === "event" ? "事件" : "部件"} ${c.category.class}${c.category.subclass})`],
        ["grid", c.grid_code], ["site", c.site], ["address", c.address], ["location", c.location ? `${c.location.lat}, ${c.location.lon}` : ""],
        ["source", `${c.gateway_id} · ${c.alarm_type} · ${c.device || ""}`], ["description", c.description],
        ["reported", fmtTime(c.reported_at)], ["due", c.due ? fmtTime(c.due) : ""], ["department", c.department], ["assignee", c.assignee]])),
      el("div", {}, dl([["resident", r.name], ["phone", r.phone], ["unit", r.unit], ["contact", r.contact ? `${r.contact} ${r.contact_phone || ""}` : ""], ["medical", r.medical_notes]]))),
    el("h2", {}, t("timeline")),
    el("ol", { class: "timeline" }, view.timeline.map((e) => el("li", {},
      el("strong", {}, tt("actions", e.action)), " → ", badgeState(e.to), e.late ? [" ", el("span", { class: "badge late" }, t("late"))] : null,
      el("span", { class: "muted" }, ` ${fmtTime(e.at)} · ${e.actor || ""} (${tt("roles", e.role)}${e.department ? " · " + e.department : ""})`),
      e.note ? el("div", {}, e.note) : null))));
}

async function showGateways() {
  const data = await apiCall("GET", "/api/v1/gateways");
  $("#main").replaceChildren(el("h1", {}, t("gateways")),
    el("table", { id: "gateways" }, el("thead", {}, el("tr", {}, ["id", "name", "link", "last_contact", "heartbeat", "version", "outbox"].map((k) => el("th", {}, t(k))))),
      el("tbody", {}, data.gateways.map((g) => el("tr", {}, el("td", {}, g.id), el("td", {}, g.name),
        el("td", {}, el("span", { class: "badge " + g.link }, tt("links", g.link))), el("td", {}, fmtTime(g.last_contact)),
        el("td", {}, g.heartbeat_s || "–"), el("td", {}, g.version || "–"), el("td", {}, g.outbox_pending))))));
}

async function showReports() {
  const data = await apiCall("GET", "/api/v1/reports/timeliness");
  $("#main").replaceChildren(el("h1", {}, t("reports")),
    el("table", {}, el("thead", {}, el("tr", {}, ["department", "cases_n", "on_time_cases", "steps_n", "late_steps", "rate"].map((k) => el("th", {}, t(k))))),
      el("tbody", {}, data.departments.map((d) => el("tr", {}, el("td", {}, d.department), el("td", {}, d.cases), el("td", {}, d.on_time_cases),
        el("td", {}, d.steps), el("td", {}, d.late_steps), el("td", {}, d.cases ? Math.round((100 * d.on_time_cases) / d.cases) + "%" : "–"))))));
}

async function boot() {
  $("#lang").addEventListener("click", () => setLang(state.lang === "en" ? "zh-CN" : "en"));
  $("#logout").addEventListener("click", async () => {
    try { await apiCall("DELETE", "/api/v1/session"); } catch (e) { /* already gone */ }
    state.session = null;
    location.hash = "#/login";
    showLogin();
  });
  window.addEventListener("hashchange", route);
  try { state.session = await apiCall("GET", "/api/v1/session"); } catch (e) { state.session = null; }
  setLang(state.lang);
  if (state.session) afterLogin();
  setInterval(() => { if (state.session && (location.hash || "").startsWith("#/cases") && !document.activeElement?.matches("input,select")) route(); }, 15000);
}

boot();
