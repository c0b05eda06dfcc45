/**
 * The edge's built-in page (pure text, no I/O): lists the live streams from
 * the same-origin `/api/streams`, plays one with mpegts.js over HTTP-FLV or
 * WebSocket-FLV, and shows live counters (bitrate, loss, recovered, players,
 * delay) next to the player's own (buffer, frames), and the selected
 * stream's last 2 minutes as live charts (`charts.ts`, from `/api/history`);
 * under each listed stream's counters, the same series as sparklines.
 *
 * Query parameters: `stream=live/movie` plays that stream at once;
 * `transport=ws` picks WebSocket-FLV, `transport=hls` LL-HLS with hls.js
 * (default HTTP-FLV).
 *
 * @module
 */
import {
  documentEnd,
  documentStart,
  escapeHtml,
  SCRIPT_START,
  versionTag,
} from "./page_head.ts";
import { CHARTS_CSS, CHARTS_PATH } from "./charts.ts";

/** Path of the page's script (served by the web handler). */
export const APP_PATH = "/web/app.js";
/** Path of mpegts.js (served by the web handler). */
export const PLAYER_PATH = "/web/mpegts.js";
/** Path of hls.js (served by the web handler). */
export const HLS_PLAYER_PATH = "/web/hls.js";
/** Same-origin JSON list of the live streams. */
export const STREAMS_PATH = "/api/streams";

/**
 * The page's HTML.
 *
 * @example Usage
 * ```ts
 * import { pageHtml } from "./page.ts";
 * const html = pageHtml({ title: "flvcast edge", version: "0.1.0" });
 * html.includes("<video"); // true
 * ```
 */
export function pageHtml(opts: { title: string; version?: string }): string {
  const title = escapeHtml(opts.title);
  const version = versionTag(opts.version);
  return `${
    documentStart(opts.title)
  }main { display: grid; grid-template-columns: minmax(380px, 1fr) minmax(320px, 1.5fr); gap: 16px; padding: 16px 20px; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px; min-width: 0; }
#list { overflow-x: auto; container-type: inline-size; }
#list .sparks { position: sticky; left: 4px; width: calc(100cqw - 8px); }
h2 #current { text-transform: none; letter-spacing: 0; color: var(--text); margin-left: 6px; }
h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 4px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--dim); font-weight: 500; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.stream { cursor: pointer; }
tr.stream:hover { background: #232a33; }
tr.selected { background: #1f3550 !important; }
tr.stream:has(+ tr.spark-row) td { border-bottom: 0; padding-bottom: 2px; }
tr.spark-row { cursor: pointer; }
tr.spark-row td { padding-top: 0; white-space: normal; }
video { width: 100%; aspect-ratio: 16 / 9; background: #000; border-radius: 4px; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; margin: 8px 0; }
.controls label { display: inline-flex; align-items: center; gap: 4px; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: 5px 12px; cursor: pointer; }
button.secondary { background: #3a4350; }
code { font-size: 12px; color: var(--dim); word-break: break-all; }
#status { min-height: 1.4em; }
#status.error { color: var(--bad); }
#status.playing { color: var(--good); }
.counters { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: 8px; margin-top: 8px; }
.counter { background: #151a20; border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; }
.counter b { display: block; font-size: 18px; font-variant-numeric: tabular-nums; }
.counter span { color: var(--dim); font-size: 12px; }
h2.history { margin-top: 14px; }
${CHARTS_CSS}
</style>
</head>
<body>
<header><h1>${title}</h1>${version}<span class="dim" id="summary">loading…</span></header>
<main>
<section id="list">
<h2>Live streams</h2>
<table id="streams">
<thead><tr><th>stream</th><th class="num">bitrate</th><th class="num">players</th><th class="num">lost</th><th class="num">recovered</th><th class="num">delay</th><th>HLS</th></tr></thead>
<tbody><tr><td colspan="7" class="dim">loading…</td></tr></tbody>
</table>
<p class="dim">Publish with <code>ffmpeg … -f flv rtmp://CLOUD:1935/live/NAME</code>; the stream appears here.</p>
</section>
<section id="player">
<h2>Player <span id="current" class="dim"></span></h2>
<video id="video" controls muted playsinline autoplay></video>
<div class="controls">
<span>Transport:</span>
<label><input type="radio" name="transport" id="transport-http" value="http" checked> HTTP-FLV</label>
<label><input type="radio" name="transport" id="transport-ws" value="ws"> WebSocket-FLV</label>
<label><input type="radio" name="transport" id="transport-hls" value="hls"> HLS (LL-HLS)</label>
<button id="stop" class="secondary" type="button">Stop</button>
</div>
<div><code id="url"></code></div>
<div id="status" class="dim">Pick a stream.</div>
<div class="counters">
<div class="counter"><b id="c-bitrate">–</b><span>bitrate in (kbit/s)</span></div>
<div class="counter"><b id="c-lost">–</b><span>packets lost</span></div>
<div class="counter"><b id="c-recovered">–</b><span>recovered</span></div>
<div class="counter"><b id="c-unrecoverable">–</b><span>unrecoverable</span></div>
<div class="counter"><b id="c-players">–</b><span>players</span></div>
<div class="counter"><b id="c-delay">–</b><span>cloud → edge delay (ms)</span></div>
<div class="counter"><b id="c-buffer">–</b><span>player buffer (s)</span></div>
<div class="counter"><b id="c-frames">–</b><span>frames decoded</span></div>
<div class="counter"><b id="c-dropped">–</b><span>frames dropped</span></div>
<div class="counter"><b id="c-speed">–</b><span>download (KiB/s)</span></div>
<div class="counter"><b id="c-latency">–</b><span>HLS live latency (s)</span></div>
</div>
<h2 class="history">Last 2 minutes</h2>
<div id="history" data-history-key=""><p class="dim">Pick a stream to see its last 2 minutes.</p></div>
</section>
</main>
${documentEnd([PLAYER_PATH, HLS_PLAYER_PATH, CHARTS_PATH, APP_PATH])}`;
}

