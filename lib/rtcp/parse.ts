/**
 * Strict RTCP compound parser (pure bytes, no I/O).
 *
 * @module
 */
import { type NackFci, unpackNack } from "./nack.ts";
import * as types from "./types.ts";

const decoder = new TextDecoder();

function fail(msg: string, offset: number): never {
  throw new RangeError(`Malformed RTCP at byte ${offset}: ${msg}`);
}

function parseReports(
  view: DataView,
  start: number,
  count: number,
  end: number,
  base: number,
): types.ReportBlock[] {
  if (start + 24 * count > end) {
    fail(
      `expected ${count} report blocks (${24 * count} bytes), received ${
        end - start
      } bytes`,
      base,
    );
  }
  const out: types.ReportBlock[] = [];
  for (let i = 0; i < count; i++) {
    const o = start + 24 * i;
    const word = view.getUint32(o + 4);
    let lost = word & 0xffffff;
    if (lost & 0x800000) lost -= 0x1000000;
    out.push({
      ssrc: view.getUint32(o),
      fractionLost: word >>> 24,
      cumulativeLost: lost,
      highestSeq: view.getUint32(o + 8),
      jitter: view.getUint32(o + 12),
      lsr: view.getUint32(o + 16),
      dlsr: view.getUint32(o + 20),
    });
  }
  return out;
}

function parseSdes(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  count: number,
): types.SdesChunk[] {
  const chunks: types.SdesChunk[] = [];
  let o = start;
  for (let c = 0; c < count; c++) {
    if (o + 4 > end) fail(`expected SDES chunk ${c + 1} of ${count}`, o);
    const chunk: types.SdesChunk = { ssrc: view.getUint32(o) };
    o += 4;
    for (;;) {
      if (o >= end) fail("SDES item list not terminated by a null octet", o);
      const type = bytes[o];
      if (type === 0) break;
      if (o + 2 > end) fail("truncated SDES item header", o);
      const len = bytes[o + 1];
      const text = o + 2;
      if (text + len > end) {
        fail(
          `SDES item of ${len} bytes exceeds the packet by ${
            text + len - end
          } bytes`,
          o,
        );
      }
      if (type === types.SDES_CNAME) {
        chunk.cname = decoder.decode(bytes.subarray(text, text + len));
      } else if (type === types.SDES_PRIV) {
        if (len < 1 || 1 + bytes[text] > len) {
          fail(
            `PRIV prefix length ${
              len < 1 ? "missing" : bytes[text]
            } exceeds item length ${len}`,
            o,
          );
        }
        const pl = bytes[text];
        const prefix = decoder.decode(bytes.subarray(text + 1, text + 1 + pl));
        if (prefix === types.SDES_KEY_PREFIX) {
          chunk.key = decoder.decode(bytes.subarray(text + 1 + pl, text + len));
        }
      }
      o = text + len;
    }
    // Null item type, then null octets up to the next 32-bit boundary.
    const next = (o + 1 + 3) & ~3;
    if (next > end) fail("SDES chunk padding exceeds the packet", o);
    for (let i = o; i < next; i++) {
      if (bytes[i] !== 0) fail("non-zero SDES chunk padding", i);
    }
    o = next;
    chunks.push(chunk);
  }
  if (o !== end) {
    fail(`${end - o} bytes after ${count} SDES chunks`, o);
  }
  return chunks;
}

/**
 * Parses an RTCP compound packet (one or more packets back to back). Every
 * packet must be version 2 with a length that fits; padding (P bit) is
 * removed; SR, RR, SDES, BYE, APP and Generic NACK are interpreted, any other
 * packet type comes back as `{ type: "unknown" }`.
 *
 * @example Usage
 * ```ts
 * import { encodeBye } from "./build.ts";
 * import { parseRtcp } from "./parse.ts";
 * parseRtcp(encodeBye(7, "done")); // [{ type: "bye", ssrcs: [7], reason: "done" }]
 * ```
 *
 * @param compound The datagram or framed message.
 * @returns The packets in order. APP data and unknown bodies are views into `compound`.
 * @throws {RangeError} When anything is malformed or truncated.
 */
