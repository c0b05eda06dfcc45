import { concatBytes } from "../lib/bytes/mod.ts";
import { deepEqual, equal, throws } from "node:assert/strict";
import {
  demuxFlv,
  encodeFileTag,
  encodeFlvHeader,
  FlvDemuxer,
  type FlvTag,
} from "../lib/flv/mod.ts";
import { makeMedia } from "../testkit/media.ts";
import { withSeed } from "../testkit/random.ts";

const concat = concatBytes;

function sampleTags(): FlvTag[] {
  const tags: FlvTag[] = [];
  for (let i = 0; i < 30; i++) {
    const n = i === 7 ? 70_000 : (i * 37) % 500;
    tags.push({
      type: ([8, 9, 18] as const)[i % 3],
      timestamp: i === 29 ? 0xfedcba98 : i * 20,
      data: new Uint8Array(n).map((_, j) => (i + j * 13) & 0xff),
    });
  }
  return tags;
}

function sampleFile(tags = sampleTags()): Uint8Array {
  return concat([encodeFlvHeader(), ...tags.map(encodeFileTag)]);
}

async function ffmpegFlv(): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    return await makeMedia(
      "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 -c:v libx264 -preset ultrafast -g 25 -c:a aac -f flv",
      `${dir}/a.flv`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FlvDemuxer: whole buffer gives back the exact tags", () => {
  const tags = sampleTags();
  const { header, tags: got } = demuxFlv(sampleFile(tags));
  deepEqual(header, { version: 1, audio: true, video: true, headerSize: 9 });
  deepEqual(got, tags);
});

Deno.test("FlvDemuxer: 1-byte chunks and random chunk sizes", () => {
  const tags = sampleTags();
  const file = sampleFile(tags);
  const d = new FlvDemuxer();
  const got: FlvTag[] = [];
  for (let i = 0; i < file.length; i++) {
    got.push(...d.push(file.subarray(i, i + 1)));
    equal(d.bufferedBytes <= 70_000, true);
  }
  d.end();
  deepEqual(got, tags);
  equal(d.offset, file.length);
  equal(d.tagCount, tags.length);
  withSeed((random) => {
    for (let round = 0; round < 20; round++) {
      const d2 = new FlvDemuxer();
      const got2: FlvTag[] = [];
      let i = 0;
      while (i < file.length) {
        const n = 1 + Math.floor(random() * 3000);
        got2.push(...d2.push(file.subarray(i, i + n)));
        i += n;
      }
      d2.end();
      deepEqual(got2, tags);
    }
  });
});

Deno.test("FlvDemuxer: tags own their data (input buffer may be reused)", () => {
  const file = sampleFile();
  const d = new FlvDemuxer();
  const buf = new Uint8Array(100);
  const got: FlvTag[] = [];
  for (let i = 0; i < file.length; i += 100) {
    const n = Math.min(100, file.length - i);
    buf.set(file.subarray(i, i + n));
    got.push(...d.push(buf.subarray(0, n)));
    buf.fill(0xee);
  }
  deepEqual(got, sampleTags());
});

Deno.test("FlvDemuxer: real ffmpeg file, whole and 1-byte chunks", async () => {
  const file = await ffmpegFlv();
  const whole = demuxFlv(file).tags;
  equal(whole.length > 100, true);
  const d = new FlvDemuxer();
  const got: FlvTag[] = [];
  for (let i = 0; i < file.length; i++) {
    got.push(...d.push(file.subarray(i, i + 1)));
  }
  d.end();
  deepEqual(got, whole);
  // re-muxing the tags gives back the same bytes (ffmpeg writes canonical FLV)
  deepEqual(sampleFile(whole).subarray(13), file.subarray(13));
});