/**
 * The page's script (classic script, ES2017, no build step). It only uses
 * `textContent` for data from the server.
 */
export const APP_JS = `${SCRIPT_START}  var video = $("video");
  var params = new URLSearchParams(location.search);
  // A signed page URL (?sign=EXPIRES-HASH, auth.play) signs its player URLs.
  var sign = params.get("sign");
  var state = {
    key: null,
    transport: ["ws", "hls"].indexOf(params.get("transport")) >= 0 ? params.get("transport") : "http",
    player: null,
    retry: 0,
    streams: [],
    prev: {},
    bitrate: {},
    playerStats: null,
    ended: false,
    sparks: {},
  };

  function status(text, cls) {
    var el = $("status");
    el.textContent = text;
    el.className = cls || "dim";
  }

  function streamPath(key) {
    return "/" + key.split("/").map(encodeURIComponent).join("/") + ".flv" +
      (sign ? "?sign=" + encodeURIComponent(sign) : "");
  }

  function hlsPath(key) {
    return "/" + key.split("/").map(encodeURIComponent).join("/") + ".m3u8";
  }

  function transportName(t) {
    return t === "ws" ? "WebSocket-FLV" : t === "hls" ? "LL-HLS" : "HTTP-FLV";
  }

  function playUrl(key, transport) {
    if (transport === "hls") return location.origin + hlsPath(key);
    if (transport === "ws") {
      return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + streamPath(key);
    }
    return location.origin + streamPath(key);
  }

  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }

  function fmt(v, digits) {
    v = num(v);
    if (v === null) return "–";
    return digits ? v.toFixed(digits) : String(Math.round(v));
  }

  function stopPlayer() {
    clearTimeout(state.retry);
    if (state.player && state.player.hls) {
      try { state.player.hls.destroy(); } catch (e) { /* ignore */ }
    } else if (state.player) {
      try { state.player.pause(); } catch (e) { /* ignore */ }
      try { state.player.unload(); } catch (e) { /* ignore */ }
      try { state.player.detachMediaElement(); } catch (e) { /* ignore */ }
      try { state.player.destroy(); } catch (e) { /* ignore */ }
    }
    state.player = null;
    state.playerStats = null;
  }

  function setUrl() {
    $("url").textContent = state.key ? playUrl(state.key, state.transport) : "";
  }

  function retryLater() {
    clearTimeout(state.retry);
    state.retry = setTimeout(function () { if (state.key) play(state.key); }, 2000);
  }

  function play(key) {
    stopPlayer();
    state.key = key;
    state.ended = false;
    var url = playUrl(key, state.transport);
    $("current").textContent = key;
    setUrl();
    history.replaceState(null, "", "?stream=" + encodeURIComponent(key) + "&transport=" + state.transport);
    render();
    if (state.transport === "hls") {
      playHls(url);
      return;
    }
    var mpegts = window.mpegts;
    if (!mpegts) {
      status("the player script (mpegts.js) did not load from this server", "error");
      return;
    }
    if (!mpegts.isSupported() || !mpegts.getFeatureList().mseLivePlayback) {
      status("this browser cannot play FLV: Media Source Extensions are missing", "error");
      return;
    }
    var p = mpegts.createPlayer({ type: "flv", isLive: true, url: url }, {
      enableWorker: false,
      enableStashBuffer: false,
      lazyLoad: false,
      liveBufferLatencyChasing: true,
      liveBufferLatencyMaxLatency: 3.0,
      liveBufferLatencyMinRemain: 0.5,
    });
    state.player = p;
    p.on(mpegts.Events.ERROR, function (type, detail, info) {
      if (state.player !== p) return;
      var msg = info && info.msg ? info.msg : "";
      status("playback error: " + type + " / " + detail + (msg ? " (" + msg + ")" : "") + "; retrying…", "error");
      stopPlayer();
      retryLater();
    });
    p.on(mpegts.Events.LOADING_COMPLETE, function () {
      if (state.player !== p) return;
      state.ended = true;
      status("stream ended; waiting for it to come back…", "dim");
      retryLater();
    });
    p.on(mpegts.Events.STATISTICS_INFO, function (s) {
      if (state.player === p) state.playerStats = s;
    });
    p.attachMediaElement(video);
    p.load();
    status("connecting (" + (state.transport === "ws" ? "WebSocket-FLV" : "HTTP-FLV") + ")…", "dim");
    var started = video.play();
    if (started && started.catch) {
      started.catch(function (e) {
        if (state.player === p) status("press play to start (" + e.message + ")", "dim");
      });
    }
  }

  function playHls(url) {
    var Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) {
      if (video.canPlayType("application/vnd.apple.mpegurl")) {
        state.player = { hls: { destroy: function () { video.removeAttribute("src"); video.load(); } } };
        video.src = url;
        video.play().catch(function () {});
        status("connecting (native HLS)…", "dim");
        return;
      }
      status("this browser cannot play HLS: hls.js did not load or Media Source Extensions are missing", "error");
      return;
    }
    var hls = new Hls({ lowLatencyMode: true, backBufferLength: 10, maxLiveSyncPlaybackRate: 1.5 });
    var p = { hls: hls };
    state.player = p;
    hls.on(Hls.Events.ERROR, function (ev, data) {
      if (state.player !== p || !data.fatal) return;
      status("playback error: " + data.type + " / " + data.details + "; retrying…", "error");
      stopPlayer();
      retryLater();
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    status("connecting (LL-HLS)…", "dim");
    var started = video.play();
    if (started && started.catch) started.catch(function () {});
  }

  video.addEventListener("playing", function () {
    if (state.player) status("playing " + state.key + " over " + transportName(state.transport), "playing");
  });
  video.addEventListener("waiting", function () {
    if (state.player && !state.ended) status("buffering…", "dim");
  });

  $("transport-" + state.transport).checked = true;
  ["http", "ws", "hls"].forEach(function (t) {
    $("transport-" + t).addEventListener("change", function () {
      if (!this.checked) return;
      state.transport = t;
      if (state.key) play(state.key); else setUrl();
    });
  });
  $("stop").addEventListener("click", function () {
    stopPlayer();
    state.key = null;
    $("current").textContent = "";
    setUrl();
    history.replaceState(null, "", location.pathname);
    status("Stopped. Pick a stream.", "dim");
    render();
  });

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  /** The row under a stream's counters: its sparklines (charts.js). The
   * box is kept per stream, so a re-render does not redraw it. */
  function sparkRow(key, selected) {
    var box = state.sparks[key];
    if (!box) {
      box = state.sparks[key] = document.createElement("div");
      box.setAttribute("data-history-key", key);
      box.setAttribute("data-history-style", "spark");
    }
    var tr = document.createElement("tr");
    tr.className = "spark-row" + (selected ? " selected" : "");
    tr.setAttribute("data-spark-key", key);
    var td = document.createElement("td");
    td.colSpan = 99;
    td.appendChild(box);
    tr.appendChild(td);
    tr.addEventListener("click", function () { play(key); });
    return tr;
  }

  function pruneSparks() {
    var live = {};
    state.streams.forEach(function (s) { live[s.key] = true; });
    Object.keys(state.sparks).forEach(function (k) { if (!live[k]) delete state.sparks[k]; });
    if (window.flvcastCharts) window.flvcastCharts.render();
  }

  function render() {
    var tbody = $("streams").tBodies[0];
    var rows = document.createDocumentFragment();
    if (state.streams.length === 0) {
      var tr0 = document.createElement("tr");
      cell(tr0, "no live streams", "dim");
      tr0.firstChild.colSpan = 7;
      rows.appendChild(tr0);
    }
    state.streams.forEach(function (s) {
      var tr = document.createElement("tr");
      tr.className = "stream" + (s.key === state.key ? " selected" : "");
      tr.setAttribute("data-key", s.key);
      tr.title = "play " + s.key;
      cell(tr, s.key);
      cell(tr, fmt(state.bitrate[s.key]), "num");
      cell(tr, fmt(s.players), "num");
      cell(tr, fmt(s.lost), "num");
      cell(tr, fmt(s.recovered), "num");
      cell(tr, s.one_way_delay_ms === null || s.one_way_delay_ms === undefined ? "–" : fmt(s.one_way_delay_ms, 1) + " ms", "num");
      cell(tr, hlsPath(s.key), "dim");
      tr.addEventListener("click", function () { play(s.key); });
      rows.appendChild(tr);
      rows.appendChild(sparkRow(s.key, s.key === state.key));
    });
    tbody.replaceChildren(rows);
    pruneSparks();
    var cur = null;
    state.streams.forEach(function (s) { if (s.key === state.key) cur = s; });
    $("c-bitrate").textContent = cur ? fmt(state.bitrate[cur.key]) : "–";
    $("c-lost").textContent = cur ? fmt(cur.lost) : "–";
    $("c-recovered").textContent = cur ? fmt(cur.recovered) : "–";
    $("c-unrecoverable").textContent = cur ? fmt(cur.unrecoverable) : "–";
    $("c-players").textContent = cur ? fmt(cur.players) : "–";
    $("c-delay").textContent = cur ? fmt(cur.one_way_delay_ms, 1) : "–";
    var ps = state.playerStats;
    var buffered = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : null;
    $("c-buffer").textContent = state.player && buffered !== null ? fmt(buffered, 2) : "–";
    var q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    $("c-frames").textContent = state.player && q ? fmt(q.totalVideoFrames) : (ps ? fmt(ps.decodedFrames) : "–");
    $("c-dropped").textContent = state.player && q ? fmt(q.droppedVideoFrames) : (ps ? fmt(ps.droppedFrames) : "–");
    $("c-speed").textContent = ps ? fmt(ps.speed, 1) : "–";
    var hlsLatency = state.player && state.player.hls ? state.player.hls.latency : null;
    state.hlsLatency = num(hlsLatency);
    $("c-latency").textContent = fmt(hlsLatency, 2);
    $("summary").textContent = state.streams.length + (state.streams.length === 1 ? " live stream" : " live streams");
    // The charts (charts.js) follow the selected stream.
    var hist = $("history");
    if (hist.getAttribute("data-history-key") !== (state.key || "")) {
      hist.setAttribute("data-history-key", state.key || "");
      if (window.flvcastCharts) window.flvcastCharts.render();
    }
  }

  function poll() {
    fetch("${STREAMS_PATH}", { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      var list = Array.isArray(body) ? body : (body && Array.isArray(body.streams) ? body.streams : []);
      var now = performance.now();
      var next = {};
      list.forEach(function (s) {
        if (!s || typeof s.key !== "string") return;
        var bytes = num(s.bytes_received);
        var p = state.prev[s.key];
        if (p && bytes !== null && now > p.at) {
          state.bitrate[s.key] = Math.max(0, (bytes - p.bytes) * 8 / (now - p.at));
        }
        if (bytes !== null) next[s.key] = { bytes: bytes, at: now };
      });
      state.prev = next;
      state.streams = list.filter(function (s) { return s && typeof s.key === "string"; })
        .sort(function (a, b) { return a.key < b.key ? -1 : a.key > b.key ? 1 : 0; });
      render();
    }).catch(function (e) {
      $("summary").textContent = "cannot read ${STREAMS_PATH}: " + e.message;
    }).then(function () { setTimeout(poll, 1000); });
  }

  var wanted = params.get("stream");
  if (wanted) play(wanted);
  setUrl();
  poll();
  setInterval(function () { if (state.player) render(); }, 500);
  window.flvcastPage = { play: play, stop: function () { $("stop").click(); }, state: state };
})();
`;
