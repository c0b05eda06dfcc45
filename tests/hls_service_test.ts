import { deepEqual, equal, ok } from "node:assert/strict";
import type { FlvTag } from "../lib/flv/mod.ts";
import { StreamHub } from "../lib/hub/mod.ts";
import { HlsService, parseHlsPath } from "../lib/hls/mod.ts";
import {
  FFMPEG_AAC_SEQ,
  FFMPEG_AVC_SEQ,
  syntheticVideo,
} from "./support/vectors.ts";

const AVC_SEQ = FFMPEG_AVC_SEQ;
const AAC_SEQ = FFMPEG_AAC_SEQ;

/** Synthetic 25 fps H.264 (1 s GOP) + AAC tags from `from` to `to` ms. */
function media(from: number, to: number): FlvTag[] {
  const out = syntheticVideo(from, to);
  for (let i = Math.ceil(from * 44.1 / 1024); i * 1024 / 44.1 < to; i++) {
    out.push({
      type: 8,
      timestamp: Math.round(i * 1024 / 44.1),
      data: Uint8Array.of(0xaf, 1, 0x21, i & 0xff),
    });
  }
  return out.sort((a, b) => a.timestamp - b.timestamp || b.type - a.type);
}

const seqHeaders = (): FlvTag[] => [
  { type: 9, timestamp: 0, data: AVC_SEQ },
  { type: 8, timestamp: 0, data: AAC_SEQ },
];

function setup() {
  const hub = new StreamHub();
  const stream = hub.open("live/movie");
  for (const t of seqHeaders()) stream.push(t);
  const hls = new HlsService({ hub });
  const get = (path: string, method = "GET") =>
    hls.handle(new Request(`http://edge${path}`, { method }));
  return { hub, stream, hls, get };
}

/**
 * {@linkcode setup}, then a first playlist request (which starts segmenting
 * from the hub's cached GOP on) answered after 2.5 s of media.
 */
async function segmenting() {
  const s = setup();
  const first = s.get("/live/movie.m3u8");
  for (const t of media(0, 2500)) s.stream.push(t);
  await body(first);
  return s;
}

async function body(r: Response | Promise<Response> | undefined) {
  const res = await r!;
  return { status: res.status, text: await res.text(), headers: res.headers };
}

Deno.test("routes: HLS paths parse, others are left to the other handlers", () => {
  deepEqual(parseHlsPath("/live/movie.m3u8"), {
    kind: "playlist",
    key: "live/movie",
  });
  deepEqual(parseHlsPath("/live/movie/init2.mp4"), {
    kind: "init",
    key: "live/movie",
    id: 2,
  });
  deepEqual(parseHlsPath("/live/movie/s12.m4s"), {
    kind: "segment",
    key: "live/movie",
    msn: 12,
  });
  deepEqual(parseHlsPath("/live/movie/p61.m4s"), {
    kind: "part",
    key: "live/movie",
    id: 61,
  });
  for (
    const p of [
      "/live/movie.flv",
      "/",
      "/.m3u8",
      "/live/../x.m3u8",
      "/live/movie/s1.mp4",
      "/live//a.m3u8",
      "/live/movie/x1.m4s",
    ]
  ) {
    equal(parseHlsPath(p), undefined, p);
  }
  const { hls } = setup();
  equal(hls.handle(new Request("http://edge/live/movie.flv")), undefined);
  hls.stop();
});

