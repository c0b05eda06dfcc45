import { concatBytes } from "../lib/bytes/mod.ts";
import { deepEqual, equal, throws } from "node:assert/strict";
import {
  abortMessage,
  ackMessage,
  ChunkDecoder,
  ChunkEncoder,
  type ChunkMessage,
  RtmpProtocolError,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "../lib/rtmp/mod.ts";
import { seededBytes } from "../testkit/random.ts";

function cat(...parts: (number[] | Uint8Array)[]): Uint8Array {
  return concatBytes(parts.map((p) => Uint8Array.from(p)));
}

function fill(n: number, v: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (v + i) & 0xff);
}

/** Decodes `bytes` whole and split at every position; all must agree. */
function decodeAllWays(bytes: Uint8Array): ChunkMessage[] {
  const whole = new ChunkDecoder().push(bytes);
  const byByte: ChunkMessage[] = [];
  const d1 = new ChunkDecoder();
  for (let i = 0; i < bytes.length; i++) {
    byByte.push(...d1.push(bytes.subarray(i, i + 1)));
  }
  deepEqual(byByte, whole);
  for (const cut of [1, 2, 5, 12, 13, 100, 129, 140]) {
    if (cut >= bytes.length) continue;
    const d = new ChunkDecoder();
    deepEqual(
      [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))],
      whole,
    );
  }
  return whole;
}

const msg = (
  csid: number,
  type: number,
  streamId: number,
  timestamp: number,
  data: Uint8Array,
): ChunkMessage => ({ csid, type, streamId, timestamp, data });

Deno.test("chunk: type-0 header, single chunk, byte exact both ways", () => {
  const data = new Uint8Array([0xaa, 0xbb, 0xcc]);
  const bytes = new Uint8Array([
    0x03, // fmt 0, csid 3
    0x00,
    0x01,
    0x02, // timestamp 258
    0x00,
    0x00,
    0x03, // length 3
    0x14, // type 20
    0x01,
    0x00,
    0x00,
    0x00, // stream id 1, little endian
    0xaa,
    0xbb,
    0xcc,
  ]);
  deepEqual(decodeAllWays(bytes), [msg(3, 20, 1, 258, data)]);
  deepEqual(
    new ChunkEncoder().encode({
      csid: 3,
      type: 20,
      streamId: 1,
      timestamp: 258,
      data,
    }),
    bytes,
  );
});

Deno.test("chunk: message split into type-3 continuations at 128 bytes", () => {
  const data = fill(300, 0);
  const bytes = cat(
    [0x06, 0, 0, 40, 0, 0x01, 0x2c, 9, 1, 0, 0, 0],
    data.subarray(0, 128),
    [0xc6],
    data.subarray(128, 256),
    [0xc6],
    data.subarray(256),
  );
  deepEqual(decodeAllWays(bytes), [msg(6, 9, 1, 40, data)]);
  deepEqual(
    new ChunkEncoder().encode({
      csid: 6,
      type: 9,
      streamId: 1,
      timestamp: 40,
      data,
    }),
    bytes,
  );
});

Deno.test("chunk: header types 1, 2 and 3 for new messages (spec example 1)", () => {
  // Four audio messages of 32 bytes at 1000, 1020, 1040, 1060.
  const a = fill(32, 1), b = fill(32, 2), c = fill(32, 3), d = fill(32, 4);
  const bytes = cat(
    [0x03, 0, 0x03, 0xe8, 0, 0, 32, 8, 0x12, 0x34, 0x56, 0x12], // fmt0 ts 1000
    a,
    [0x83, 0, 0, 20], // fmt2 delta 20
    b,
    [0xc3], // fmt3: delta 20 again
    c,
    [0xc3],
    d,
  );
  const sid = 0x12563412;
  deepEqual(decodeAllWays(bytes), [
    msg(3, 8, sid, 1000, a),
    msg(3, 8, sid, 1020, b),
    msg(3, 8, sid, 1040, c),
    msg(3, 8, sid, 1060, d),
  ]);
  // fmt 1: new length and type, delta.
  const e = fill(5, 9);
  const more = cat([0x43, 0, 0, 10, 0, 0, 5, 9], e);
  const dec = new ChunkDecoder();
  dec.push(bytes);
  deepEqual(dec.push(more), [msg(3, 9, sid, 1070, e)]);
});

