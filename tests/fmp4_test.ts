import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { demuxFlv, type FlvTag } from "../lib/flv/mod.ts";
import {
  avcSpsSize,
  concatBytes,
  findBox,
  FlvFragmenter,
  hevcSpsSize,
  initSegment,
  mediaFragment,
  NON_SYNC_SAMPLE_FLAGS,
  parseAacConfig,
  readBoxes,
  readFlvMedia,
  SYNC_SAMPLE_FLAGS,
} from "../lib/fmp4/mod.ts";
import { ffprobeJson, makeMedia } from "../testkit/media.ts";
import { av1Tags } from "./support/av1.ts";
import { hevcTags, hvcC } from "./support/hevc.ts";
import { FFMPEG_AAC_SEQ, FFMPEG_AVC_SEQ } from "./support/vectors.ts";
import { fromHex } from "../testkit/bytes.ts";

const u32 = (b: Uint8Array, o: number) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o);
const u16 = (b: Uint8Array, o: number) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(o);
const text = (b: Uint8Array, o: number, n: number) =>
  String.fromCharCode(...b.subarray(o, o + n));

// The ffmpeg vectors of tests/flv_codec_test.ts (160x120 H.264, AAC 44.1k mono).
const AVC_SEQ_TAG = FFMPEG_AVC_SEQ;
const AVC_RECORD = AVC_SEQ_TAG.subarray(5);
const AAC_SEQ_TAG = FFMPEG_AAC_SEQ;
const ASC = AAC_SEQ_TAG.subarray(2);
// x265 for testsrc2 176x144 (ffmpeg -c:v libx265 -f hevc).
const HEVC_VPS = fromHex("40010c01ffff01600000030090000003000003003c928090");
const HEVC_SPS = fromHex(
  "42010101600000030090000003000003003ca01620245964a924caf0168080000003008000000c84",
);
const HEVC_PPS = fromHex("4401c172b46240");

Deno.test("codec configs: H.264 and HEVC SPS sizes, AudioSpecificConfig", () => {
  deepEqual(
    avcSpsSize(fromHex("6742c00bda0a11f97011000003000100000300320f142aa0")),
    {
      width: 160,
      height: 120,
    },
  );
  deepEqual(hevcSpsSize(HEVC_SPS), { width: 176, height: 144 });
  deepEqual(parseAacConfig(ASC), {
    objectType: 2,
    sampleRate: 44100,
    channels: 1,
    frameLength: 1024,
  });
  throws(() => parseAacConfig(Uint8Array.of(0x16, 0x88)), /frequency index/);
});

