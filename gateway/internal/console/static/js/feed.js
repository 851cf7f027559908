// The live alarm feed: the open alarms, kept current from the gateway's Server-Sent Events
// stream. Alarms are keyed by id and updated in place, so a catch-up after a reconnect never
// duplicates one; each (re)connection ends its catch-up with a fresh snapshot of the open
// alarms, so none is lost either (changes that arrive while the snapshot loads are applied
// after it, in order).
import { api } from "./api.js";

export class AlarmFeed extends EventTarget {
  constructor() {
    super();
    this.open = new Map();
    this.outcomes = [];
    this.lastSeq = 0;
    this.connected = false;
    this.es = null;
    this.buffer = null; // changes held while a snapshot loads
    this.retry = 0;
    this.timer = 0;
    this.stopped = true;
  }

  // start connects; stop disconnects and forgets everything (at logout).
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
    this.open = new Map();
    this.lastSeq = 0;
    this.setConnected(false);
  }

  connect() {
    if (this.stopped) return;
    const es = new EventSource("/api/v1/stream" + (this.lastSeq ? `?after=${this.lastSeq}` : ""));
    this.es = es;
    es.addEventListener("alarm", (e) => this.onChange(JSON.parse(e.data)));
    es.addEventListener("ready", () => { this.retry = 0; this.setConnected(true); this.snapshot(); });
    es.addEventListener("device", (e) => this.onDevice(JSON.parse(e.data)));
    es.addEventListener("resync", () => this.reconnect(0));
    es.onerror = () => this.reconnect(Math.min(500 * 2 ** this.retry++, 8000));
  }

  // reconnect closes the stream and opens a new one after delay ms, with ?after= so the server
  // sends what was missed. A lost login shows as a 401 on /me and ends in the login page.
  reconnect(delay) {
    if (this.es) this.es.close();
    this.es = null;
    this.setConnected(false);
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      if (this.stopped) return;
      try { await api("/me"); } catch (e) { if (e.status === 401) return; }
      this.connect();
    }, delay);
  }

  async snapshot() {
    const es = this.es;
    this.buffer = [];
    try {
      const r = await api("/alarms?state=open&limit=1000");
      if (es !== this.es) return; // reconnected meanwhile; that connection takes its own snapshot
      this.open = new Map(r.alarms.map((a) => [a.id, a]));
      this.outcomes = r.outcomes || [];
      const held = this.buffer;
      this.buffer = null;
      for (const c of held) this.apply(c, false);
      this.dispatchEvent(new CustomEvent("reset"));
    } catch {
      this.buffer = null;
      if (es === this.es) this.reconnect(2000);
    }
  }

  onChange(c) {
    if (c.seq <= this.lastSeq) return;
    this.lastSeq = c.seq;
    if (this.buffer) this.buffer.push(c);
    else this.apply(c, true);
  }

  apply(c, live) {
    const a = c.alarm;
    if (a.state === "resolved") this.open.delete(a.id);
    else this.open.set(a.id, a);
    this.dispatchEvent(new CustomEvent("change", { detail: { change: c, live } }));
  }

  // put records an alarm a request returned (ack, resolve) without waiting for the stream.
  put(a) {
    if (a.state === "resolved") this.open.delete(a.id);
    else if (this.open.has(a.id)) this.open.set(a.id, a);
    this.dispatchEvent(new CustomEvent("change", { detail: { change: { kind: "local", alarm: a }, live: false } }));
  }

  onDevice(d) {
    for (const a of this.open.values()) if (a.device === d.id) a.device_info = d;
    this.dispatchEvent(new CustomEvent("device", { detail: d }));
  }

  setConnected(v) {
    if (this.connected === v) return;
    this.connected = v;
    this.dispatchEvent(new CustomEvent("link"));
  }
}