Deno.test("FlvDemuxer: truncation is reported by end() at every cut point", () => {
  const tags = sampleTags().slice(0, 4);
  const file = sampleFile(tags);
  const boundaries = new Set<number>([13]);
  let o = 13;
  for (const t of tags) {
    o += 11 + t.data.length;
    boundaries.add(o); // missing final PreviousTagSize is tolerated
    o += 4;
    boundaries.add(o);
  }
  for (let cut = 0; cut < file.length; cut++) {
    const d = new FlvDemuxer();
    d.push(file.subarray(0, cut));
    if (boundaries.has(cut)) {
      d.end();
    } else {
      throws(() => d.end(), /FLV truncated at offset/, `cut ${cut}`);
    }
  }
  const d = new FlvDemuxer();
  equal(tags[0].data.length, 0);
  d.push(file.subarray(0, 13 + 15 + 11 + 5));
  throws(
    () => d.end(),
    new RegExp(`tag body: expected ${tags[1].data.length} bytes, got 5`),
  );
});

Deno.test("FlvDemuxer: garbage and bad signature error cleanly", () => {
  throws(
    () => new FlvDemuxer().push(new TextEncoder().encode("<html><body>")),
    /expected signature "FLV" \(46 4c 56\), got 3c 68 74/,
  );
  const file = sampleFile();
  const bad = file.slice();
  bad[13] = 0x07; // first tag type
  throws(
    () => demuxFlv(bad),
    /FLV tag at offset 13: expected type 8, 9 or 18, got 0x07/,
  );
  const ver = file.slice();
  ver[3] = 2;
  throws(() => demuxFlv(ver), /expected version 1, got 2/);
  // random garbage after a valid header never hangs or crashes
  for (let i = 0; i < 200; i++) {
    const g = crypto.getRandomValues(new Uint8Array(2000));
    const d = new FlvDemuxer({ maxTagSize: 1 << 20 });
    try {
      d.push(encodeFlvHeader());
      d.push(g);
      d.end();
    } catch (e) {
      equal(e instanceof RangeError, true);
    }
  }
  // errors are sticky
  const d = new FlvDemuxer();
  throws(() => d.push(new Uint8Array(9)), /signature/);
  throws(() => d.push(file), /signature/);
});

Deno.test("FlvDemuxer: oversized tags and PreviousTagSize mismatch", () => {
  const big: FlvTag = { type: 9, timestamp: 0, data: new Uint8Array(5000) };
  const file = sampleFile([big]);
  throws(
    () => new FlvDemuxer({ maxTagSize: 4096 }).push(file),
    /FLV tag at offset 13: expected dataSize <= 4096, got 5000/,
  );
  // default cap 8 MiB: a header claiming 16 MiB-1 is refused before buffering
  const huge = concat([
    encodeFlvHeader(),
    new Uint8Array([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  throws(
    () => new FlvDemuxer().push(huge),
    /expected dataSize <= 8388608, got 16777215/,
  );
  const mism = file.slice();
  mism[mism.length - 1] ^= 1;
  throws(
    () => demuxFlv(mism),
    new RegExp(
      `PreviousTagSize at offset ${file.length - 4}: expected 5011, got 5010`,
    ),
  );
  equal(demuxFlv(mism, { checkPreviousTagSize: false }).tags.length, 1);
  throws(() => new FlvDemuxer({ maxTagSize: -1 }), /maxTagSize/);
});

Deno.test("FlvDemuxer: DataOffset > 9 skips the extra header bytes", () => {
  const h = encodeFlvHeader();
  const ext = concat([
    h.subarray(0, 9),
    new Uint8Array([0xaa, 0xbb, 0xcc]),
    h.subarray(9),
  ]);
  ext[8] = 12;
  const tag: FlvTag = {
    type: 8,
    timestamp: 1,
    data: new Uint8Array([0xaf, 1]),
  };
  const file = concat([ext, encodeFileTag(tag)]);
  const d = new FlvDemuxer();
  const got: FlvTag[] = [];
  for (const b of file) got.push(...d.push(Uint8Array.of(b)));
  d.end();
  deepEqual(got, [tag]);
  equal(d.header?.headerSize, 12);
});