Deno.test("chunk: the encoder picks fmt 0/1/2/3 and never type 3 right after type 0", () => {
  const enc = new ChunkEncoder();
  const m = (ts: number, len: number, type = 8) => ({
    csid: 4,
    type,
    streamId: 1,
    timestamp: ts,
    data: fill(len, ts),
  });
  const fmts = [
    m(0, 10),
    m(20, 10),
    m(40, 10),
    m(60, 10),
    m(70, 10),
    m(80, 12),
    m(90, 12, 9),
    m(5, 12, 9),
  ].map((x) => enc.encode(x)[0] >> 6);
  deepEqual(fmts, [0, 2, 3, 3, 2, 1, 1, 0]);
});

Deno.test("chunk: interleaved chunk streams reassemble independently", () => {
  const audio = fill(200, 10);
  const video = fill(300, 50);
  const bytes = cat(
    [0x06, 0, 0, 0, 0, 0x01, 0x2c, 9, 1, 0, 0, 0],
    video.subarray(0, 128),
    [0x04, 0, 0, 0, 0, 0, 200, 8, 1, 0, 0, 0],
    audio.subarray(0, 128),
    [0xc6],
    video.subarray(128, 256),
    [0xc4],
    audio.subarray(128),
    [0xc6],
    video.subarray(256),
  );
  deepEqual(decodeAllWays(bytes), [
    msg(4, 8, 1, 0, audio),
    msg(6, 9, 1, 0, video),
  ]);
});

Deno.test("chunk: 2- and 3-byte basic headers (csid 64..319, 320..65599)", () => {
  const x = fill(3, 1);
  const enc = new ChunkEncoder();
  const two = enc.encode({
    csid: 300,
    type: 8,
    streamId: 0,
    timestamp: 0,
    data: x,
  });
  deepEqual([...two.subarray(0, 2)], [0x00, 236]);
  const three = enc.encode({
    csid: 65599,
    type: 8,
    streamId: 0,
    timestamp: 0,
    data: x,
  });
  deepEqual([...three.subarray(0, 3)], [0x01, 0xff, 0xff]);
  deepEqual(decodeAllWays(cat(two, three)), [
    msg(300, 8, 0, 0, x),
    msg(65599, 8, 0, 0, x),
  ]);
});

Deno.test("chunk: extended timestamp on type 0 and on every type-3 continuation", () => {
  const data = fill(300, 7);
  const ts = 0x01020304;
  const ext = [0x01, 0x02, 0x03, 0x04];
  const bytes = cat(
    [0x06, 0xff, 0xff, 0xff, 0, 0x01, 0x2c, 9, 1, 0, 0, 0],
    ext,
    data.subarray(0, 128),
    [0xc6],
    ext,
    data.subarray(128, 256),
    [0xc6],
    ext,
    data.subarray(256),
  );
  deepEqual(decodeAllWays(bytes), [msg(6, 9, 1, ts, data)]);
  deepEqual(
    new ChunkEncoder().encode({
      csid: 6,
      type: 9,
      streamId: 1,
      timestamp: ts,
      data,
    }),
    bytes,
  );
});

Deno.test("chunk: continuation without the extended timestamp is tolerated", () => {
  const data = fill(200, 0x40);
  const bytes = cat(
    [0x06, 0xff, 0xff, 0xff, 0, 0, 200, 9, 1, 0, 0, 0],
    [0x7f, 0, 0, 0],
    data.subarray(0, 128),
    [0xc6],
    data.subarray(128),
  );
  deepEqual(decodeAllWays(bytes), [msg(6, 9, 1, 0x7f000000, data)]);
});

Deno.test("chunk: extended delta on a type-3 new message", () => {
  const a = fill(4, 1), b = fill(4, 2), c = fill(4, 3);
  const bytes = cat(
    [0x04, 0, 0, 1, 0, 0, 4, 8, 1, 0, 0, 0],
    a,
    [0x84, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00], // fmt2 delta 0x1000000
    b,
    [0xc4, 0x01, 0x00, 0x00, 0x00], // fmt3: same delta, ext repeated
    c,
  );
  deepEqual(decodeAllWays(bytes), [
    msg(4, 8, 1, 1, a),
    msg(4, 8, 1, 0x1000001, b),
    msg(4, 8, 1, 0x2000001, c),
  ]);
});

