/**
 * The status pages' live charts (pure text, no I/O): one browser script,
 * used by the edge's page and the cloud's page alike, that polls the
 * same-origin `/api/history` (a {@linkcode HistoryDocument}: the last 2
 * minutes of per-stream series, see `lib/metrics/history.ts`) every second
 * for the streams it shows (`?key=K&key=…`; nothing while no stream is
 * shown) and draws one small inline-SVG chart per series into every element
 * carrying a `data-history-key="STREAM KEY"` attribute. No library, no CDN:
 * works offline.
 *
 * A box that also has `data-history-style="spark"` (a row of a stream
 * list) gets the same charts as small sparklines: short label and last value
 * over a thin plot, the full label, unit and peak in the tooltip. To keep a
 * long list cheap, one request a poll carries every wanted key once, and
 * only boxes within a screen of the viewport are fetched and redrawn (a box
 * scrolled into view is drawn at the next poll); a box is redrawn only when
 * a new document arrived or its key changed.
 *
 * Each chart is a `<figure class="chart" data-series=NAME>` whose
 * `data-points`, `data-nonzero`, `data-last` and `data-max` attributes say
 * what it drew (read by the browser test).
 *
 * @module
 */
import type { HistoryDocument } from "../metrics/mod.ts";

/** Path of the charts script (served by the web handlers). */
export const CHARTS_PATH = "/web/charts.js";
/** Same-origin JSON history the charts draw ({@linkcode HistoryDocument}). */
export const HISTORY_PATH = "/api/history";

/** Re-exported for pages that type their history source. */
export type { HistoryDocument };

/** The charts' CSS, for a page's `<style>` (uses the page's colour vars);
 * `.sparks` are the small per-row charts. */
export const CHARTS_CSS = `
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 8px; margin-top: 8px; }
.chart { margin: 0; min-width: 0; overflow: hidden; background: #151a20; border: 1px solid var(--line, #2c333d); border-radius: 4px; padding: 6px 8px 4px; }
.chart figcaption { display: flex; flex-wrap: wrap; align-items: baseline; column-gap: 6px; font-size: 12px; color: var(--dim, #98a2b3); white-space: nowrap; }
.chart figcaption b { font-size: 15px; color: var(--text, #e6e9ee); font-variant-numeric: tabular-nums; }
.chart figcaption .chart-max { margin-left: auto; font-size: 11px; font-variant-numeric: tabular-nums; }
.chart svg { display: block; width: 100%; height: 48px; margin-top: 2px; }
.sparks { display: grid; grid-template-columns: repeat(auto-fit, minmax(64px, 1fr)); gap: 0 8px; max-width: 760px; }
.chart.spark { background: none; border: 0; border-radius: 0; padding: 0; }
.chart.spark figcaption { flex-wrap: nowrap; font-size: 11px; column-gap: 4px; }
.chart.spark figcaption span { overflow: hidden; text-overflow: ellipsis; }
.chart.spark figcaption b { font-size: 11px; }
.chart.spark svg { height: 16px; margin-top: 0; }
.charts-axis { display: flex; justify-content: space-between; font-size: 11px; color: var(--dim, #98a2b3); grid-column: 1 / -1; }
`;