Deno.test("init segment: ftyp + moov for H.264 + AAC, exact fields", () => {
  const v = readFlvMedia({ type: 9, timestamp: 0, data: AVC_SEQ_TAG });
  const a = readFlvMedia({ type: 8, timestamp: 0, data: AAC_SEQ_TAG });
  if (v?.kind !== "video-config" || a?.kind !== "audio-config") {
    throw new Error("expected configs");
  }
  deepEqual({ w: v.config.width, h: v.config.height }, { w: 160, h: 120 });
  const init = initSegment([
    { kind: "video", id: 1, timescale: 90000, ...v.config },
    {
      kind: "audio",
      id: 2,
      timescale: 44100,
      codec: "aac",
      config: ASC,
      sampleRate: 44100,
      channels: 1,
    },
  ]);
  deepEqual(readBoxes(init).map((b) => b.type), ["ftyp", "moov"]);
  const ftyp = findBox(init, "ftyp")!.payload;
  equal(text(ftyp, 0, 4), "iso6");
  equal(text(ftyp, 8, 16), "iso6cmfciso5mp41");
  const moov = findBox(init, "moov")!.payload;
  deepEqual(readBoxes(moov).map((b) => b.type), [
    "mvhd",
    "trak",
    "trak",
    "mvex",
  ]);
  const mvhd = findBox(init, "moov/mvhd")!.payload;
  equal(u32(mvhd, 12), 1000); // timescale
  equal(u32(mvhd, 96), 3); // next_track_ID
  const traks = readBoxes(moov).filter((b) => b.type === "trak");
  const tkhd = findBox(traks[0].payload, "tkhd")!.payload;
  equal(u32(tkhd, 12), 1); // track_ID
  equal(u32(tkhd, 76), 160 << 16);
  equal(u32(tkhd, 80), 120 << 16);
  const mdhd = findBox(traks[0].payload, "mdia/mdhd")!.payload;
  equal(u32(mdhd, 12), 90000);
  equal(text(findBox(traks[0].payload, "mdia/hdlr")!.payload, 8, 4), "vide");
  const avc1 = findBox(traks[0].payload, "mdia/minf/stbl/stsd/avc1")!.payload;
  equal(u16(avc1, 24), 160);
  equal(u16(avc1, 26), 120);
  deepEqual(
    findBox(traks[0].payload, "mdia/minf/stbl/stsd/avc1/avcC")!.payload,
    AVC_RECORD,
  );
  for (const t of ["stts", "stsc", "stco"]) {
    equal(u32(findBox(traks[0].payload, `mdia/minf/stbl/${t}`)!.payload, 4), 0);
  }
  equal(text(findBox(traks[1].payload, "mdia/hdlr")!.payload, 8, 4), "soun");
  equal(u32(findBox(traks[1].payload, "mdia/mdhd")!.payload, 12), 44100);
  const mp4a = findBox(traks[1].payload, "mdia/minf/stbl/stsd/mp4a")!.payload;
  equal(u16(mp4a, 16), 1); // channels
  equal(u16(mp4a, 18), 16); // sample size
  equal(u32(mp4a, 24), 44100 * 65536);
  const esds = findBox(traks[1].payload, "mdia/minf/stbl/stsd/mp4a/esds")!
    .payload;
  // ES_Descriptor(3) > DecoderConfig(4: 0x40 audio, stream 0x15) > DSI(5) = ASC
  equal(esds[4], 3);
  const dcd = esds.indexOf(4, 12);
  deepEqual([esds[dcd + 5], esds[dcd + 6]], [0x40, 0x15]);
  const dsi = dcd + 5 + 13;
  deepEqual([...esds.subarray(dsi, dsi + 5)], [
    5,
    0x80,
    0x80,
    0x80,
    ASC.length,
  ]);
  deepEqual(esds.subarray(dsi + 5, dsi + 5 + ASC.length), ASC);
  const trex = readBoxes(findBox(init, "moov/mvex")!.payload);
  deepEqual(trex.map((b) => [b.type, u32(b.payload, 4), u32(b.payload, 8)]), [
    ["trex", 1, 1],
    ["trex", 2, 1],
  ]);
  throws(() => initSegment([]), /at least one track/);
});

Deno.test("init segment: HEVC from an Enhanced RTMP hvc1 sequence start", () => {
  const record = hvcC(HEVC_VPS, HEVC_SPS, HEVC_PPS);
  const m = readFlvMedia({
    type: 9,
    timestamp: 0,
    data: Uint8Array.from([0x90, 0x68, 0x76, 0x63, 0x31, ...record]),
  });
  if (m?.kind !== "video-config") throw new Error("expected a config");
  deepEqual([m.config.codec, m.config.width, m.config.height], [
    "hevc",
    176,
    144,
  ]);
  const init = initSegment([{
    kind: "video",
    id: 1,
    timescale: 90000,
    ...m.config,
  }]);
  const trak = findBox(init, "moov/trak")!.payload;
  const hvc1 = findBox(trak, "mdia/minf/stbl/stsd/hvc1")!.payload;
  equal(u16(hvc1, 24), 176);
  equal(u16(hvc1, 26), 144);
  deepEqual(findBox(trak, "mdia/minf/stbl/stsd/hvc1/hvcC")!.payload, record);
});

