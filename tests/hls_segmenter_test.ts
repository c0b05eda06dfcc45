import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { demuxFlv, type FlvTag } from "../lib/flv/mod.ts";
import { findBox, readBoxes } from "../lib/fmp4/mod.ts";
import { HlsSegmenter, renderPlaylist } from "../lib/hls/mod.ts";
import { makeMedia, probe } from "../testkit/media.ts";
import { FFMPEG_AAC_SEQ, FFMPEG_AVC_SEQ } from "./support/vectors.ts";

const AVC_SEQ = FFMPEG_AVC_SEQ;
const AAC_SEQ = FFMPEG_AAC_SEQ;

interface StreamOptions {
  seconds: number;
  fps?: number;
  gop?: number;
  audio?: boolean;
  video?: boolean;
  start?: number;
  videoSeq?: Uint8Array;
}

/** A synthetic A/V stream in FLV tag order (timestamps interleaved). */
function stream(o: StreamOptions): FlvTag[] {
  const fps = o.fps ?? 25;
  const gop = o.gop ?? fps;
  const start = o.start ?? 0;
  const tags: FlvTag[] = [];
  if (o.video !== false) {
    tags.push({ type: 9, timestamp: start, data: o.videoSeq ?? AVC_SEQ });
  }
  if (o.audio !== false) {
    tags.push({ type: 8, timestamp: start, data: AAC_SEQ });
  }
  const media: FlvTag[] = [];
  if (o.video !== false) {
    for (let i = 0; i < o.seconds * fps; i++) {
      const key = i % gop === 0;
      media.push({
        type: 9,
        timestamp: start + Math.round(i * 1000 / fps),
        data: Uint8Array.of(
          key ? 0x17 : 0x27,
          1,
          0,
          0,
          0,
          0,
          0,
          0,
          2,
          9,
          i & 0xff,
        ),
      });
    }
  }
  if (o.audio !== false) {
    for (let i = 0; i < o.seconds * 44100 / 1024; i++) {
      media.push({
        type: 8,
        timestamp: start + Math.round(i * 1024 * 1000 / 44100),
        data: Uint8Array.of(0xaf, 1, 0x21, i & 0xff),
      });
    }
  }
  media.sort((a, b) => a.timestamp - b.timestamp || b.type - a.type);
  return [...tags, ...media];
}

function feed(seg: HlsSegmenter, tags: FlvTag[]): void {
  for (const t of tags) seg.push(t, t.timestamp);
}

