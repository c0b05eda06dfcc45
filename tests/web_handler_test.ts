/** The edge page handler: routes, headers, the real mpegts.js bytes, errors. */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  APP_JS,
  CHARTS_JS,
  CLOUD_APP_JS,
  cloudPageHtml,
  cloudWebHandler,
  loadPlayerScript,
  pageHtml,
  webHandler,
} from "../lib/web/mod.ts";

const base = "http://edge.test:7001";
const fakeScript = {
  ok: true as const,
  bytes: new TextEncoder().encode("/* player */"),
  source: "test",
};

Deno.test("web: mpegts.js is loaded from the npm package", () => {
  const s = loadPlayerScript();
  ok(s.ok, s.ok ? "" : s.error);
  ok(
    s.bytes.length > 100_000,
    `expected the dist bundle, got ${s.bytes.length} bytes`,
  );
  const text = new TextDecoder().decode(s.bytes.subarray(0, 4000));
  match(text, /mpegts/);
  match(s.source, /mpegts\.js\/dist\/mpegts\.js$/);
});

Deno.test("web: page, script, player and streams routes", async () => {
  const streams = [{ key: "live/a", players: 2, bytes_received: 10 }];
  const web = webHandler({ streams: () => streams, version: "9.9.9" });

  const page = web(new Request(`${base}/`))!;
  equal(page.status, 200);
  match(page.headers.get("content-type")!, /^text\/html/);
  match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  const html = await page.text();
  match(html, /<video id="video"/);
  match(html, /src="\/web\/mpegts\.js"/);
  match(html, /9\.9\.9/);
  equal(web(new Request(`${base}/index.html`))!.status, 200);

  const app = web(new Request(`${base}/web/app.js`))!;
  equal(app.status, 200);
  match(app.headers.get("content-type")!, /javascript/);
  equal(await app.text(), APP_JS);

  const player = web(new Request(`${base}/web/mpegts.js`))!;
  equal(player.status, 200);
  match(player.headers.get("content-type")!, /javascript/);
  const bytes = new Uint8Array(await player.arrayBuffer());
  deepEqual(bytes, (loadPlayerScript() as { bytes: Uint8Array }).bytes);

  const list = web(new Request(`${base}/api/streams`))!;
  equal(list.status, 200);
  equal(list.headers.get("cache-control"), "no-store");
  deepEqual(await list.json(), { streams });
});

Deno.test("web: other paths are not the page's; wrong methods get 405", async () => {
  const web = webHandler({ streams: () => [], playerScript: fakeScript });
  equal(web(new Request(`${base}/live/movie.flv`)), undefined);
  equal(web(new Request(`${base}/live/index.html.flv`)), undefined);
  equal(web(new Request(`${base}/metrics`)), undefined);
  equal(web(new Request(`${base}/web/other.js`)), undefined);
  const post = web(new Request(`${base}/`, { method: "POST", body: "x" }))!;
  equal(post.status, 405);
  equal(post.headers.get("allow"), "GET, HEAD");
  match(await post.text(), /expected GET or HEAD, got POST/);
  const head = web(new Request(`${base}/web/mpegts.js`, { method: "HEAD" }))!;
  equal(head.status, 200);
  equal(head.body, null);
});

Deno.test("web: a failing stream source or a missing player is reported, not thrown", async () => {
  const web = webHandler({
    streams: () => {
      throw new Error("boom");
    },
    playerScript: { ok: false, error: "expected dist/mpegts.js, tried x" },
  });
  const list = web(new Request(`${base}/api/streams`))!;
  equal(list.status, 500);
  match((await list.json()).error, /cannot list streams: boom/);
  const player = web(new Request(`${base}/web/mpegts.js`))!;
  equal(player.status, 503);
  match(await player.text(), /expected dist\/mpegts\.js/);
  // Not an array: an empty list rather than a shape the page cannot read.
  const odd = webHandler({ streams: () => "nope", playerScript: fakeScript });
  deepEqual(await odd(new Request(`${base}/api/streams`))!.json(), {
    streams: [],
  });
});

