/**
 * A loopback RTP/RTCP test receiver: records every datagram, then rebuilds
 * the FLV tags of each SSRC in sequence order.
 *
 * @module
 */
import { type FlvTag } from "../../lib/flv/mod.ts";
import { parseRtcp, type RtcpPacket } from "../../lib/rtcp/mod.ts";
import {
  assembleTag,
  isRtcp,
  parseRtp,
  type RtpPacket,
} from "../../lib/rtp/mod.ts";

/**
 * The tags carried by RTP packets given in sequence order, joined with the
 * edge's own reassembler ({@linkcode assembleTag}): a tag is the packets up to
 * and including each M=1 packet; one that is not exactly one FLV tag is left
 * out (the tag count then tells).
 */
export function tagsOfPackets(packets: readonly RtpPacket[]): FlvTag[] {
  const tags: FlvTag[] = [];
  let payloads: Uint8Array[] = [];
  for (const p of packets) {
    payloads.push(p.payload);
    if (!p.marker) continue;
    try {
      tags.push(assembleTag(payloads));
    } catch {
      // not one tag: left out
    }
    payloads = [];
  }
  return tags;
}

/** A UDP receiver that keeps every RTP packet and RTCP packet it gets. */
export class RtpTestReceiver implements AsyncDisposable {
  /** RTP packets by SSRC, in arrival order (copies). */
  readonly rtp = new Map<number, { packet: RtpPacket; bytes: Uint8Array }[]>();
  /** Every RTCP packet received. */
  readonly rtcp: RtcpPacket[] = [];
  /** Every datagram received, in order (copies), parsed or not. */
  readonly datagrams: Uint8Array[] = [];
  /** RTCP datagrams that did not parse (e.g. SRTCP: encrypted). */
  unparsedRtcp = 0;
  #conn: Deno.DatagramConn;
  #loop: Promise<void>;
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  /** Binds `hostname:port` (port 0 = any) and starts receiving. */
  constructor(hostname = "127.0.0.1", port = 0) {
    this.#conn = Deno.listenDatagram({ transport: "udp", hostname, port });
    this.#loop = this.#run();
  }

  /** The bound port. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  async #run(): Promise<void> {
    const buf = new Uint8Array(65536);
    while (true) {
      let data: Uint8Array;
      try {
        [data] = await this.#conn.receive(buf);
      } catch {
        return;
      }
      this.#onDatagram(data.slice());
    }
  }

  #onDatagram(bytes: Uint8Array): void {
    this.datagrams.push(bytes);
    if (isRtcp(bytes)) {
      try {
        this.rtcp.push(...parseRtcp(bytes));
      } catch {
        this.unparsedRtcp++;
      }
    } else {
      const packet = parseRtp(bytes);
      let list = this.rtp.get(packet.ssrc);
      if (!list) this.rtp.set(packet.ssrc, list = []);
      list.push({ packet, bytes });
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `test` holds after some datagram (or rejects after `timeoutMs`). */
  until(test: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (test()) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(
      () => reject(new Error(`receiver: condition not met in ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.#waiters.push({
      test,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    });
    return promise;
  }

  /** The tags of one SSRC, rebuilt from its packets sorted by extended sequence. */
  tags(ssrc: number): FlvTag[] {
    const list = this.rtp.get(ssrc) ?? [];
    // Unwrap 16-bit sequence numbers relative to the first packet.
    let ext = -1;
    let last = 0;
    const ordered = list.map(({ packet }) => {
      if (ext < 0) {
        ext = packet.sequence;
      } else {
        let d = (packet.sequence - last) & 0xffff;
        if (d >= 0x8000) d -= 0x10000;
        ext += d;
      }
      last = packet.sequence;
      return { ext, packet };
    }).sort((a, b) => a.ext - b.ext);
    return tagsOfPackets(ordered.map((o) => o.packet));
  }

  /** Closes the socket. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#conn.close();
    await this.#loop;
  }
}