export function parseRtcp(compound: Uint8Array): types.RtcpPacket[] {
  const view = new DataView(
    compound.buffer,
    compound.byteOffset,
    compound.byteLength,
  );
  const out: types.RtcpPacket[] = [];
  if (compound.length === 0) fail("expected at least 4 bytes, received 0", 0);
  let off = 0;
  while (off < compound.length) {
    if (off + 4 > compound.length) {
      fail(
        `expected a 4-byte header, received ${compound.length - off} bytes`,
        off,
      );
    }
    const b0 = compound[off];
    const version = b0 >> 6;
    if (version !== 2) fail(`expected version 2, received ${version}`, off);
    const padded = (b0 & 0x20) !== 0;
    const count = b0 & 0x1f;
    const pt = compound[off + 1];
    const size = (view.getUint16(off + 2) + 1) * 4;
    if (off + size > compound.length) {
      fail(
        `length field says ${size} bytes, only ${compound.length - off} remain`,
        off,
      );
    }
    let end = off + size;
    const next = end;
    if (padded) {
      const pad = compound[end - 1];
      if (pad === 0 || pad > size - 4) {
        fail(`invalid padding count ${pad} in a ${size}-byte packet`, off);
      }
      end -= pad;
    }
    const body = off + 4;
    const len = end - body;
    switch (pt) {
      case types.RTCP_SR: {
        if (len < 24) fail(`SR needs 24 bytes of sender info, has ${len}`, off);
        out.push({
          type: "sr",
          ssrc: view.getUint32(body),
          ntpSec: view.getUint32(body + 4),
          ntpFrac: view.getUint32(body + 8),
          rtpTimestamp: view.getUint32(body + 12),
          packetCount: view.getUint32(body + 16),
          octetCount: view.getUint32(body + 20),
          reports: parseReports(view, body + 24, count, end, off),
        });
        break;
      }
      case types.RTCP_RR: {
        if (len < 4) fail(`RR needs a 4-byte SSRC, has ${len}`, off);
        out.push({
          type: "rr",
          ssrc: view.getUint32(body),
          reports: parseReports(view, body + 4, count, end, off),
        });
        break;
      }
      case types.RTCP_SDES:
        out.push({
          type: "sdes",
          chunks: parseSdes(compound, view, body, end, count),
        });
        break;
      case types.RTCP_BYE: {
        if (len < 4 * count) {
          fail(
            `BYE with ${count} SSRCs needs ${4 * count} bytes, has ${len}`,
            off,
          );
        }
        const ssrcs: number[] = [];
        for (let i = 0; i < count; i++) {
          ssrcs.push(view.getUint32(body + 4 * i));
        }
        const r = body + 4 * count;
        let reason: string | undefined;
        if (r < end) {
          const rl = compound[r];
          if (r + 1 + rl > end) {
            fail(`BYE reason of ${rl} bytes exceeds the packet`, off);
          }
          reason = decoder.decode(compound.subarray(r + 1, r + 1 + rl));
        }
        out.push(
          reason === undefined
            ? { type: "bye", ssrcs }
            : { type: "bye", ssrcs, reason },
        );
        break;
      }
      case types.RTCP_APP: {
        if (len < 8) fail(`APP needs 8 bytes (SSRC, name), has ${len}`, off);
        out.push({
          type: "app",
          subtype: count,
          ssrc: view.getUint32(body),
          name: String.fromCharCode(
            compound[body + 4],
            compound[body + 5],
            compound[body + 6],
            compound[body + 7],
          ),
          data: compound.subarray(body + 8, end),
        });
        break;
      }
      case types.RTCP_RTPFB: {
        if (count !== types.NACK_FMT) {
          out.push({
            type: "unknown",
            pt,
            count,
            body: compound.subarray(body, end),
          });
          break;
        }
        if (len < 12 || (len - 8) % 4 !== 0) {
          fail(
            `NACK needs two SSRCs and at least one 4-byte FCI, has ${len} bytes`,
            off,
          );
        }
        const fcis: NackFci[] = [];
        for (let o = body + 8; o < end; o += 4) {
          fcis.push({ pid: view.getUint16(o), blp: view.getUint16(o + 2) });
        }
        out.push({
          type: "nack",
          senderSsrc: view.getUint32(body),
          mediaSsrc: view.getUint32(body + 4),
          seqs: unpackNack(fcis),
        });
        break;
      }
      default:
        out.push({
          type: "unknown",
          pt,
          count,
          body: compound.subarray(body, end),
        });
    }
    off = next;
  }
  return out;
}

function trimZeros(data: Uint8Array): Uint8Array {
  let n = data.length;
  while (n > 0 && data[n - 1] === 0) n--;
  return data.subarray(0, n);
}

/**
 * Returns the secret of an `AUTH` APP packet (subtype 0), trailing zero bytes
 * stripped, or `undefined` when `p` is not one.
 *
 * @example Usage
 * ```ts
 * import { encodeAuth } from "./build.ts";
 * import { parseAuth, parseRtcp } from "./parse.ts";
 * parseAuth(parseRtcp(encodeAuth("pw"))[0]); // "pw"
 * ```
 *
 * @param p A parsed packet.
 * @returns The secret, or `undefined`.
 */
export function parseAuth(p: types.RtcpPacket): string | undefined {
  if (p.type !== "app" || p.subtype !== 0 || p.name !== types.APP_AUTH) {
    return undefined;
  }
  return decoder.decode(trimZeros(p.data));
}

/**
 * Returns the contents of a `NAVL` APP packet (subtype 0), or `undefined`
 * when `p` is not one.
 *
 * @example Usage
 * ```ts
 * import { encodeNavl } from "./build.ts";
 * import { parseNavl, parseRtcp } from "./parse.ts";
 * parseNavl(parseRtcp(encodeNavl(9, [1, 2]))[0]); // { mediaSsrc: 9, seqs: [1, 2] }
 * ```
 *
 * @param p A parsed packet.
 * @returns The media SSRC and the unavailable sequence numbers, or `undefined`.
 * @throws {RangeError} When it is a NAVL whose count exceeds its data.
 */
export function parseNavl(
  p: types.RtcpPacket,
): { mediaSsrc: number; seqs: number[] } | undefined {
  if (p.type !== "app" || p.subtype !== 0 || p.name !== types.APP_NAVL) {
    return undefined;
  }
  const { data } = p;
  if (data.length < 6) {
    throw new RangeError(
      `Malformed NAVL: expected at least 6 data bytes, received ${data.length}`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint16(4);
  if (6 + 2 * count > data.length) {
    throw new RangeError(
      `Malformed NAVL: count ${count} needs ${
        6 + 2 * count
      } data bytes, received ${data.length}`,
    );
  }
  const seqs = new Array<number>(count);
  for (let i = 0; i < count; i++) seqs[i] = view.getUint16(6 + 2 * i);
  return { mediaSsrc: view.getUint32(0), seqs };
}