/** The charts script (classic script, ES2017, no build step). */
export const CHARTS_JS = `"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var W = 240, H = 48;
  var state = { doc: null, error: null };

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (v <= steps[i] * p) return steps[i] * p;
    return 10 * p;
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(a === 0 ? 0 : 2);
  }

  function el(name, attrs) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  /** One chart: caption (label, last value, unit, max) over an SVG plot;
   * spark: short label and last value, the rest in the tooltip. */
  function chart(series, values, length, spark) {
    var fig = document.createElement("figure");
    fig.className = spark ? "chart spark" : "chart";
    var max = 0, nonzero = 0, last = null;
    values.forEach(function (v) {
      if (v === null) return;
      if (v > max) max = v;
      if (v !== 0) nonzero++;
      last = v;
    });
    if (values.length && values[values.length - 1] === null) last = null;
    var top = niceMax(max);
    fig.setAttribute("data-series", series.name);
    fig.setAttribute("data-points", String(values.length));
    fig.setAttribute("data-nonzero", String(nonzero));
    fig.setAttribute("data-last", last === null ? "" : String(last));
    fig.setAttribute("data-max", String(max));

    var cap = document.createElement("figcaption");
    var label = document.createElement("span");
    label.textContent = spark ? series.short || series.label : series.label;
    var value = document.createElement("b");
    value.textContent = spark && Math.abs(last) >= 10 ? String(Math.round(last)) : fmt(last);
    if (spark) {
      fig.title = series.label + ": " + fmt(last) + " " + series.unit + ", max " + fmt(max) + " (last " + length + " samples)";
      cap.append(label, value);
    } else {
      var unit = document.createElement("span");
      unit.textContent = series.unit;
      var peak = document.createElement("span");
      peak.className = "chart-max";
      peak.textContent = "max " + fmt(max);
      cap.append(label, value, unit, peak);
    }
    fig.appendChild(cap);

    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    svg.setAttribute("aria-label", series.label + ", last " + length + " samples");
    (spark ? [H - 0.5] : [0.5, H / 2, H - 0.5]).forEach(function (y) {
      svg.appendChild(el("line", { x1: 0, x2: W, y1: y, y2: y, stroke: "#2c333d", "stroke-width": 1, "vector-effect": "non-scaling-stroke" }));
    });
    // Newest sample at the right edge; a null breaks the line.
    var step = W / Math.max(1, length - 1);
    var x0 = (length - values.length) * step;
    var line = "", area = "", run = [];
    function flush() {
      if (run.length === 0) return;
      if (run.length === 1) run.push([run[0][0] + step / 2, run[0][1]]);
      line += "M" + run.map(function (p) { return p[0].toFixed(1) + " " + p[1].toFixed(1); }).join("L");
      area += "M" + run[0][0].toFixed(1) + " " + H + "L" + run.map(function (p) { return p[0].toFixed(1) + " " + p[1].toFixed(1); }).join("L") +
        "L" + run[run.length - 1][0].toFixed(1) + " " + H + "Z";
      run = [];
    }
    values.forEach(function (v, i) {
      if (v === null) { flush(); return; }
      var y = H - 1 - Math.max(0, Math.min(1, v / top)) * (H - 3);
      run.push([x0 + i * step, y]);
    });
    flush();
    if (area) svg.appendChild(el("path", { d: area, fill: series.color, "fill-opacity": 0.18, stroke: "none" }));
    if (line) svg.appendChild(el("path", { d: line, fill: "none", stroke: series.color, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke", "stroke-linejoin": "round" }));
    fig.appendChild(svg);
    return fig;
  }

  /** Boxes within a screen of the viewport (the others wait until seen). */
  function nearBoxes() {
    var h = window.innerHeight || 800;
    return Array.prototype.filter.call(document.querySelectorAll("[data-history-key]"), function (box) {
      var r = box.getBoundingClientRect();
      return r.width > 0 && r.bottom > -h && r.top < 2 * h;
    });
  }

  function render() {
    var doc = state.doc;
    nearBoxes().forEach(function (box) {
      var key = box.getAttribute("data-history-key");
      var spark = box.getAttribute("data-history-style") === "spark";
      if (doc && box.flvcastDrawn === doc && box.flvcastKey === key) return;
      box.flvcastDrawn = null;
      var frag = document.createDocumentFragment();
      if (spark && (!key || !doc)) {
        box.replaceChildren();
        return;
      }
      if (!key) {
        var none = document.createElement("p");
        none.className = "dim";
        none.textContent = "Pick a stream to see its last 2 minutes.";
        box.classList.remove("charts");
        box.replaceChildren(none);
        return;
      }
      if (!doc) {
        var p = document.createElement("p");
        p.className = "dim";
        p.textContent = state.error ? "no history: " + state.error : "loading history…";
        box.replaceChildren(p);
        return;
      }
      var s = null;
      doc.streams.forEach(function (x) { if (x.key === key) s = x; });
      doc.series.forEach(function (series) {
        var values = s && Array.isArray(s.samples[series.name]) ? s.samples[series.name] : [];
        frag.appendChild(chart(series, values, doc.length, spark));
      });
      box.flvcastDrawn = doc;
      box.flvcastKey = key;
      if (spark) {
        box.classList.add("sparks");
        box.replaceChildren(frag);
        return;
      }
      var axis = document.createElement("div");
      axis.className = "charts-axis";
      var from = document.createElement("span");
      from.textContent = "−" + Math.round(doc.length * doc.interval_ms / 1000) + " s";
      var to = document.createElement("span");
      to.textContent = s ? "now" : "no samples for " + key;
      axis.append(from, to);
      frag.appendChild(axis);
      box.classList.add("charts");
      box.replaceChildren(frag);
    });
  }

  /** The stream keys some element near the viewport wants charted, each
   * once ([] = nothing to fetch). */
  function wantedKeys() {
    var keys = [];
    nearBoxes().forEach(function (box) {
      var k = box.getAttribute("data-history-key");
      if (k && keys.indexOf(k) < 0) keys.push(k);
    });
    return keys;
  }

  function poll() {
    var keys = wantedKeys();
    if (keys.length === 0) {
      render();
      setTimeout(poll, 1000);
      return;
    }
    var query = keys.map(function (k) { return "key=" + encodeURIComponent(k); }).join("&");
    fetch("${HISTORY_PATH}?" + query, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (doc) {
      if (!doc || !Array.isArray(doc.series) || !Array.isArray(doc.streams)) throw new Error("unexpected document");
      state.doc = doc;
      state.error = null;
    }).catch(function (e) {
      state.error = e.message;
    }).then(function () {
      render();
      setTimeout(poll, 1000);
    });
  }

  window.flvcastCharts = { render: render, state: state };
  poll();
})();
`;