const lines = (s: string) => s.trimEnd().split("\n");
const attr = (line: string, name: string) =>
  line.match(new RegExp(`${name}=("[^"]*"|[^,]*)`))?.[1].replace(/"/g, "");

Deno.test("playlist: tag order, attributes, part/segment durations, MSN continuity", () => {
  const seg = new HlsSegmenter();
  feed(seg, stream({ seconds: 4.5 }));
  const text = renderPlaylist(seg.view(), { prefix: "movie/" });
  const l = lines(text);
  deepEqual(l.slice(0, 9), [
    "#EXTM3U",
    "#EXT-X-VERSION:9",
    "#EXT-X-TARGETDURATION:1",
    "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=6.0",
    "#EXT-X-PART-INF:PART-TARGET=0.200",
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-DISCONTINUITY-SEQUENCE:0",
    '#EXT-X-MAP:URI="movie/init1.mp4"',
    "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z",
  ]);
  // the wall clock of each segment's first sample (here now = timestamp)
  deepEqual(
    l.filter((x) => x.startsWith("#EXT-X-PROGRAM-DATE-TIME:")).map((x) =>
      Date.parse(x.slice(25))
    ),
    [0, 1000, 2000, 3000, 4000],
  );
  const extinf = l.filter((x) => x.startsWith("#EXTINF:"));
  deepEqual(extinf, [
    "#EXTINF:1.000,",
    "#EXTINF:1.000,",
    "#EXTINF:1.000,",
    "#EXTINF:1.000,",
  ]);
  deepEqual(l.filter((x) => x.endsWith(".m4s") && !x.startsWith("#")), [
    "movie/s0.m4s",
    "movie/s1.m4s",
    "movie/s2.m4s",
    "movie/s3.m4s",
  ]);
  const parts = l.filter((x) => x.startsWith("#EXT-X-PART:"));
  for (const p of parts) ok(Number(attr(p, "DURATION")) <= 0.2, p);
  // 5 parts a segment, the first independent; parts are listed for the
  // segments starting within 3 target durations of the end (s2, s3) and
  // the segment being built (2 parts so far).
  equal(parts.length, 2 * 5 + 2);
  equal(parts.filter((p) => p.endsWith("INDEPENDENT=YES")).length, 3);
  deepEqual(
    parts.map((p) => attr(p, "URI")),
    [...Array(12).keys()].map((i) => `movie/p${i + 10}.m4s`),
  );
  equal(l.at(-1), '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="movie/p22.m4s"');
  // EXT-X-PART lines of a segment precede its EXTINF
  ok(l.lastIndexOf("#EXTINF:1.000,") > l.indexOf(parts[4]));
  // bytes: a segment is its parts, each a moof + mdat starting with a keyframe-first part
  const s1 = seg.segment(1)!;
  equal(s1.bytes!.length, s1.parts.reduce((n, p) => n + p.bytes.length, 0));
  deepEqual(readBoxes(s1.parts[0].bytes).map((b) => b.type), ["moof", "mdat"]);
  ok(seg.init(1)!.length > 0);
  equal(seg.stats.segments, 4);
  equal(seg.stats.parts, 22);
});

Deno.test("playlist: live window of 6, MEDIA-SEQUENCE moves, parts only near the end", () => {
  const seg = new HlsSegmenter({ windowSegments: 6 });
  feed(seg, stream({ seconds: 20.5 }));
  const l = lines(renderPlaylist(seg.view()));
  ok(l.includes("#EXT-X-MEDIA-SEQUENCE:14"));
  deepEqual(
    l.filter((x) => x.startsWith("s")),
    ["s14.m4s", "s15.m4s", "s16.m4s", "s17.m4s", "s18.m4s", "s19.m4s"],
  );
  // parts listed for the segments starting in the last 3 target durations
  const partUris = l.filter((x) => x.startsWith("#EXT-X-PART:"));
  equal(partUris.length, 2 * 5 + 2);
  equal(seg.segment(13), undefined);
  ok(seg.segment(14));
  equal(seg.part(0), undefined); // gone with its segment
  ok(seg.part(seg.nextPartId - 1));
});

Deno.test("blocking reload condition: has(msn, part)", () => {
  const seg = new HlsSegmenter();
  feed(seg, stream({ seconds: 2.5 }));
  // segments 0, 1 complete; segment 2 has 2 parts (p10, p11)
  equal(seg.nextMsn, 2);
  equal(seg.has(1), true);
  equal(seg.has(2), false);
  equal(seg.has(2, 1), true);
  equal(seg.has(2, 2), false);
  equal(seg.has(3, 0), false);
  feed(
    seg,
    stream({ seconds: 3, start: 2520 }).filter((t) =>
      t.timestamp < 2560 && t.data[1] !== 0
    ),
  );
  equal(seg.has(2, 2), false); // frame at 2520 opens nothing yet
  seg.end(3000);
  equal(seg.has(9, 9), true); // ended: nothing more will come
});

Deno.test("delta update: _HLS_skip=YES replaces segments older than CAN-SKIP-UNTIL", () => {
  const seg = new HlsSegmenter({ windowSegments: 12 });
  feed(seg, stream({ seconds: 15.5 }));
  const full = lines(renderPlaylist(seg.view()));
  const delta = lines(renderPlaylist(seg.view(), { skip: true }));
  equal(full.filter((x) => x.startsWith("s")).length, 12);
  // 12 segments + 0.6 s being built; keep what is within 6 s of the end
  ok(delta.includes("#EXT-X-SKIP:SKIPPED-SEGMENTS=7"), delta.join("\n"));
  deepEqual(
    delta.filter((x) => x.startsWith("s")),
    ["s10.m4s", "s11.m4s", "s12.m4s", "s13.m4s", "s14.m4s"],
  );
  ok(delta.includes("#EXT-X-MEDIA-SEQUENCE:3"));
  ok(
    delta.indexOf("#EXT-X-SKIP:SKIPPED-SEGMENTS=7") <
      delta.indexOf('#EXT-X-MAP:URI="init1.mp4"'),
  );
});

Deno.test("republish: discontinuity + new init; DISCONTINUITY-SEQUENCE counts removed ones", () => {
  const seg = new HlsSegmenter({ windowSegments: 3 });
  feed(seg, stream({ seconds: 3.5 }));
  seg.discontinue(3500);
  feed(seg, stream({ seconds: 2.5 }));
  let l = lines(renderPlaylist(seg.view()));
  const i = l.indexOf("#EXT-X-DISCONTINUITY");
  ok(i > 0);
  deepEqual(l.slice(i, i + 2), [
    "#EXT-X-DISCONTINUITY",
    '#EXT-X-MAP:URI="init2.mp4"',
  ]);
  // s3 is the 0.52 s cut short by the republish, s4 opens the new publish
  deepEqual(l.filter((x) => x.startsWith("s")), ["s3.m4s", "s4.m4s", "s5.m4s"]);
  equal(l[l.indexOf("s3.m4s") - 1], "#EXTINF:0.520,");
  equal(l.indexOf("#EXT-X-DISCONTINUITY"), l.indexOf("s3.m4s") + 1);
  ok(l.includes("#EXT-X-DISCONTINUITY-SEQUENCE:0"));
  ok(seg.init(1)); // s3 still needs it
  // tfdt restarts with the new publish: s4 starts at media time 0
  const tfdt = findBox(seg.segment(4)!.parts[0].bytes, "moof/traf/tfdt")!;
  equal(
    new DataView(tfdt.payload.buffer, tfdt.payload.byteOffset).getUint32(8),
    0,
  );
  feed(
    seg,
    stream({ seconds: 4.5, start: 2520 }).filter((t) => t.data[1] !== 0),
  );
  l = lines(renderPlaylist(seg.view()));
  ok(l.includes("#EXT-X-DISCONTINUITY-SEQUENCE:1"), l.join("\n"));
  ok(!l.includes("#EXT-X-DISCONTINUITY"));
  equal(seg.init(1), undefined);
});

Deno.test("new decoder configuration mid-stream: discontinuity and a new init", () => {
  const seg = new HlsSegmenter();
  feed(seg, stream({ seconds: 2.5 }));
  const changed = AVC_SEQ.slice();
  changed[changed.length - 1] ^= 1; // another PPS
  feed(seg, stream({ seconds: 2.5, start: 2520, videoSeq: changed }));
  const l = lines(renderPlaylist(seg.view()));
  ok(l.includes("#EXT-X-DISCONTINUITY"));
  ok(l.includes('#EXT-X-MAP:URI="init2.mp4"'));
  // the audio configuration was kept: init2 has both tracks
  equal(
    readBoxes(findBox(seg.init(2)!, "moov")!.payload).filter((b) =>
      b.type === "trak"
    ).length,
    2,
  );
});

Deno.test("stream end: last part and segment completed, ENDLIST, no preload hint", () => {
  const seg = new HlsSegmenter();
  feed(seg, stream({ seconds: 2.3 }));
  seg.end(9999);
  const l = lines(renderPlaylist(seg.view()));
  equal(l.at(-1), "#EXT-X-ENDLIST");
  ok(!l.some((x) => x.startsWith("#EXT-X-PRELOAD-HINT")));
  deepEqual(l.filter((x) => x.startsWith("#EXTINF")), [
    "#EXTINF:1.000,",
    "#EXTINF:1.000,",
    "#EXTINF:0.320,",
  ]);
  seg.push(stream({ seconds: 1 })[2], 10000); // ignored after end
  equal(seg.stats.segments, 3);
});

Deno.test("audio-only and video-only streams; long GOPs; bad input", () => {
  const audio = new HlsSegmenter();
  feed(audio, stream({ seconds: 3.2, video: false }));
  let l = lines(renderPlaylist(audio.view()));
  equal(l.filter((x) => x.startsWith("#EXTINF")).length, 3);
  for (const p of l.filter((x) => x.startsWith("#EXT-X-PART:"))) {
    ok(p.endsWith("INDEPENDENT=YES"));
    ok(Number(attr(p, "DURATION")) <= 0.2);
  }
  for (const x of l.filter((x) => x.startsWith("#EXTINF"))) {
    ok(Math.round(Number(x.slice(8, -1))) <= 1, x);
  }
  const video = new HlsSegmenter();
  feed(video, stream({ seconds: 2.5, audio: false }));
  equal(video.stats.segments, 2);
  equal(
    readBoxes(findBox(video.init(1)!, "moov")!.payload).filter((b) =>
      b.type === "trak"
    ).length,
    1,
  );
  // GOP of 2 s: target 2; GOP of 0.5 s: segments of two GOPs (>= 1 s)
  const long = new HlsSegmenter();
  feed(long, stream({ seconds: 6.5, gop: 50 }));
  ok(lines(renderPlaylist(long.view())).includes("#EXT-X-TARGETDURATION:2"));
  const short = new HlsSegmenter();
  feed(short, stream({ seconds: 3.2, gop: 12 }));
  l = lines(renderPlaylist(short.view()));
  ok(l.includes("#EXT-X-TARGETDURATION:1"));
  for (const x of l.filter((x) => x.startsWith("#EXTINF"))) {
    ok(Math.round(Number(x.slice(8, -1))) <= 1, x);
  }
  // a malformed sequence header is counted, the stream goes on
  const bad = new HlsSegmenter();
  bad.push(
    { type: 9, timestamp: 0, data: Uint8Array.of(0x17, 0, 0, 0, 0, 9) },
    0,
  );
  equal(bad.stats.malformed, 1);
  feed(bad, stream({ seconds: 1.5 }));
  equal(bad.stats.segments, 1);
  // frames before the first keyframe are skipped
  const late = new HlsSegmenter();
  feed(
    late,
    stream({ seconds: 2.5 }).filter((t, i) => i < 2 || t.timestamp >= 100),
  );
  ok(late.stats.skipped > 0);
  throws(
    () => new HlsSegmenter({ partMs: 0 }),
    /partMs: expected a positive integer/,
  );
});

Deno.test("ffmpeg FLV → segmenter → VOD playlist on disk: ffmpeg decodes every frame, 0 errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const flv = `${dir}/in.flv`;
    const { tags } = demuxFlv(
      await makeMedia(
        "-f lavfi -i testsrc2=size=160x120:rate=25 -f lavfi -i sine=sample_rate=44100 -t 4 -c:v libx264 -preset veryfast -bf 2 -g 25 -c:a aac -f flv",
        flv,
      ),
    );
    const seg = new HlsSegmenter({ windowSegments: 100 });
    feed(seg, tags);
    seg.end(0);
    const m = seg.view();
    for (const s of m.segments) {
      await Deno.writeFile(`${dir}/s${s.msn}.m4s`, s.bytes!);
    }
    await Deno.writeFile(`${dir}/init1.mp4`, seg.init(1)!);
    await Deno.writeTextFile(`${dir}/live.m3u8`, renderPlaylist(m));
    const probed = await probe(`${dir}/live.m3u8`);
    deepEqual(probed.errors, []);
    equal(probed.videoFrames, 100);
    equal(probed.audioFrames, tags.filter((t) => t.type === 8).length - 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PROGRAM-DATE-TIME: a burst of cached tags takes the clock of the newest one", () => {
  const seg = new HlsSegmenter();
  // 2.5 s of tags handed over at once at wall clock 10 000 (a cached GOP)
  for (const t of stream({ seconds: 2.5 })) seg.push(t, 10_000);
  const pdt = lines(renderPlaylist(seg.view()))
    .filter((x) => x.startsWith("#EXT-X-PROGRAM-DATE-TIME:"))
    .map((x) => Date.parse(x.slice(25)));
  // the last video frame (2480 ms) arrived at 10 000: media 0 = 7 520
  deepEqual(pdt.slice(1), [7520 + 1000, 7520 + 2000]);
});
