// The REST API client: JSON in and out, the session cookie sent by the browser, the CSRF token
// added to every state-changing request, and one place that notices a lost login.

export const session = { user: "", role: "", csrf: "" };
let onLoggedOut = () => {};

// whenLoggedOut sets what happens when a request finds the login gone (401).
export function whenLoggedOut(f) { onLoggedOut = f; }

// ApiError is a failed request: status and the server's error text.
export class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

// api calls /api/v1 + path. Body, if given, is sent as JSON.
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  let r;
  try {
    r = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store", signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", null);
  }
  let data = null;
  if (r.status !== 204) {
    const text = await r.text();
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  }
  if (!r.ok) {
    if (r.status === 401 && path !== "/login") {
      session.user = session.role = session.csrf = "";
      onLoggedOut();
    }
    throw new ApiError(r.status, (data && data.error) || r.statusText, data);
  }
  return data;
}

function adopt(me) {
  session.user = me.user;
  session.role = me.role;
  session.csrf = me.csrf_token || "";
  return me;
}

// login starts a session; the server sets the cookie.
export async function login(user, password) { return adopt(await api("/login", { method: "POST", body: { user, password } })); }
// me returns the current session, or null when not logged in.
export async function me() {
  try { return adopt(await api("/me")); } catch (e) { if (e.status === 401) return null; throw e; }
}
// logout ends the session.
export async function logout() {
  try { await api("/logout", { method: "POST" }); } finally { session.user = session.role = session.csrf = ""; }
}
