/**
 * Real-browser playback: ffmpeg publishes a lavfi clip → cloud → RTP →
 * edge → headless Debian Chromium opens the edge's page and plays the stream
 * with mpegts.js over HTTP-FLV, then over WebSocket-FLV (the page's toggle).
 * Asserts `currentTime` advances ≥ 3 s and decoded frames grow for each, and
 * saves a screenshot per transport in the test's temp dir.
 */
import { equal, ok } from "node:assert/strict";
import {
  browserTest,
  type VideoState,
  videoState,
  waitFor,
} from "./support/browser.ts";

const KEY = "live/browser";

browserTest(
  "browser: Chromium plays the edge page over HTTP-FLV and WebSocket-FLV",
  "browser_playback_test",
  { key: KEY, prefix: "flvcast_browser_" },
  async ({ edge, page, pageErrors, dir }) => {
    // The page, its API and the streams: all from the edge's FLV port.
    const origin = `http://127.0.0.1:${edge.ports.flv}`;
    const app = await fetch(`${origin}/web/app.js`);
    await app.body?.cancel();
    equal(app.status, 200, "expected the edge to serve its page's script");
    const flvRequests: string[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith(".flv")) flvRequests.push(r.url());
    });
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));

    const video = () => videoState(page);

    const assertPlays = async (transport: string) => {
      let first: VideoState | undefined;
      await waitFor(
        async () => {
          first = await video();
          return first.currentTime > 0.2 && first.frames > 0;
        },
        `${transport}: playback to start (last: ${JSON.stringify(first)})`,
      );
      const start = first!;
      let now = start;
      await waitFor(
        async () => {
          now = await video();
          return now.currentTime >= start.currentTime + 3;
        },
        `${transport}: currentTime to advance 3 s (from ${
          JSON.stringify(start)
        }, last ${JSON.stringify(now)})`,
      );
      ok(
        now.frames > start.frames,
        `${transport}: expected decoded frames to grow, got ${start.frames} → ${now.frames}`,
      );
      equal(now.error, null, `${transport}: video element error`);
      // Live counters from /api/streams: the row and the players count.
      await waitFor(
        () =>
          page.evaluate((key) => {
            // deno-lint-ignore no-explicit-any
            const d = (globalThis as any).document;
            const row = d.querySelector(`tr[data-key="${key}"]`);
            const players = Number(
              d.getElementById("c-players").textContent,
            );
            return row !== null && players >= 1;
          }, KEY),
        `${transport}: the stream row and players ≥ 1 on the page`,
      );
      await page.screenshot({ path: `${dir}/page_${transport}.png` });
      console.log(
        `browser ${transport}: currentTime ${start.currentTime.toFixed(2)} → ${
          now.currentTime.toFixed(2)
        } s, frames ${start.frames} → ${now.frames}; screenshot ${dir}/page_${transport}.png`,
      );
    };

    // HTTP-FLV, as a link to the page would open it.
    await page.goto(`${origin}/?stream=${encodeURIComponent(KEY)}`);
    await assertPlays("http-flv");
    ok(
      flvRequests.some((u) => u.endsWith(`/${KEY}.flv`)),
      `expected an HTTP-FLV request for ${KEY}, got ${flvRequests}`,
    );
    equal(sockets.length, 0, "no WebSocket while on HTTP-FLV");

    // WebSocket-FLV through the page's toggle.
    await page.click("#transport-ws");
    await waitFor(
      () =>
        sockets.some((u) => u.startsWith("ws://") && u.endsWith(`/${KEY}.flv`)),
      `a WebSocket-FLV connection (got ${sockets})`,
    );
    await assertPlays("ws-flv");
    const wsPlayers = edge.streams().find((s) => s.key === KEY)?.players;
    ok(
      (wsPlayers ?? 0) >= 1,
      `expected the edge to count the player, got ${wsPlayers}`,
    );
    equal(pageErrors.length, 0, `page errors: ${pageErrors.join("; ")}`);
  },
);
