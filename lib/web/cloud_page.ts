/**
 * The cloud's read-only status page (pure text, no I/O), served on its API
 * port: the publishers from the same-origin `/api/streams` with their
 * counters with the same series as sparklines under each row, and per
 * publisher the live charts of `charts.ts` (the same code as the edge's
 * page).
 *
 * @module
 */
import * as shared from "./page_head.ts";
import { CHARTS_CSS, CHARTS_PATH } from "./charts.ts";

/** Path of the cloud page's script. */
export const CLOUD_APP_PATH = "/web/cloud.js";

/**
 * The cloud page's HTML.
 *
 * @example Usage
 * ```ts
 * import { cloudPageHtml } from "./cloud_page.ts";
 * cloudPageHtml({ title: "flvcast cloud" }).includes('id="publishers"'); // true
 * ```
 */
export function cloudPageHtml(
  opts: { title: string; version?: string },
): string {
  const title = shared.escapeHtml(opts.title);
  const version = shared.versionTag(opts.version);
  return `${
    shared.documentStart(opts.title)
  }main { padding: 16px 20px; display: grid; gap: 16px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px; min-width: 0; overflow-x: auto; }
h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
h3 { font-size: 15px; margin: 0; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 4px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--dim); font-weight: 500; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.pub td { border-bottom: 0; padding-bottom: 2px; }
tr.spark-row td { padding-top: 0; white-space: normal; }
#cards { display: grid; gap: 16px; }
${CHARTS_CSS}
</style>
</head>
<body>
<header><h1>${title}</h1>${version}<span class="dim" id="summary">loading…</span></header>
<main>
<section>
<h2>Publishers</h2>
<table id="publishers">
<thead><tr><th>stream</th><th>publisher</th><th>codecs</th><th class="num">bitrate in (kbit/s)</th><th class="num">RTP packets</th><th class="num">retransmitted</th><th class="num">RTMP players</th></tr></thead>
<tbody><tr><td colspan="7" class="dim">loading…</td></tr></tbody>
</table>
<p class="dim">Read-only. Publish with <code>ffmpeg … -f flv rtmp://CLOUD:1935/live/NAME</code>; play from an edge.</p>
</section>
<div id="cards"></div>
</main>
${shared.documentEnd([CHARTS_PATH, CLOUD_APP_PATH])}`;
}

/** The cloud page's script (classic script, ES2017; `textContent` only). */
export const CLOUD_APP_JS = `${shared.SCRIPT_START}  var cards = {};
  var sparks = {};

  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function fmt(v) { v = num(v); return v === null ? "–" : String(Math.round(v)); }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  /** The row under a publisher's counters: its sparklines (charts.js),
   * the box kept per publisher so a re-render does not redraw it. */
  function sparkRow(key) {
    var box = sparks[key];
    if (!box) {
      box = sparks[key] = document.createElement("div");
      box.setAttribute("data-history-key", key);
      box.setAttribute("data-history-style", "spark");
    }
    var tr = document.createElement("tr");
    tr.className = "spark-row";
    tr.setAttribute("data-spark-key", key);
    var td = document.createElement("td");
    td.colSpan = 99;
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }

  function render(list) {
    var rows = document.createDocumentFragment();
    if (list.length === 0) {
      var tr0 = document.createElement("tr");
      cell(tr0, "no publishers", "dim");
      tr0.firstChild.colSpan = 7;
      rows.appendChild(tr0);
    }
    var live = {};
    list.forEach(function (s) {
      live[s.key] = true;
      var tr = document.createElement("tr");
      tr.setAttribute("data-key", s.key);
      cell(tr, s.key);
      cell(tr, String(s.publisher || ""));
      cell(tr, [s.video_codec, s.audio_codec].filter(Boolean).join(" + ") || "–");
      var bps = (num(s.video_bps) || 0) + (num(s.audio_bps) || 0);
      cell(tr, fmt(bps / 1000), "num");
      cell(tr, fmt(s.packets_sent), "num");
      cell(tr, fmt(s.retransmissions), "num");
      cell(tr, fmt(s.players), "num");
      tr.className = "pub";
      rows.appendChild(tr);
      rows.appendChild(sparkRow(s.key));
      if (!cards[s.key]) {
        var card = document.createElement("section");
        var h = document.createElement("h3");
        h.textContent = s.key;
        var box = document.createElement("div");
        box.setAttribute("data-history-key", s.key);
        card.append(h, box);
        cards[s.key] = card;
      }
    });
    $("publishers").tBodies[0].replaceChildren(rows);
    Object.keys(cards).forEach(function (k) { if (!live[k]) delete cards[k]; });
    Object.keys(sparks).forEach(function (k) { if (!live[k]) delete sparks[k]; });
    var order = Object.keys(cards).sort();
    $("cards").replaceChildren.apply($("cards"), order.map(function (k) { return cards[k]; }));
    $("summary").textContent = list.length + (list.length === 1 ? " publisher" : " publishers");
    if (window.flvcastCharts) window.flvcastCharts.render();
  }

  function poll() {
    fetch("/api/streams", { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      var list = body && Array.isArray(body.streams) ? body.streams : [];
      render(list.filter(function (s) { return s && typeof s.key === "string"; })
        .sort(function (a, b) { return a.key < b.key ? -1 : a.key > b.key ? 1 : 0; }));
    }).catch(function (e) {
      $("summary").textContent = "cannot read /api/streams: " + e.message;
    }).then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
`;
