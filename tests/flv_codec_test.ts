import { deepEqual, equal } from "node:assert/strict";
import * as flv from "../lib/flv/mod.ts";
import { makeMedia } from "../testkit/media.ts";
import { FFMPEG_AAC_SEQ, FFMPEG_AVC_SEQ } from "./support/vectors.ts";
import { fromHex } from "../testkit/bytes.ts";

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const v = (bytes: number[] | Uint8Array, ts = 0): flv.FlvTag => ({
  type: 9,
  timestamp: ts,
  data: Uint8Array.from(bytes),
});
const a = (bytes: number[] | Uint8Array, ts = 0): flv.FlvTag => ({
  type: 8,
  timestamp: ts,
  data: Uint8Array.from(bytes),
});

// Hand-copied from `ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25
// -f lavfi -i sine -c:v libx264 -preset ultrafast -c:a aac -f flv` output.
const FFMPEG_AAC_CONFIG = FFMPEG_AAC_SEQ;
const FFMPEG_AVC_KEY_START = fromHex(
  "1701000000000002520605ffff4edc45e9bde6d948b7962cd820d923eeef78323634",
);
const FFMPEG_AVC_INTER_START = fromHex("270100000000000498419a208bc3b263");
const FFMPEG_AAC_RAW_START = fromHex("af01de02004c61766335392e33372e31");
const FFMPEG_METADATA_START = fromHex(
  "02000a6f6e4d65746144617461080000000d00086475726174696f6e003ff05e353f7ced91",
);

Deno.test("real ffmpeg vectors: AVC seq header, keyframe, inter, AAC", () => {
  const seq = v(FFMPEG_AVC_SEQ);
  equal(flv.isSequenceHeader(seq), true);
  equal(flv.isKeyframe(seq), false);
  equal(flv.videoCodecName(seq), "avc");
  const key = v(FFMPEG_AVC_KEY_START, 23);
  equal(flv.isKeyframe(key), true);
  equal(flv.isSequenceHeader(key), false);
  const inter = v(FFMPEG_AVC_INTER_START, 63);
  equal(flv.isKeyframe(inter), false);
  equal(flv.isSequenceHeader(inter), false);
  const cfg = a(FFMPEG_AAC_CONFIG);
  equal(flv.isSequenceHeader(cfg), true);
  equal(flv.audioCodecName(cfg), "aac");
  equal(flv.isKeyframe(cfg), false);
  const raw = a(FFMPEG_AAC_RAW_START);
  equal(flv.isSequenceHeader(raw), false);
  const meta: flv.FlvTag = {
    type: 18,
    timestamp: 0,
    data: FFMPEG_METADATA_START,
  };
  equal(flv.isMetadata(meta), true);
  equal(flv.scriptName(meta), "onMetaData");
  equal(flv.isSequenceHeader(meta), false);
  equal(flv.videoCodecName(meta), undefined);
  equal(flv.audioCodecName(seq), undefined);
});

Deno.test("legacy video: HEVC (12), end of sequence, codecs without packet type", () => {
  equal(flv.isSequenceHeader(v([0x1c, 0x00, 0, 0, 0, 1])), true);
  equal(flv.isKeyframe(v([0x1c, 0x01, 0, 0, 0])), true);
  equal(flv.isKeyframe(v([0x2c, 0x01, 0, 0, 0])), false);
  equal(flv.videoCodecName(v([0x1c, 0x01])), "hevc");
  const eos = v([0x17, 0x02, 0, 0, 0]);
  equal(flv.isSequenceEnd(eos), true);
  equal(flv.isKeyframe(eos), false);
  equal(flv.isSequenceHeader(eos), false);
  equal(flv.isKeyframe(v([0x14, 0])), true); // VP6 keyframe
  equal(flv.isKeyframe(v([0x24, 0])), false);
  equal(flv.videoCodecName(v([0x14])), "vp6");
  equal(flv.videoCodecName(v([0x12])), "h263");
  equal(flv.isKeyframe(v([0x17])), false); // truncated AVC
  equal(flv.isKeyframe(v([])), false);
  equal(flv.parseVideoTag(new Uint8Array()), undefined);
  deepEqual(flv.parseVideoTag(Uint8Array.of(0x27, 1, 0, 0, 0)), {
    exHeader: false,
    frameType: 2,
    codecId: 7,
    codec: "avc",
    packetType: 1,
    multitrack: false,
    payloadOffset: 2,
  });
});