Deno.test("playlist, init, segment, part over the service; CORS; 404 for streams not live", async () => {
  const { stream, hls, get } = setup();
  const r404 = await body(get("/live/nope.m3u8"));
  equal(r404.status, 404);
  equal(r404.headers.get("access-control-allow-origin"), "*");
  const first = get("/live/movie.m3u8"); // held until the first segment is complete
  ok(first instanceof Promise);
  for (const t of media(0, 2500)) stream.push(t);
  const pl = await body(first);
  equal(pl.status, 200);
  equal(pl.headers.get("content-type"), "application/vnd.apple.mpegurl");
  equal(pl.headers.get("access-control-allow-origin"), "*");
  ok(pl.text.includes('#EXT-X-MAP:URI="movie/init1.mp4"'), pl.text);
  ok(pl.text.includes("movie/s1.m4s"));
  const init = await (await get("/live/movie/init1.mp4"))!.arrayBuffer();
  ok(init.byteLength > 500);
  const s0 = await get("/live/movie/s0.m4s")!;
  equal(s0.status, 200);
  equal(s0.headers.get("content-type"), "video/mp4");
  await s0.arrayBuffer();
  const p0 = await get("/live/movie/p5.m4s")!; // first part of s1
  equal(p0.status, 200);
  await p0.body?.cancel();
  equal((await body(get("/live/movie/s99.m4s"))).status, 404);
  equal((await body(get("/live/movie/init9.mp4"))).status, 404);
  equal((await body(get("/live/movie.m3u8", "POST"))).status, 405);
  equal((await get("/live/movie.m3u8", "OPTIONS"))!.status, 204);
  const st = hls.stats;
  equal(st.playlistRequests, 2); // 405 and OPTIONS are not counted
  ok(st.bytesServed > init.byteLength);
  deepEqual(hls.produced(), { segments: 2, parts: 12, sessions: 1 });
  const names = hls.metrics().map((m) => m.name);
  ok(names.includes("flvcast_edge_hls_parts_total"));
  hls.stop();
});

Deno.test("blocking reload: answered by the push that makes the part, with it in the playlist", async () => {
  const { stream, hls, get } = await segmenting();
  // segment 2 has parts 0, 1 (p10, p11); ask for part 3 of segment 2
  let answered: string | undefined;
  const held = get("/live/movie.m3u8?_HLS_msn=2&_HLS_part=3") as Promise<
    Response
  >;
  let respondedAt = 0;
  held.then(async (r) => {
    respondedAt = performance.now();
    answered = await r.text();
  });
  let pushes = 0;
  const partsBefore = hls.produced().parts;
  let partsAtAnswer = -1;
  let partMadeAt = 0;
  for (const t of media(2500, 3200)) {
    const before = hls.produced().parts;
    const at = performance.now();
    stream.push(t);
    if (hls.produced().parts > before) partMadeAt = at;
    pushes++;
    for (let i = 0; i < 5; i++) await Promise.resolve();
    if (answered !== undefined) {
      partsAtAnswer = hls.produced().parts;
      break;
    }
  }
  ok(answered, "answered");
  console.log(
    `blocking reload answered ${
      ((respondedAt - partMadeAt) * 1000).toFixed(0)
    } µs after the push that made the part`,
  );
  // exactly when the part came: two more parts (p12, p13) than before
  equal(partsAtAnswer, partsBefore + 2);
  ok(answered.includes('URI="movie/p13.m4s"'), answered);
  ok(answered.includes('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="movie/p14.m4s"'));
  equal(hls.stats.held >= 1, true);
  equal(hls.stats.heldNow, 0);
  ok(pushes > 1);
  // a hinted part is held until it is written, then served whole
  const hinted = get("/live/movie/p14.m4s") as Promise<Response>;
  ok(hinted instanceof Promise);
  for (const t of media(3200, 3500)) stream.push(t);
  const part = await hinted;
  equal(part.status, 200);
  equal(new Uint8Array(await part.arrayBuffer()).length > 0, true);
  // bad parameters
  equal((await body(get("/live/movie.m3u8?_HLS_part=1"))).status, 400);
  equal((await body(get("/live/movie.m3u8?_HLS_msn=x"))).status, 400);
  equal((await body(get("/live/movie.m3u8?_HLS_msn=99"))).status, 400);
  equal(hls.stats.badRequests, 3);
  hls.stop();
});

Deno.test("blocking reload: 503 after three target durations without the part", async () => {
  const { hls, get } = await segmenting();
  const started = Date.now();
  const r = await body(get("/live/movie.m3u8?_HLS_msn=3&_HLS_part=0"));
  equal(r.status, 503);
  ok(Date.now() - started >= 2900, "held for 3 × TARGETDURATION (1 s)");
  equal(hls.stats.heldTimeouts, 1);
  hls.stop();
});