Deno.test("chunk: Set Chunk Size takes effect for the next chunk of the same read", () => {
  const big = fill(1000, 3);
  const enc = new ChunkEncoder();
  const bytes = cat(
    enc.encode(setChunkSizeMessage(4096)),
    (() => {
      enc.setChunkSize(4096);
      return enc.encode({
        csid: 6,
        type: 9,
        streamId: 1,
        timestamp: 5,
        data: big,
      });
    })(),
  );
  // One chunk: 12-byte header + 1000 bytes, no continuation headers.
  equal(bytes.length, 16 + 12 + 1000);
  const dec = new ChunkDecoder();
  const out = dec.push(bytes);
  equal(dec.chunkSize, 4096);
  equal(out.length, 2);
  equal(out[0].type, 1);
  deepEqual(out[1], msg(6, 9, 1, 5, big));
  // Then down to 1 byte per chunk.
  const enc2 = new ChunkEncoder();
  enc2.setChunkSize(4096);
  const small = cat(
    enc2.encode(setChunkSizeMessage(1)),
    (() => {
      enc2.setChunkSize(1);
      return enc2.encode({
        csid: 6,
        type: 9,
        streamId: 1,
        timestamp: 6,
        data: fill(5, 0),
      });
    })(),
  );
  equal(small.length, 16 + 12 + 1 + 4 * 2);
  deepEqual(dec.push(small).at(-1), msg(6, 9, 1, 6, fill(5, 0)));
});

Deno.test("chunk: Abort drops the partial message of that chunk stream", () => {
  const part = fill(128, 1);
  const fresh = fill(10, 9);
  const bytes = cat(
    [0x06, 0, 0, 0, 0, 0x01, 0x2c, 9, 1, 0, 0, 0],
    part, // 128 of 300 bytes
    new ChunkEncoder().encode(abortMessage(6)),
    [0x06, 0, 0, 50, 0, 0, 10, 9, 1, 0, 0, 0],
    fresh,
  );
  const out = decodeAllWays(bytes);
  equal(out.length, 2);
  equal(out[0].type, 2);
  deepEqual(out[1], msg(6, 9, 1, 50, fresh));
});

Deno.test("chunk: protocol control messages are byte exact", () => {
  const enc = new ChunkEncoder();
  const hdr = (
    type: number,
    len: number,
  ) => [2, 0, 0, 0, 0, 0, len, type, 0, 0, 0, 0];
  deepEqual(
    enc.encode(setChunkSizeMessage(4096)),
    cat(hdr(1, 4), [0, 0, 0x10, 0]),
  );
  deepEqual(
    enc.encode(abortMessage(6)),
    cat([0x42, 0, 0, 0, 0, 0, 4, 2], [0, 0, 0, 6]),
  );
  deepEqual(
    new ChunkEncoder().encode(ackMessage(0x1_0000_0005)),
    cat(hdr(3, 4), [0, 0, 0, 5]),
  );
  deepEqual(
    new ChunkEncoder().encode(windowAckSizeMessage(2500000)),
    cat(hdr(5, 4), [0x00, 0x26, 0x25, 0xa0]),
  );
  deepEqual(
    new ChunkEncoder().encode(setPeerBandwidthMessage(2500000, 2)),
    cat(hdr(6, 5), [0x00, 0x26, 0x25, 0xa0, 2]),
  );
  deepEqual(
    new ChunkEncoder().encode(userControlMessage(7, 0xdeadbeef)),
    cat(hdr(4, 6), [0, 7, 0xde, 0xad, 0xbe, 0xef]),
  );
});

Deno.test("chunk: random messages round-trip through encoder and decoder", () => {
  const rnd = seededBytes(1234);
  const r = (n: number) => {
    const b = rnd(4);
    return (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) % n;
  };
  for (const chunkSize of [1, 7, 128, 4096, 65536]) {
    const enc = new ChunkEncoder();
    const dec = new ChunkDecoder();
    const sent: ChunkMessage[] = [];
    const parts: Uint8Array[] = [enc.encode(setChunkSizeMessage(chunkSize))];
    enc.setChunkSize(chunkSize);
    let ts = [0, 0, 0];
    for (let i = 0; i < 200; i++) {
      const k = r(3);
      const jump = r(10) === 0 ? 0xfffff0 + r(100) : r(100);
      ts[k] = (ts[k] + jump) >>> 0;
      const m = msg(4 + k, [8, 9, 18][k], 1 + r(2), ts[k], rnd(r(3000)));
      sent.push(m);
      parts.push(enc.encode(m));
    }
    const all = cat(...parts);
    const got: ChunkMessage[] = [];
    for (let p = 0; p < all.length;) {
      const n = 1 + r(5000);
      got.push(...dec.push(all.subarray(p, p + n)));
      p += n;
    }
    deepEqual(got.slice(1), sent);
    ts = [0, 0, 0];
  }
});

function rejects(bytes: Uint8Array, pattern: RegExp, dec = new ChunkDecoder()) {
  throws(
    () => dec.push(bytes),
    (e: Error) => e instanceof RtmpProtocolError && pattern.test(e.message),
  );
}