Deno.test("fragment: mfhd, tfhd, tfdt, trun durations/sizes/flags/cts, mdat", () => {
  const frag = mediaFragment(7, [
    {
      trackId: 1,
      baseDecodeTime: 2 ** 33 + 5,
      samples: [
        { data: Uint8Array.of(1, 2, 3), duration: 3600, cts: 7200, sync: true },
        { data: Uint8Array.of(4), duration: 3600, cts: -3600, sync: false },
      ],
    },
    { trackId: 2, baseDecodeTime: 0, samples: [] },
    {
      trackId: 3,
      baseDecodeTime: 1024,
      samples: [{
        data: Uint8Array.of(9, 9),
        duration: 1024,
        cts: 0,
        sync: true,
      }],
    },
  ]);
  deepEqual(readBoxes(frag).map((b) => b.type), ["moof", "mdat"]);
  const moof = readBoxes(frag)[0];
  equal(u32(findBox(frag, "moof/mfhd")!.payload, 4), 7);
  const trafs = readBoxes(moof.payload).filter((b) => b.type === "traf");
  equal(trafs.length, 2); // the empty run is left out
  const tfhd = findBox(trafs[0].payload, "tfhd")!.payload;
  equal(u32(tfhd, 0), 0x020000); // default-base-is-moof
  equal(u32(tfhd, 4), 1);
  const tfdt = findBox(trafs[0].payload, "tfdt")!.payload;
  equal(tfdt[0], 1);
  equal(u32(tfdt, 4) * 2 ** 32 + u32(tfdt, 8), 2 ** 33 + 5);
  const trun = findBox(trafs[0].payload, "trun")!.payload;
  equal(u32(trun, 0), 0x01000f01);
  equal(u32(trun, 4), 2);
  const mdatStart = moof.size + 8;
  equal(u32(trun, 8), mdatStart); // data offset from the moof
  deepEqual(
    [0, 1].map((i) => [0, 4, 8, 12].map((k) => u32(trun, 12 + 16 * i + k))),
    [
      [3600, 3, SYNC_SAMPLE_FLAGS, 7200],
      [3600, 1, NON_SYNC_SAMPLE_FLAGS, (-3600) >>> 0],
    ],
  );
  const trun3 = findBox(trafs[1].payload, "trun")!.payload;
  equal(u32(trun3, 8), mdatStart + 4);
  deepEqual([...frag.subarray(mdatStart)], [1, 2, 3, 4, 9, 9]);
  throws(() => mediaFragment(0, []), /sequence number/);
  throws(() => mediaFragment(1, []), /at least one sample/);
});

Deno.test("fragmenter: durations from the next sample, cuts before a sample, end", () => {
  const f = new FlvFragmenter();
  const cfg = readFlvMedia({ type: 9, timestamp: 0, data: AVC_SEQ_TAG });
  if (cfg?.kind !== "video-config") throw new Error("config");
  const frame = (dts: number, sync: boolean) => ({
    kind: "video" as const,
    dts,
    cts: 40,
    sync,
    data: Uint8Array.of(0, 0, 0, 1, dts & 0xff),
  });
  equal(f.add(frame(0, true)).accepted, false); // no config yet
  f.configure(cfg);
  equal(f.add(frame(1000, true)).accepted, true);
  ok(f.init);
  equal(f.add(frame(1040, false)).fragment, undefined);
  const cut = f.add(frame(1100, true), true).fragment!;
  const trun = findBox(cut, "moof/traf/trun")!.payload;
  equal(u32(trun, 4), 2);
  // sample 0: duration 3600, cts 3600 (40 ms); sample 1: duration 5400
  deepEqual([u32(trun, 12), u32(trun, 24), u32(trun, 28)], [3600, 3600, 5400]);
  equal(
    u32(findBox(cut, "moof/traf/tfdt")!.payload, 8),
    90_000,
  );
  const last = f.end()!;
  const trun2 = findBox(last, "moof/traf/trun")!.payload;
  equal(u32(trun2, 12), 5400); // repeats the previous duration
  equal(u32(findBox(last, "moof/mfhd")!.payload, 4), 2);
  equal(f.changes(cfg), false);
});

/** init + fragments of `tags`, a fragment at each keyframe and every ~200 ms. */
function fragmentAll(tags: FlvTag[]): Uint8Array {
  const f = new FlvFragmenter();
  const out: Uint8Array[] = [];
  let init: Uint8Array | undefined;
  let partStart = -1;
  for (const tag of tags) {
    const m = readFlvMedia(tag);
    if (m === undefined) continue;
    if (m.kind === "video-config" || m.kind === "audio-config") {
      f.configure(m);
      continue;
    }
    const cut = m.kind === "video" &&
      (m.sync || m.dts - partStart >= 200) && partStart >= 0;
    if (m.kind === "video" && (cut || partStart < 0)) partStart = m.dts;
    const r = f.add(m, cut);
    init ??= f.init;
    if (r.fragment) out.push(r.fragment);
  }
  const last = f.end();
  if (last) out.push(last);
  return concatBytes([init!, ...out]);
}

interface Packet {
  type: string;
  pts: number;
  dts: number;
  key: boolean;
  size: number;
}

