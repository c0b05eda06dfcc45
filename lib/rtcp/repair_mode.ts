/**
 * The `RMOD` APP message: how an edge asks the cloud to send repair answers
 * (SPEC §6 extension). Sent on the repair stream after `AUTH`, and again
 * whenever the edge changes its mind (e.g. more copies as loss grows).
 *
 * Application data (8 bytes): version (u8, 1), mode (u8: 0 = answers on the
 * stream as in SPEC §6, 1 = answers as UDP datagrams), copies (u8, 1..8:
 * each answer is sent this many times), spacing (u8, ms between copies),
 * UDP port of the edge (u16, mode 1; the address is the QUIC peer's),
 * reserved (u16, 0).
 *
 * @module
 */
import { encodeApp } from "./build.ts";
import type { RtcpPacket } from "./types.ts";

/** APP name of the repair-mode message. */
export const APP_RMOD = "RMOD";

/** Most copies of one answer an edge may ask for. */
export const MAX_REPAIR_COPIES = 8;

/** Where and how the cloud sends repair answers to one edge connection. */
export type RepairMode =
  | { mode: "stream" }
  | {
    mode: "udp";
    /** The edge's UDP port for answers (address: the QUIC peer's). */
    port: number;
    /** Times each answer is sent (1..{@linkcode MAX_REPAIR_COPIES}). */
    copies: number;
    /** Milliseconds between two copies (0..255). */
    spacingMs: number;
  };

const VERSION = 1;

/**
 * Builds an `RMOD` APP packet.
 *
 * @example Usage
 * ```ts
 * import { encodeRepairMode } from "./repair_mode.ts";
 * const m = encodeRepairMode({ mode: "udp", port: 40000, copies: 3, spacingMs: 5 }, 7);
 * // m.length === 20
 * ```
 *
 * @param m The mode.
 * @param ssrc The edge's SSRC (as in its NACKs).
 * @returns The packet.
 * @throws {RangeError} For a port, copies or spacing out of range.
 */
export function encodeRepairMode(m: RepairMode, ssrc = 0): Uint8Array {
  const data = new Uint8Array(8);
  const v = new DataView(data.buffer);
  data[0] = VERSION;
  if (m.mode === "udp") {
    if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65535) {
      throw new RangeError(
        `RMOD port: expected an integer in 1..65535, received ${m.port}`,
      );
    }
    if (
      !Number.isInteger(m.copies) || m.copies < 1 ||
      m.copies > MAX_REPAIR_COPIES
    ) {
      throw new RangeError(
        `RMOD copies: expected an integer in 1..${MAX_REPAIR_COPIES}, received ${m.copies}`,
      );
    }
    if (
      !Number.isInteger(m.spacingMs) || m.spacingMs < 0 || m.spacingMs > 255
    ) {
      throw new RangeError(
        `RMOD spacingMs: expected an integer in 0..255, received ${m.spacingMs}`,
      );
    }
    data[1] = 1;
    data[2] = m.copies;
    data[3] = m.spacingMs;
    v.setUint16(4, m.port);
  } else {
    data[2] = 1;
  }
  return encodeApp({ subtype: 0, ssrc, name: APP_RMOD, data });
}

/**
 * Reads an `RMOD` APP packet: `undefined` when `p` is not one.
 *
 * @example Usage
 * ```ts
 * import { encodeRepairMode, parseRepairMode } from "./repair_mode.ts";
 * import { parseRtcp } from "./parse.ts";
 * parseRepairMode(parseRtcp(encodeRepairMode({ mode: "stream" }))[0]); // { mode: "stream" }
 * ```
 *
 * @param p A parsed RTCP packet.
 * @returns The mode, or `undefined`.
 * @throws {RangeError} When it is an `RMOD` with a bad version, mode, copies
 *   count or port.
 */
export function parseRepairMode(p: RtcpPacket): RepairMode | undefined {
  if (p.type !== "app" || p.subtype !== 0 || p.name !== APP_RMOD) {
    return undefined;
  }
  const d = p.data;
  if (d.length < 8) {
    throw new RangeError(
      `RMOD: expected at least 8 bytes of data, received ${d.length}`,
    );
  }
  if (d[0] !== VERSION) {
    throw new RangeError(`RMOD: expected version 1, received ${d[0]}`);
  }
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (d[1] === 0) return { mode: "stream" };
  if (d[1] !== 1) {
    throw new RangeError(`RMOD: expected mode 0 or 1, received ${d[1]}`);
  }
  const copies = d[2];
  if (copies < 1 || copies > MAX_REPAIR_COPIES) {
    throw new RangeError(
      `RMOD: expected copies in 1..${MAX_REPAIR_COPIES}, received ${copies}`,
    );
  }
  const port = v.getUint16(4);
  if (port === 0) throw new RangeError("RMOD: expected a UDP port, received 0");
  return { mode: "udp", port, copies, spacingMs: d[3] };
}
