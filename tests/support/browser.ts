/**
 * A live stream in a real browser, the setup every browser test shares:
 * cloud + edge on loopback, ffmpeg publishing a lavfi clip, the stream
 * waited for at the edge, headless Chromium with one page whose errors are
 * collected; everything stopped and removed (the temp dir kept with
 * FLVCAST_KEEP_SCREENSHOTS=1) whatever the test did.
 *
 * @module
 */
import { chromium, type Page } from "playwright-core";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumPresent,
} from "../../testkit/chromium.ts";
import { publishLavfi } from "../../testkit/media.ts";
import { until } from "../../testkit/poll.ts";
import {
  type CloudAndEdge,
  type CloudAndEdgeOptions,
  startCloudAndEdge,
} from "./nodes.ts";

/** What {@linkcode withLiveBrowser} hands the test. */
export interface LiveBrowser extends CloudAndEdge {
  /** The browser page (blank). */
  page: Page;
  /** Uncaught errors of the page so far. */
  pageErrors: string[];
  /** The test's temp dir (recordings, screenshots). */
  dir: string;
}

/** Options for {@linkcode withLiveBrowser}. */
export interface LiveBrowserOptions {
  /** Stream key published (e.g. `live/browser`). */
  key: string;
  /** Prefix of the temp dir. */
  prefix: string;
  /** Further EdgeNode options (latency 200 ms unless given). */
  edge?: CloudAndEdgeOptions["edge"];
  /** Browser viewport; default 1280×800. */
  viewport?: { width: number; height: number };
}

/** What the edge page's `<video>` shows (see {@linkcode videoState}). */
export interface VideoState {
  /** `currentTime` in seconds. */
  currentTime: number;
  /** Decoded frames (`getVideoPlaybackQuality`). */
  frames: number;
  /** Whether the element is paused. */
  paused: boolean;
  /** The media error's message or code, if any. */
  error: string | null;
  /** The page's status line. */
  status: string;
  /** hls.js's live latency in seconds (LL-HLS mode), else null. */
  latency: number | null;
}

/** Reads the edge page's video element and status in `page`. */
export function videoState(page: Page): Promise<VideoState> {
  return page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const g = globalThis as any;
    const v = g.document.getElementById("video");
    const q = v.getVideoPlaybackQuality();
    const hls = g.flvcastPage?.state?.player?.hls;
    return {
      currentTime: v.currentTime as number,
      frames: q.totalVideoFrames as number,
      paused: v.paused as boolean,
      error: v.error ? String(v.error.message || v.error.code) : null,
      status: g.document.getElementById("status").textContent as string,
      latency: typeof hls?.latency === "number" ? hls.latency : null,
    };
  });
}

/**
 * Registers a browser test named `name` that runs `fn` in
 * {@linkcode withLiveBrowser}: skipped, and named as skipped by `who`, when
 * Chromium is missing (a failure under `CI=true`); Chromium's own ops and
 * resources are not checked.
 */
export function browserTest(
  name: string,
  who: string,
  opts: LiveBrowserOptions,
  fn: (b: LiveBrowser) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: !chromiumPresent(who),
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withLiveBrowser(opts, fn),
  });
}

/**
 * Runs `fn` with a stream live at the edge and a browser page open.
 *
 * @example Usage
 * ```ts ignore
 * await withLiveBrowser({ key: "live/x", prefix: "x_" }, async ({ edge, page }) => {
 *   await page.goto(`http://127.0.0.1:${edge.ports.flv}/`);
 * });
 * ```
 */
export async function withLiveBrowser(
  opts: LiveBrowserOptions,
  fn: (b: LiveBrowser) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: opts.prefix });
  const nodes = await startCloudAndEdge({
    recordDir: dir,
    dialCloudAtStart: true,
    edge: { latencyMs: 200, ...opts.edge },
  });
  const profile = await Deno.makeTempDir({ prefix: "flvcast_chromium_" });
  let context:
    | Awaited<ReturnType<typeof chromium.launchPersistentContext>>
    | undefined;
  const pub = publishLavfi({
    url: `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/${opts.key}`,
    seconds: 120,
    size: "640x360",
  });
  try {
    await until(
      () =>
        nodes.edge.streams().some((s) => s.key === opts.key && s.tags_out > 50),
      "the stream to reach the edge",
      20_000,
      100,
    );
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      args: [...CHROMIUM_ARGS],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await fn({ ...nodes, page, pageErrors, dir });
  } finally {
    await context?.close().catch(() => {});
    pub.kill();
    await pub.done;
    await nodes.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    if (Deno.env.get("FLVCAST_KEEP_SCREENSHOTS") === undefined) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** Waits (20 s by default) for `test`, failing with `what`: page state
 * changes at the browser's pace. */
export function waitFor(
  test: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  return until(test, what, timeoutMs, 100);
}