async function packets(file: string): Promise<Packet[]> {
  const out = await ffprobeJson(
    file,
    "packet=codec_type,pts_time,dts_time,flags,size",
    { countFrames: false },
  );
  equal(out.stderr, "");
  return out.json!.packets.map((p: Record<string, string>) => ({
    type: p.codec_type,
    pts: Math.round(Number(p.pts_time) * 1000),
    dts: Math.round(Number(p.dts_time) * 1000),
    key: p.flags.startsWith("K"),
    size: Number(p.size),
  }));
}

async function decodeErrors(file: string): Promise<string> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-i", file, "-f", "null", "-"],
  }).output();
  return new TextDecoder().decode(out.stderr);
}

Deno.test("round trip: ffmpeg FLV (H.264 with B-frames + AAC) → fMP4 → ffprobe sees the same packets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const flv = `${dir}/in.flv`;
    const mp4 = `${dir}/out.mp4`;
    const { tags } = demuxFlv(
      await makeMedia(
        "-f lavfi -i testsrc2=size=160x120:rate=25 -f lavfi -i sine=sample_rate=44100 -t 3 -c:v libx264 -preset veryfast -bf 2 -g 25 -c:a aac -f flv",
        flv,
      ),
    );
    await Deno.writeFile(mp4, fragmentAll(tags));
    const want = await packets(flv);
    const got = await packets(mp4);
    const by = (ps: Packet[], t: string) => ps.filter((p) => p.type === t);
    const sorted = (ps: Packet[]) => [...ps].sort((a, b) => a.dts - b.dts);
    deepEqual(sorted(by(got, "video")), sorted(by(want, "video")));
    ok(by(want, "video").some((p) => p.pts !== p.dts), "B-frames in input");
    const wa = sorted(by(want, "audio"));
    const ga = sorted(by(got, "audio"));
    equal(ga.length, wa.length);
    for (let i = 0; i < wa.length; i++) {
      ok(
        Math.abs(ga[i].dts - wa[i].dts) <= 1,
        `audio ${i}: ${ga[i].dts} vs ${wa[i].dts}`,
      );
      equal(ga[i].size, wa[i].size);
    }
    equal(await decodeErrors(mp4), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("round trip: HEVC (Enhanced RTMP hvc1 tags from x265) → fMP4 decodes, same frames", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const raw = `${dir}/in.hevc`;
    const tags = hevcTags(
      await makeMedia(
        "-f lavfi -i testsrc2=size=176x144:rate=25 -t 2 -c:v libx265 -x265-params log-level=none:keyint=25 -bf 0 -f hevc",
        raw,
      ),
    );
    equal(tags.length, 51);
    const mp4 = `${dir}/out.mp4`;
    await Deno.writeFile(mp4, fragmentAll(tags));
    const got = await packets(mp4);
    equal(got.length, 50);
    deepEqual(got.map((p) => p.dts), tags.slice(1).map((t) => t.timestamp));
    deepEqual(
      got.filter((p) => p.key).map((p) => p.dts),
      [0, 1000],
    );
    equal(await decodeErrors(mp4), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("round trip: AV1 (Enhanced RTMP av01 tags from libaom) → fMP4 decodes, same frames", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const raw = `${dir}/in.obu`;
    const tags = av1Tags(
      await makeMedia(
        "-f lavfi -i testsrc2=size=176x144:rate=25 -t 2 -c:v libaom-av1 -cpu-used 8 -g 25 -keyint_min 25 -f obu",
        raw,
      ),
    );
    equal(tags.length, 51);
    const cfg = readFlvMedia(tags[0]);
    if (cfg?.kind !== "video-config") throw new Error("expected a config");
    deepEqual([cfg.config.codec, cfg.config.width, cfg.config.height], [
      "av1",
      176,
      144,
    ]);
    const mp4 = `${dir}/out.mp4`;
    const bytes = fragmentAll(tags);
    ok(
      findBox(
        findBox(bytes, "moov/trak")!.payload,
        "mdia/minf/stbl/stsd/av01/av1C",
      ),
    );
    await Deno.writeFile(mp4, bytes);
    const got = await packets(mp4);
    equal(got.length, 50);
    deepEqual(got.map((p) => p.dts), tags.slice(1).map((t) => t.timestamp));
    deepEqual(got.filter((p) => p.key).map((p) => p.dts), [0, 1000]);
    equal(await decodeErrors(mp4), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