Deno.test("Enhanced RTMP video: SequenceStart, CodedFrames(X), FourCCs", () => {
  for (
    const [cc, name] of [
      ["avc1", "avc"],
      ["hvc1", "hevc"],
      ["av01", "av1"],
      ["vp09", "vp9"],
    ]
  ) {
    const fourcc = ascii(cc);
    // 0x90 = IsExHeader | key frame (1 << 4) | SequenceStart (0)
    const seq = v([0x90, ...fourcc, 1, 2, 3, 4]);
    equal(flv.isSequenceHeader(seq), true, cc);
    equal(flv.isKeyframe(seq), false, cc);
    equal(flv.videoCodecName(seq), name);
    // 0x91 key CodedFrames (SI24 composition time follows for avc1/hvc1)
    equal(flv.isKeyframe(v([0x91, ...fourcc, 0, 0, 0, 0x65])), true, cc);
    // 0x93 key CodedFramesX
    equal(flv.isKeyframe(v([0x93, ...fourcc, 0x65])), true, cc);
    // 0xa1 / 0xa3: inter frames (frame type 2)
    equal(flv.isKeyframe(v([0xa1, ...fourcc, 0, 0, 0, 0x41])), false, cc);
    equal(flv.isKeyframe(v([0xa3, ...fourcc, 0x41])), false, cc);
    // 0x92 SequenceEnd, 0x94 Metadata, 0x95 MPEG2TSSequenceStart
    equal(flv.isSequenceEnd(v([0x92, ...fourcc])), true, cc);
    equal(flv.isKeyframe(v([0x92, ...fourcc])), false, cc);
    equal(flv.isKeyframe(v([0x94, ...fourcc, 2, 0, 9])), false, cc);
    equal(flv.isSequenceHeader(v([0x94, ...fourcc, 2, 0, 9])), false, cc);
    equal(flv.isSequenceHeader(v([0x95, ...fourcc, 0x81])), true, cc);
  }
  deepEqual(flv.parseVideoTag(Uint8Array.of(0x93, ...ascii("av01"), 0x12)), {
    exHeader: true,
    frameType: 1,
    fourCC: "av01",
    packetType: 3,
    codec: "av1",
    multitrack: false,
    payloadOffset: 5,
  });
  equal(flv.videoCodecName(v([0x91, ...ascii("xyz1")])), "xyz1");
  equal(flv.isKeyframe(v([0x91, 0x68, 0x76])), false); // truncated FourCC
});

Deno.test("Enhanced RTMP video: ModEx, Multitrack, command frames", () => {
  // ModEx (7): size-1 = 2 -> 3 bytes of data, then (modExType << 4 | CodedFrames)
  const modEx = v([0x97, 0x02, 9, 9, 9, 0x01, ...ascii("hvc1"), 0, 0, 0]);
  equal(flv.isKeyframe(modEx), true);
  equal(flv.videoCodecName(modEx), "hevc");
  // Multitrack (6): (OneTrack << 4 | SequenceStart), FourCC, trackId …
  const mt = v([0x96, 0x00, ...ascii("av01"), 0, 0x81]);
  equal(flv.isSequenceHeader(mt), true);
  equal(flv.parseVideoTag(mt.data)?.multitrack, true);
  equal(flv.parseVideoTag(mt.data)?.payloadOffset, 6);
  equal(flv.parseVideoTag(modEx.data)?.payloadOffset, 10);
  const mtKey = v([0x96, 0x11, ...ascii("vp09"), 0, 0, 0, 5, 0]);
  equal(flv.isKeyframe(mtKey), true);
  // Command frame (5) carries a VideoCommand byte, no FourCC
  const cmd = v([0xd1, 0x00]);
  equal(flv.isKeyframe(cmd), false);
  equal(flv.videoCodecName(cmd), undefined);
});