Deno.test("delta update, republish discontinuity, ENDLIST when the stream ends", async () => {
  const hub = new StreamHub();
  let stream = hub.open("live/movie");
  for (const t of seqHeaders()) stream.push(t);
  const hls = new HlsService({ hub, windowSegments: 12 });
  const get = (p: string) => hls.handle(new Request(`http://edge${p}`));
  for (const t of media(0, 500)) stream.push(t);
  const first = get("/live/movie.m3u8");
  for (const t of media(500, 15500)) stream.push(t);
  await body(first);
  const delta = await body(get("/live/movie.m3u8?_HLS_skip=YES"));
  ok(delta.text.includes("#EXT-X-SKIP:SKIPPED-SEGMENTS="), delta.text);
  // republish: same playlist continues after a discontinuity
  stream = hub.open("live/movie");
  await Promise.resolve();
  for (const t of [...seqHeaders(), ...media(0, 2100)]) stream.push(t);
  const after = await body(get("/live/movie.m3u8"));
  ok(
    after.text.includes(
      '#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="movie/init2.mp4"',
    ),
    after.text,
  );
  stream.end("publisher left");
  const ended = await body(get("/live/movie.m3u8"));
  ok(ended.text.trimEnd().endsWith("#EXT-X-ENDLIST"), ended.text);
  hls.stop();
});

Deno.test("held requests are bounded (maxHeld) and refusals counted", async () => {
  const hub = new StreamHub();
  const stream = hub.open("live/movie");
  for (const t of seqHeaders()) stream.push(t);
  const hls = new HlsService({ hub, maxHeld: 1 });
  const get = (p: string) => hls.handle(new Request(`http://edge${p}`));
  const a = get("/live/movie.m3u8");
  const b = await body(get("/live/movie.m3u8"));
  equal(b.status, 503);
  equal(hls.stats.heldRefused, 1);
  for (const t of media(0, 1100)) stream.push(t);
  equal((await body(a)).status, 200);
  hls.stop();
});

Deno.test("play access: authorize refuses or lets through; a playlist's query rides on its URIs", async () => {
  const hub = new StreamHub();
  const stream = hub.open("live/movie");
  for (const t of seqHeaders()) stream.push(t);
  const asked: string[] = [];
  const hls = new HlsService({
    hub,
    authorize: (req, route) => {
      const sign = new URL(req.url).searchParams.get("sign");
      asked.push(`${route.kind}:${sign}`);
      return Promise.resolve(
        sign === "good" ? undefined : new Response("forbidden\n", {
          status: 403,
        }),
      );
    },
  });
  const get = (p: string) => hls.handle(new Request(`http://edge${p}`));
  equal((await body(get("/live/movie.m3u8?sign=bad"))).status, 403);
  const first = get("/live/movie.m3u8?sign=good");
  await new Promise((r) => setTimeout(r, 0)); // the access decision settles
  equal(hls.produced().sessions, 1);
  for (const t of media(0, 2500)) stream.push(t);
  const pl = await body(first);
  equal(pl.status, 200);
  ok(pl.text.includes('#EXT-X-MAP:URI="movie/init1.mp4?sign=good"'), pl.text);
  ok(pl.text.includes("movie/s0.m4s?sign=good"));
  ok(pl.text.includes('PRELOAD-HINT:TYPE=PART,URI="movie/p12.m4s?sign=good"'));
  const blocked = await body(
    get("/live/movie.m3u8?sign=good&_HLS_msn=2&_HLS_part=1"),
  );
  ok(
    blocked.text.includes('URI="movie/p11.m4s?sign=good"'),
    "no _HLS_ params on URIs",
  );
  equal((await get("/live/movie/s0.m4s?sign=good"))!.status, 200);
  equal((await body(get("/live/movie/s0.m4s"))).status, 403);
  deepEqual(asked.slice(0, 2), ["playlist:bad", "playlist:good"]);
  hls.stop();
});
