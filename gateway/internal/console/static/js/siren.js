// The alarm sound, made with Web Audio (no audio file): a two-tone siren while a critical alarm
// is unacknowledged, and a short chime for other new alarms. Browsers start audio only after a
// user gesture, so the one AudioContext is created on the first click or key press (the login
// click counts) and kept. document.body.dataset.alarmSound says "on" while the siren sounds and
// dataset.audioState mirrors the context's state, for people's tools and the browser tests.

export class Siren {
  constructor() {
    this.ctx = null;
    this.nodes = null;
    this.wanted = false;
    this.mutedUntil = 0;
    this.onchange = () => {};
    const unlock = () => this.unlock();
    document.addEventListener("pointerdown", unlock, { capture: true });
    document.addEventListener("keydown", unlock, { capture: true });
  }

  // unlock creates or resumes the AudioContext; call it from a user gesture.
  unlock() {
    if (!this.ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return;
      this.ctx = new AC();
      this.ctx.onstatechange = () => { document.body.dataset.audioState = this.ctx.state; this.update(); };
      document.body.dataset.audioState = this.ctx.state;
    }
    if (this.ctx.state === "suspended") this.ctx.resume();
    this.update();
  }

  // ready reports whether sound can play now.
  ready() { return !!this.ctx && this.ctx.state === "running"; }

  // set says whether the siren should sound.
  set(on) { this.wanted = on; this.update(); }

  // mute silences the siren for ms; it sounds again after if still wanted.
  mute(ms) {
    this.mutedUntil = Date.now() + ms;
    clearTimeout(this.muteTimer);
    this.muteTimer = setTimeout(() => this.update(), ms + 50);
    this.update();
  }
  muted() { return Date.now() < this.mutedUntil; }

  update() {
    const play = this.wanted && !this.muted() && this.ready();
    if (play && !this.nodes) this.start();
    if (!play && this.nodes) this.stop();
    document.body.dataset.alarmSound = this.nodes ? "on" : "off";
    this.onchange();
  }

  start() {
    const c = this.ctx, now = c.currentTime;
    const tone = c.createOscillator(), lfo = c.createOscillator(), depth = c.createGain(), gain = c.createGain();
    tone.type = "sawtooth";
    tone.frequency.value = 800;
    lfo.type = "square";
    lfo.frequency.value = 1.25; // hi-lo, 0.4 s each
    depth.gain.value = 180;
    lfo.connect(depth).connect(tone.frequency);
    gain.gain.setValueAtTime(0, now);
    gain.gain.linearRampToValueAtTime(0.18, now + 0.05);
    tone.connect(gain).connect(c.destination);
    tone.start(now);
    lfo.start(now);
    this.nodes = { tone, lfo, gain };
  }

  stop() {
    const { tone, lfo, gain } = this.nodes, now = this.ctx.currentTime;
    gain.gain.setTargetAtTime(0, now, 0.02);
    tone.stop(now + 0.15);
    lfo.stop(now + 0.15);
    this.nodes = null;
  }

  // chime plays two short tones, for a new alarm that is not critical.
  chime() {
    if (!this.ready() || this.muted()) return;
    const c = this.ctx;
    [[880, 0], [660, 0.22]].forEach(([f, at]) => {
      const o = c.createOscillator(), g = c.createGain(), t0 = c.currentTime + at;
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t0);
      g.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.2);
      o.connect(g).connect(c.destination);
      o.start(t0);
      o.stop(t0 + 0.22);
    });
  }
}