Deno.test("Enhanced RTMP audio (sound format 9) and legacy audio", () => {
  const opusSeq = a([0x90, ...ascii("Opus"), 0x4f, 0x70]);
  equal(flv.isSequenceHeader(opusSeq), true);
  equal(flv.audioCodecName(opusSeq), "opus");
  equal(flv.isSequenceHeader(a([0x91, ...ascii("Opus"), 0xfc])), false);
  equal(flv.audioCodecName(a([0x90, ...ascii("mp4a"), 0x12, 0x10])), "aac");
  equal(
    flv.parseAudioTag(Uint8Array.of(0x91, ...ascii("mp4a"), 9))?.payloadOffset,
    5,
  );
  equal(flv.parseAudioTag(Uint8Array.of(0xaf, 1, 9))?.payloadOffset, 2);
  equal(flv.parseAudioTag(Uint8Array.of(0x2f, 9))?.payloadOffset, 1);
  equal(flv.audioCodecName(a([0x91, ...ascii("fLaC")])), "flac");
  equal(flv.audioCodecName(a([0x91, ...ascii("ac-3")])), "ac3");
  equal(flv.isSequenceEnd(a([0x92, ...ascii("Opus")])), true);
  // Multitrack (5)
  const mt = a([0x95, 0x00, ...ascii("Opus"), 0]);
  equal(flv.isSequenceHeader(mt), true);
  equal(flv.parseAudioTag(mt.data)?.multitrack, true);
  // ModEx (7)
  equal(flv.isSequenceHeader(a([0x97, 0x00, 7, 0x00, ...ascii("Opus")])), true);
  equal(flv.audioCodecName(a([0x2f, 1, 2])), "mp3");
  equal(flv.isSequenceHeader(a([0x2f, 0])), false);
  equal(flv.audioCodecName(a([0x7e])), "g711a");
  equal(flv.isSequenceHeader(a([0xaf])), false); // truncated AAC
  equal(flv.audioCodecName(a([])), undefined);
});

Deno.test("script names: onMetaData, @setDataFrame-wrapped, others", () => {
  const amfStr = (s: string) => [0x02, 0, s.length, ...ascii(s)];
  const s = (bytes: number[]): flv.FlvTag => ({
    type: 18,
    timestamp: 0,
    data: Uint8Array.from(bytes),
  });
  equal(
    flv.isMetadata(s([...amfStr("@setDataFrame"), ...amfStr("onMetaData")])),
    true,
  );
  equal(flv.scriptName(s(amfStr("onCuePoint"))), "onCuePoint");
  equal(flv.isMetadata(s(amfStr("onCuePoint"))), false);
  equal(flv.scriptName(s([0x02, 0, 20, 0x41])), undefined); // truncated
  equal(flv.scriptName(s([0x00, 0, 0, 0, 0, 0, 0, 0, 0])), undefined);
});

Deno.test({
  name: "ffmpeg FLV at test time: codecs, seq headers, keyframes per GOP",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { tags } = flv.demuxFlv(
        await makeMedia(
          "-f lavfi -i testsrc2=size=160x120:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -frames:v 50 -c:v libx264 -preset ultrafast -g 10 -keyint_min 10 -sc_threshold 0 -c:a aac -f flv",
          `${dir}/a.flv`,
        ),
      );
      equal(flv.isMetadata(tags[0]), true);
      const video = tags.filter((t) => t.type === 9);
      const audio = tags.filter((t) => t.type === 8);
      equal(flv.isSequenceHeader(video[0]), true);
      equal(video.filter(flv.isSequenceHeader).length, 1);
      equal(flv.videoCodecName(video[0]), "avc");
      equal(flv.isSequenceHeader(audio[0]), true);
      equal(flv.audioCodecName(audio[0]), "aac");
      equal(flv.isSequenceEnd(video.at(-1)!), true); // ffmpeg writes AVC EOS
      const frames = video.slice(1, -1);
      equal(frames.length, 50);
      const keyIdx = frames.flatMap((t, i) => flv.isKeyframe(t) ? [i] : []);
      deepEqual(keyIdx, [0, 10, 20, 30, 40]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
