// A small line chart drawn as inline SVG: one or more series of [Unix ms, value] points.
import { svg } from "./dom.js";
import { when } from "./format.js";

const W = 800, H = 240, L = 56, R = 12, T = 12, B = 28;
const COLOURS = ["var(--link)", "var(--high)", "var(--ok)", "var(--critical)"];

// lineChart returns an <svg> for the series; label names the metric for screen readers.
export function lineChart(lines, label) {
  const pts = lines.flatMap((l) => l.points);
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.08;
  y0 -= pad; y1 += pad;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const ticks = [y0 + pad, (y0 + y1) / 2, y1 - pad];
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    ticks.map((v) => svg("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, String(Math.round(v * 10) / 10))),
    svg("text", { x: L, y: H - 8 }, when(x0)),
    svg("text", { x: W - R, y: H - 8, "text-anchor": "end" }, when(x1)),
    lines.map((l, i) => svg("polyline", { class: "series", style: `stroke:${COLOURS[i % COLOURS.length]}`,
      points: l.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ") })));
}
