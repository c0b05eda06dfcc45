/**
 * Real-browser LL-HLS: ffmpeg publishes a lavfi clip (1 s GOP) → cloud → RTP
 * → edge; headless Debian Chromium opens the edge's page in its HLS mode
 * (hls.js from the edge, `lowLatencyMode`). Asserts `currentTime` advances
 * ≥ 3 s, decoded frames grow, hls.js used blocking playlist reloads and
 * parts, and prints hls.js's live latency (the number, not a pass/fail).
 */
import { equal, ok } from "node:assert/strict";
import {
  browserTest,
  type VideoState,
  videoState,
  waitFor,
} from "./support/browser.ts";

const KEY = "live/llhls";

browserTest(
  "browser: Chromium plays the edge page's LL-HLS mode (hls.js lowLatencyMode)",
  "hls_browser_test",
  { key: KEY, prefix: "flvcast_hls_browser_" },
  async ({ edge, page, pageErrors, dir }) => {
    const origin = `http://127.0.0.1:${edge.ports.flv}`;
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    const video = () => videoState(page);
    await page.goto(
      `${origin}/?stream=${encodeURIComponent(KEY)}&transport=hls`,
    );
    let first: VideoState | undefined;
    await waitFor(async () => {
      first = await video();
      return first.currentTime > 0.2 && first.frames > 0;
    }, `LL-HLS playback to start (last: ${JSON.stringify(first)})`);
    const start = first!;
    let now = start;
    await waitFor(
      async () => {
        now = await video();
        return now.currentTime >= start.currentTime + 3;
      },
      `currentTime to advance 3 s (from ${JSON.stringify(start)}, last ${
        JSON.stringify(now)
      })`,
    );
    ok(now.frames > start.frames, `frames ${start.frames} → ${now.frames}`);
    equal(now.error, null, "video element error");
    equal(pageErrors.length, 0, `page errors: ${pageErrors.join("; ")}`);
    ok(now.latency !== null, "hls.js reports its live latency");
    ok(
      requests.some((u) => u.includes(".m3u8?_HLS_msn=")),
      "hls.js used blocking playlist reloads",
    );
    ok(
      requests.some((u) => /\/p\d+\.m4s$/.test(u)),
      "hls.js fetched LL-HLS parts",
    );
    ok(
      requests.some((u) => u.endsWith("/web/hls.js")),
      "hls.js from the edge",
    );
    // the stream list shows the HLS path of the stream
    await waitFor(
      () =>
        page.evaluate((key) => {
          // deno-lint-ignore no-explicit-any
          const d = (globalThis as any).document;
          const row = d.querySelector(`tr[data-key="${key}"]`);
          return row !== null &&
            [...row.cells].some((c: { textContent: string }) =>
              c.textContent === `/${key}.m3u8`
            );
        }, KEY),
      "the stream row to show its HLS path",
    );
    await page.screenshot({ path: `${dir}/page_hls.png` });
    console.log(
      `browser ll-hls: currentTime ${start.currentTime.toFixed(2)} → ${
        now.currentTime.toFixed(2)
      } s, frames ${start.frames} → ${now.frames}, hls.js latency ${
        now.latency!.toFixed(2)
      } s; screenshot ${dir}/page_hls.png`,
    );
  },
);
