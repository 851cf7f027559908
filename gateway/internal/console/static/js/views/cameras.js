// Cameras: the security staff's wall. Every camera plays over WebRTC (WHEP to the gateway,
// which relays the camera: the browser never learns its address or password); an overlay
// shows its name and state (直播 / 信号中断 / 离线), pushed by the gateway on each player's
// data channel and polled from /api/v1/cameras as well; one click on a feed makes it fullscreen.
import { h, replace } from "../dom.js";
import { lang } from "../i18n.js";
import { api, session } from "../api.js";

const TEXT = {
  zh: { title: "摄像机", none: "没有配置摄像机", live: "直播", stale: "信号中断", offline: "离线", idle: "连接中…",
    failed: "无法播放", full: "点击全屏", building: "{b}号楼", nearby: "附近摄像机" },
  en: { title: "Cameras", none: "No cameras configured", live: "Live", stale: "Signal lost", offline: "Offline",
    idle: "Connecting…", failed: "Cannot play", full: "Click for fullscreen", building: "Building {b}", nearby: "Nearby camera" },
};
const tr = (k, b) => (TEXT[lang()] || TEXT.zh)[k].replace("{b}", b ?? "");

// Player plays one camera over WHEP into a video element. onstatus receives the gateway's
// liveness messages ({state, last_frame_age_ms, dropped}) pushed every second on the
// "status" data channel.
export class Player {
  constructor(id, video, onstatus) {
    this.id = id;
    this.video = video;
    this.onstatus = onstatus;
    this.pc = null;
    this.location = "";
    this.closed = false;
  }

  async start() {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    this.video._pc = pc; // for tests and diagnostics: getStats()
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const dc = pc.createDataChannel("status");
    dc.onmessage = (e) => { try { this.onstatus?.(JSON.parse(e.data)); } catch { /* ignore */ } };
    pc.ontrack = (e) => {
      if (e.track.kind === "video") this.video.srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    const headers = { "Content-Type": "application/sdp" };
    if (session.csrf) headers["X-CSRF-Token"] = session.csrf;
    const r = await fetch(`/api/v1/cameras/${encodeURIComponent(this.id)}/whep`, {
      method: "POST", headers, body: pc.localDescription.sdp, credentials: "same-origin", cache: "no-store" });
    if (r.status !== 201) throw new Error(`whep ${r.status}`);
    this.location = r.headers.get("Location") || "";
    const answer = await r.text();
    if (this.closed) { this.stop(); return; }
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    this.video.play().catch(() => {});
  }

  stop() {
    this.closed = true;
    if (this.pc) this.pc.close();
    if (this.location) {
      const headers = session.csrf ? { "X-CSRF-Token": session.csrf } : {};
      fetch(this.location, { method: "DELETE", headers, credentials: "same-origin", keepalive: true }).catch(() => {});
      this.location = "";
    }
  }
}

// gathered waits for ICE gathering to finish (the gateway does not trickle), at most ms.
function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

// tile is one camera on the wall.
function tile(cam) {
  const video = h("video", { muted: true, autoplay: true, playsinline: true, dataset: { camera: cam.id } });
  video.muted = true;
  const state = h("span", { class: "cam-state" });
  const el = h("figure", { class: "cam-tile", dataset: { camera: cam.id }, title: tr("full"), tabindex: "0" },
    video,
    h("figcaption", { class: "cam-overlay" },
      h("span", { class: "cam-name" }, cam.name || cam.id, cam.building ? ` · ${tr("building", cam.building)}` : ""), state));
  const full = () => (document.fullscreenElement ? document.exitFullscreen() : el.requestFullscreen()).catch(() => {});
  el.addEventListener("click", full);
  el.addEventListener("keydown", (e) => { if (e.key === "Enter") full(); });
  return { el, video, state };
}

function showState(t, cam, failed) {
  const s = failed ? "failed" : cam.state === "live" || cam.state === "stale" || cam.state === "offline" ? cam.state : "idle";
  t.el.dataset.state = s;
  t.state.className = `cam-state cam-${s}`;
  replace(t.state, tr(s));
}

export async function render(main, ctx) {
  const grid = h("div", { id: "camera-wall", class: "cam-wall" });
  replace(main, h("h1", {}, tr("title")), grid);
  let cams = [];
  try { cams = (await api("/cameras")).cameras || []; } catch (e) { ctx.toast(String(e.message || e)); }
  if (!cams.length) { replace(grid, h("p", { class: "muted" }, tr("none"))); return () => {}; }
  const tiles = new Map();
  const players = [];
  for (const cam of cams) {
    const t = tile(cam);
    tiles.set(cam.id, t);
    grid.append(t.el);
    showState(t, cam, false);
    const p = new Player(cam.id, t.video, (st) => showState(t, { ...cam, ...st }, t.failed));
    players.push(p);
    p.start().catch(() => { t.failed = true; showState(t, cam, true); });
  }
  let stopped = false;
  const poll = async () => {
    if (stopped) return;
    try {
      for (const cam of (await api("/cameras")).cameras || []) {
        const t = tiles.get(cam.id);
        if (t) showState(t, cam, t.failed);
      }
    } catch { /* the next poll tries again */ }
  };
  const timer = setInterval(poll, 1000);
  return () => { stopped = true; clearInterval(timer); for (const p of players) p.stop(); };
}

// cameraPanel shows, after el, the first camera of building playing live (the duty staff's
// alarm page: the camera nearest the alarm). It returns a function that stops it.
export async function cameraPanel(el, building) {
  if (!building) return () => {};
  let cams = [];
  try { cams = (await api("/cameras")).cameras || []; } catch { return () => {}; }
  const cam = cams.find((c) => c.building === building);
  if (!cam || !el.isConnected) return () => {};
  const t = tile(cam);
  showState(t, cam, false);
  const panel = h("section", { class: "panel", id: "alarm-camera" }, h("h2", {}, tr("nearby")), t.el);
  el.after(panel);
  const p = new Player(cam.id, t.video, (st) => showState(t, { ...cam, ...st }, t.failed));
  p.start().catch(() => { t.failed = true; showState(t, cam, true); });
  return () => { p.stop(); panel.remove(); };
}
