/**
 * The pages' history charts in a real browser: ffmpeg publishes → cloud →
 * RTP → edge with 5 % simulated input loss (`packLoss`, the
 * `edge.pack_loss` key) repaired over QUIC; headless Chromium opens the
 * edge's page on the stream and, after 10 samples (≈ 10 s), finds the five
 * charts drawn, with non-zero "packets lost" and "packets recovered"
 * series, and the same five as sparklines on the stream's row of the list
 * (lost and recovered non-zero there too); then the cloud's read-only page
 * on its API port, with the same charts for the publisher and sparklines on
 * its row. Every `/api/history` request names each stream once (one request
 * a poll for all shown). Screenshots of both go to the test's temp dir
 * (kept with FLVCAST_KEEP_SCREENSHOTS=1).
 */
import { deepEqual, ok } from "node:assert/strict";
import { browserTest } from "./support/browser.ts";

const KEY = "live/charts";

async function waitFor<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await read();
  while (!done(last)) {
    if (Date.now() > until) {
      throw new Error(
        `timed out waiting for ${what}; last: ${JSON.stringify(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
    last = await read();
  }
  return last;
}

/** What one chart drew (its data-* attributes and SVG paths). */
interface Drawn {
  series: string;
  points: number;
  nonzero: number;
  max: number;
  paths: number;
  width: number;
}

browserTest(
  "browser: the edge and cloud pages chart 2 minutes of history (5 % loss: lost and recovered non-zero)",
  "browser_charts_test",
  {
    key: KEY,
    prefix: "flvcast_charts_",
    edge: { packLoss: 0.05 },
    viewport: { width: 1280, height: 900 },
  },
  async ({ cloud, edge, page, pageErrors, dir }) => {
    const historyKeys: string[][] = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === "/api/history") {
        historyKeys.push(u.searchParams.getAll("key"));
      }
    });

    const drawn = (box: string) =>
      page.evaluate((sel) => {
        // deno-lint-ignore no-explicit-any
        const d = (globalThis as any).document;
        const figs = [...d.querySelectorAll(`${sel} figure.chart`)];
        // deno-lint-ignore no-explicit-any
        return figs.map((f: any) => ({
          series: f.getAttribute("data-series"),
          points: Number(f.getAttribute("data-points")),
          nonzero: Number(f.getAttribute("data-nonzero")),
          max: Number(f.getAttribute("data-max")),
          paths: f.querySelectorAll("svg path").length,
          width: f.querySelector("svg").getBoundingClientRect().width,
        }));
      }, box) as Promise<Drawn[]>;
    const byName = (charts: Drawn[]) =>
      Object.fromEntries(charts.map((c) => [c.series, c]));

    // --- the edge's page, on the lossy stream ---------------------------
    const edgeUrl = `http://127.0.0.1:${edge.ports.flv}/?stream=${
      encodeURIComponent(KEY)
    }`;
    await page.goto(edgeUrl);
    const sel = `#history[data-history-key="${KEY}"]`;
    const charts = byName(
      await waitFor(
        () => drawn(sel),
        (c) => {
          const m = byName(c);
          return (m.lost?.points ?? 0) >= 10 &&
            (m.lost?.nonzero ?? 0) > 0 && (m.recovered?.nonzero ?? 0) > 0;
        },
        "10 samples with lost and recovered packets on the edge page",
      ),
    );
    deepEqual(Object.keys(charts), [
      "bitrate_kbps",
      "lost",
      "recovered",
      "tags_dropped",
      "delay_ms",
    ]);
    for (const c of Object.values(charts)) {
      ok(c.points >= 10, `${c.series}: ${c.points} samples`);
      ok(c.width >= 150, `${c.series}: drawn ${c.width} px wide`);
    }
    for (const name of ["bitrate_kbps", "lost", "recovered", "delay_ms"]) {
      ok(charts[name].paths >= 1, `${name}: expected a drawn line`);
      ok(charts[name].nonzero > 0, `${name}: expected non-zero samples`);
    }
    ok(
      charts.bitrate_kbps.max > 100,
      `bitrate in: expected > 100 kbit/s, got ${charts.bitrate_kbps.max}`,
    );
    // The same series as sparklines on the stream's row of the list.
    const rowSel =
      `#streams tr.spark-row[data-spark-key="${KEY}"] [data-history-style="spark"]`;
    const sparks = byName(
      await waitFor(
        () => drawn(rowSel),
        (c) => {
          const m = byName(c);
          return (m.lost?.points ?? 0) >= 10 &&
            (m.lost?.nonzero ?? 0) > 0 && (m.recovered?.nonzero ?? 0) > 0;
        },
        "the row's sparklines with lost and recovered packets",
      ),
    );
    deepEqual(Object.keys(sparks), Object.keys(charts));
    for (const c of Object.values(sparks)) {
      ok(c.points >= 10, `row ${c.series}: ${c.points} samples`);
      ok(c.width >= 40, `row ${c.series}: drawn ${c.width} px wide`);
    }
    for (const name of ["bitrate_kbps", "lost", "recovered", "delay_ms"]) {
      ok(sparks[name].paths >= 1, `row ${name}: expected a drawn line`);
      ok(
        sparks[name].nonzero > 0,
        `row ${name}: expected non-zero samples`,
      );
    }
    const edgeShot = `${dir}/edge_charts.png`;
    await page.screenshot({ path: edgeShot, fullPage: true });
    console.log(
      `edge page: ${
        Object.values(charts).map((c) =>
          `${c.series} ${c.points} pts, max ${c.max}, ${c.nonzero} non-zero`
        ).join("; ")
      }; row sparklines: ${
        Object.values(sparks).map((c) =>
          `${c.series} ${c.nonzero}/${c.points} non-zero, ${
            Math.round(c.width)
          } px`
        ).join("; ")
      }; screenshot ${edgeShot}`,
    );

    // --- the cloud's read-only page (API port), the same charts ---------
    await page.goto(`http://127.0.0.1:${cloud.ports.api}/`);
    const csel = `[data-history-key="${KEY}"]`;
    const cloudCharts = byName(
      await waitFor(
        () => drawn(csel),
        (c) => {
          const m = byName(c);
          return (m.packets_sent?.nonzero ?? 0) >= 3 &&
            (m.bitrate_kbps?.nonzero ?? 0) >= 3;
        },
        "the publisher's charts on the cloud page",
      ),
    );
    deepEqual(Object.keys(cloudCharts), [
      "bitrate_kbps",
      "packets_sent",
      "retransmissions",
      "cache_packets",
    ]);
    ok(
      cloudCharts.retransmissions.nonzero > 0,
      "the cloud charts the edge's repairs",
    );
    const row = await page.evaluate(
      (key) =>
        // deno-lint-ignore no-explicit-any
        (globalThis as any).document.querySelector(
          `#publishers tr[data-key="${key}"]`,
        )?.textContent ?? null,
      KEY,
    );
    ok(row?.includes(KEY), `publisher row for ${KEY}: ${row}`);
    const cloudSparks = byName(
      await waitFor(
        () =>
          drawn(
            `#publishers tr.spark-row[data-spark-key="${KEY}"] [data-history-style="spark"]`,
          ),
        (c) => (byName(c).retransmissions?.nonzero ?? 0) > 0,
        "the publisher row's sparklines",
      ),
    );
    deepEqual(Object.keys(cloudSparks), Object.keys(cloudCharts));
    const cloudShot = `${dir}/cloud_charts.png`;
    await page.screenshot({ path: cloudShot, fullPage: true });
    console.log(`cloud page: screenshot ${cloudShot}`);
    deepEqual(pageErrors, [], "page errors");
    ok(historyKeys.length > 0, "the pages asked /api/history");
    for (const keys of historyKeys) {
      deepEqual(
        keys,
        [KEY],
        "one history request names each shown stream once",
      );
    }
  },
);