Deno.test("chunk: refuses chunk size 0, 2^31 and over 16 MiB", () => {
  const setSize = (v: number[]) => cat([2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0], v);
  rejects(
    setSize([0, 0, 0, 0]),
    /chunk size: expected 1\.\.16777216, received 0$/,
  );
  rejects(setSize([0x80, 0, 0, 0]), /received 2147483648/);
  rejects(setSize([0x01, 0, 0, 1]), /received 16777217/);
  rejects(setSize([0x7f, 0xff, 0xff, 0xff]), /received 2147483647/);
});

Deno.test("chunk: refuses oversized messages before buffering them", () => {
  const hdr = [3, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0];
  rejects(new Uint8Array(hdr), /message length <= 8388608, received 16777215/);
  rejects(
    new Uint8Array([3, 0, 0, 0, 0, 4, 0, 9, 1, 0, 0, 0]),
    /message length <= 1000, received 1024/,
    new ChunkDecoder({ maxMessageSize: 1000 }),
  );
  // Many half-sent messages on different chunk streams hit the pending cap.
  const dec = new ChunkDecoder({ maxMessageSize: 1000, maxPendingBytes: 2500 });
  dec.push(cat([3, 0, 0, 0, 0, 3, 0xe8, 9, 1, 0, 0, 0], fill(128, 0)));
  dec.push(cat([4, 0, 0, 0, 0, 3, 0xe8, 9, 1, 0, 0, 0], fill(128, 0)));
  rejects(
    new Uint8Array([5, 0, 0, 0, 0, 3, 0xe8, 9, 1, 0, 0, 0]),
    /at most 2500 bytes of unfinished messages, received 3000/,
    dec,
  );
});

Deno.test("chunk: refuses headers that cannot start or continue a message", () => {
  rejects(
    new Uint8Array([0x43, 0, 0, 0, 0, 0, 1, 8]),
    /type-0 header to open chunk stream 3, received type 1/,
  );
  rejects(
    new Uint8Array([0xc3]),
    /type-0 header to open chunk stream 3, received type 3/,
  );
  rejects(
    cat([3, 0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0], fill(128, 0), [0x83, 0, 0, 1]),
    /expected a type-3 continuation on chunk stream 3 \(128\/256/,
  );
  const dec = new ChunkDecoder({ maxChunkStreams: 2 });
  dec.push(new Uint8Array([3, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0]));
  dec.push(new Uint8Array([4, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0]));
  rejects(
    new Uint8Array([5, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0]),
    /at most 2 chunk streams/,
    dec,
  );
});

Deno.test("chunk: zero-length message and bytesIn / midMessage bookkeeping", () => {
  const dec = new ChunkDecoder();
  const out = dec.push(
    new Uint8Array([3, 0, 0, 9, 0, 0, 0, 20, 0, 0, 0, 0, 4]),
  );
  deepEqual(out, [msg(3, 20, 0, 9, new Uint8Array(0))]);
  equal(dec.midMessage, true); // one header byte pending
  equal(dec.bytesIn, 13);
  dec.push(new Uint8Array([0, 0, 0, 0, 0, 2, 8, 0, 0, 0, 0, 1]));
  equal(dec.midMessage, true);
  deepEqual(dec.push(new Uint8Array([2])), [
    msg(4, 8, 0, 0, new Uint8Array([1, 2])),
  ]);
  equal(dec.midMessage, false);
});

Deno.test("chunk: a message's buffer grows with the bytes that arrive, not with its header", () => {
  // 8 MiB announced (the largest accepted), then one byte, then the rest.
  const len = 8 * 1024 * 1024;
  const chunk = 1 << 20;
  const dec = new ChunkDecoder();
  dec.setChunkSize(chunk);
  const header = [3, 0, 0, 0, len >> 16, (len >> 8) & 0xff, len & 0xff, 9];
  dec.push(cat(header, [1, 0, 0, 0]));
  equal(dec.heldBytes, 0);
  dec.push(fill(1, 7));
  equal(dec.heldBytes, 64 * 1024);
  const out: ChunkMessage[] = [...dec.push(fill(chunk - 1, 8))];
  let sent = chunk;
  while (sent < len) {
    equal(
      dec.heldBytes <= 2 * sent,
      true,
      `${dec.heldBytes} held after ${sent}`,
    );
    out.push(...dec.push(cat([0xc3], fill(chunk, (7 + sent) & 0xff))));
    sent += chunk;
  }
  equal(out.length, 1);
  equal(out[0].data.length, len);
  deepEqual(out[0].data.subarray(0, 300), fill(300, 7));
  deepEqual(out[0].data.subarray(len - 300), fill(300, (7 + len - 300) & 0xff));
  equal(dec.heldBytes, 0);
});