Deno.test("web: the title is escaped and the page script parses", () => {
  const html = pageHtml({ title: "<script>x</script>", version: "1&2" });
  ok(!html.includes("<script>x</script>"));
  match(html, /&#60;script&#62;x&#60;\/script&#62;/);
  match(html, /1&#38;2/);
  // Compiles the browser script without running it (throws on a syntax error).
  new Function(APP_JS);
  ok(!/innerHTML/.test(APP_JS), "server data only goes through textContent");
});

Deno.test("web: the charts script and the history route (edge page)", async () => {
  const doc = { interval_ms: 1000, length: 120, series: [], streams: [] };
  const asked: (string[] | undefined)[] = [];
  const web = webHandler({
    streams: () => [],
    history: (keys) => {
      asked.push(keys);
      return doc;
    },
    playerScript: fakeScript,
  });
  const html = await web(new Request(`${base}/`))!.text();
  match(html, /<script src="\/web\/charts\.js"><\/script>/);
  match(html, /id="history" data-history-key=""/);
  const charts = web(new Request(`${base}/web/charts.js`))!;
  equal(charts.status, 200);
  match(charts.headers.get("content-type")!, /javascript/);
  equal(await charts.text(), CHARTS_JS);
  const hist = web(new Request(`${base}/api/history`))!;
  equal(hist.status, 200);
  deepEqual(await hist.json(), doc);
  await web(new Request(`${base}/api/history?key=live%2Fa&key=live/b`))!.text();
  deepEqual(asked, [undefined, ["live/a", "live/b"]]);
  // No source: an empty history, not an error.
  const none = webHandler({ streams: () => [], playerScript: fakeScript });
  deepEqual(
    (await none(new Request(`${base}/api/history`))!.json()).streams,
    [],
  );
  const bad = webHandler({
    streams: () => [],
    history: () => {
      throw new Error("boom");
    },
    playerScript: fakeScript,
  });
  const failed = bad(new Request(`${base}/api/history`))!;
  equal(failed.status, 500);
  match((await failed.json()).error, /cannot read the history: boom/);
});

Deno.test("web: the cloud's read-only page, its scripts and history", async () => {
  const doc = { interval_ms: 1000, length: 120, series: [], streams: [] };
  const web = cloudWebHandler({ history: () => doc, version: "9.9.9" });
  const page = web(new Request("http://cloud.test:8090/"))!;
  equal(page.status, 200);
  match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  const html = await page.text();
  match(html, /id="publishers"/);
  match(html, /src="\/web\/charts\.js"/);
  match(html, /src="\/web\/cloud\.js"/);
  match(html, /9\.9\.9/);
  equal(
    await web(new Request("http://cloud.test:8090/web/cloud.js"))!.text(),
    CLOUD_APP_JS,
  );
  equal(
    await web(new Request("http://cloud.test:8090/web/charts.js"))!.text(),
    CHARTS_JS,
  );
  deepEqual(
    await web(new Request("http://cloud.test:8090/api/history"))!.json(),
    doc,
  );
  // The API's own routes are not the page's.
  equal(web(new Request("http://cloud.test:8090/api/streams")), undefined);
  equal(web(new Request("http://cloud.test:8090/metrics")), undefined);
  equal(
    web(new Request("http://cloud.test:8090/", { method: "POST" }))!.status,
    405,
  );
  const escaped = cloudPageHtml({ title: "<b>x</b>" });
  ok(!escaped.includes("<b>x</b>"));
  // Both scripts compile and only use textContent for server data.
  new Function(CHARTS_JS);
  new Function(CLOUD_APP_JS);
  ok(!/innerHTML/.test(CHARTS_JS + CLOUD_APP_JS));
});
