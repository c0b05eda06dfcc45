/**
 * A minimal stand-in for the cloud in edge tests: RTP/RTCP over UDP with
 * RtpPacketizer and the RTCP builders, a retransmission cache and a real QUIC
 * RtxServer. Packets can be held back from UDP to force repairs.
 *
 * @module
 */
import { encodeTag, type FlvTag } from "../lib/flv/mod.ts";
import { RtxServer } from "../lib/quic/mod.ts";
import {
  encodeBye,
  encodeCompound,
  encodeSdes,
  encodeSenderReport,
  ntpFromDate,
} from "../lib/rtcp/mod.ts";
import {
  RtpCache,
  type RtpPacket,
  RtpPacketizer,
  rtpSequence,
} from "../lib/rtp/mod.ts";
import { testTls } from "./support/rtx.ts";
import { udpSocket } from "../testkit/ports.ts";

export { testTls };

/** Options for {@linkcode packetizeTags}. */
export interface PacketizeOptions {
  /** SSRC of every packet (default 0x1234). */
  ssrc?: number;
  /** Sequence number of the first packet (default 1000; wraps at 16 bits). */
  seq?: number;
  /** Payload bytes per packet (default 100). */
  payload?: number;
}

/**
 * Packetizes like the cloud, without RtpPacketizer's state: each tag's
 * bytes (`encodeTag`) in ⌈len/payload⌉ packets, marker on the last, RTP
 * timestamp = ms × 90.
 */
export function packetizeTags(
  tags: FlvTag[],
  opts: PacketizeOptions = {},
): RtpPacket[] {
  const ssrc = opts.ssrc ?? 0x1234;
  const size = opts.payload ?? 100;
  let seq = opts.seq ?? 1000;
  const out: RtpPacket[] = [];
  for (const tag of tags) {
    const bytes = encodeTag(tag);
    for (let off = 0; off < bytes.length; off += size) {
      const end = Math.min(bytes.length, off + size);
      out.push({
        marker: end === bytes.length,
        payloadType: 100,
        sequence: seq,
        timestamp: (tag.timestamp * 90) >>> 0,
        ssrc,
        payload: bytes.slice(off, end),
      });
      seq = (seq + 1) & 0xffff;
    }
  }
  return out;
}

/** One published stream of a {@linkcode FakeCloud}. */
export class FakeStream {
  readonly key: string;
  readonly packetizer: RtpPacketizer;
  readonly cache = new RtpCache({ maxPackets: 5000 });
  /** Sequence numbers held back from UDP. */
  readonly skipped: number[] = [];
  /** Packets produced. */
  sent = 0;
  #cloud: FakeCloud;

  constructor(
    cloud: FakeCloud,
    key: string,
    ssrc: number,
    seq: number,
    payloadSize: number,
  ) {
    this.#cloud = cloud;
    this.key = key;
    this.packetizer = new RtpPacketizer({
      ssrc,
      initialSequence: seq,
      payloadSize,
    });
  }

  /** The stream's SSRC. */
  get ssrc(): number {
    return this.packetizer.ssrc;
  }

  /** SR + SDES (with the key), as the cloud sends every second. */
  async report(): Promise<void> {
    const { ntpSec, ntpFrac } = ntpFromDate();
    await this.#cloud.sendRaw(encodeCompound([
      encodeSenderReport({
        ssrc: this.ssrc,
        ntpSec,
        ntpFrac,
        rtpTimestamp: 0,
        packetCount: this.packetizer.packetsSent >>> 0,
        octetCount: this.packetizer.octetsSent >>> 0,
      }),
      encodeSdes(this.ssrc, { cname: "test-cloud", key: this.key }),
    ]));
  }

  /** BYE: the publisher left. */
  async bye(): Promise<void> {
    await this.#cloud.sendRaw(encodeBye(this.ssrc, "publisher left"));
  }

  /**
   * Packetizes tags, caches every packet and sends those `drop` does not
   * hold back, then a report. Paces a little so loopback buffers never
   * overflow.
   */
  async send(
    tags: FlvTag[],
    drop: (seq: number, index: number) => boolean = () => false,
    opts: { report?: boolean } = {},
  ): Promise<void> {
    for (const tag of tags) {
      for (const pkt of this.packetizer.packetize(tag)) {
        const seq = rtpSequence(pkt);
        this.cache.put(seq, pkt.slice());
        if (drop(seq, this.sent)) this.skipped.push(seq);
        else await this.#cloud.sendRaw(pkt);
        this.sent++;
        if (this.sent % 16 === 0) {
          // Pace, and report now and then as the cloud does every second.
          if (opts.report ?? true) await this.report();
          await new Promise((r) => setTimeout(r, 1));
        }
      }
    }
    // As the cloud does every second: SR (packet count) + SDES, which also
    // reveals loss at the tail.
    if (opts.report ?? true) await this.report();
  }
}

/** RTP sender + retransmission server on loopback. */
export class FakeCloud {
  readonly udp: Deno.DatagramConn;
  target: Deno.NetAddr;
  readonly streams = new Map<number, FakeStream>();
  rtx: RtxServer | undefined;
  #rtxPort = 0;
  #secret: string;

  private constructor(target: Deno.NetAddr, secret: string) {
    this.udp = udpSocket();
    this.target = target;
    this.#secret = secret;
  }

  /** A cloud sending to `127.0.0.1:edgePort`, with its RtxServer started. */
  static async start(
    edgePort: number,
    opts: { secret?: string; rtxPort?: number; rtx?: boolean } = {},
  ): Promise<FakeCloud> {
    const c = new FakeCloud(
      { transport: "udp", hostname: "127.0.0.1", port: edgePort },
      opts.secret ?? "",
    );
    c.#rtxPort = opts.rtxPort ?? 0;
    if (opts.rtx !== false) await c.startRtx();
    return c;
  }

  /** Sends RTP to `port` on loopback from now on. */
  sendTo(port: number): void {
    this.target = { ...this.target, port };
  }

  /** The QUIC port (stable across stop/start). */
  get rtxPort(): number {
    return this.#rtxPort;
  }

  /** Starts (or restarts, on the same port) the retransmission server. */
  async startRtx(): Promise<void> {
    if (this.rtx) return await this.rtx.start();
    const { certPem, keyPem } = await testTls();
    this.rtx = new RtxServer({
      hostname: "127.0.0.1",
      port: this.#rtxPort,
      certPem,
      keyPem,
      secret: this.#secret,
      lookup: (ssrc, seq) => this.streams.get(ssrc)?.cache.get(seq),
    });
    await this.rtx.start();
    this.#rtxPort = this.rtx.port;
  }

  /**
   * Pauses the retransmission server: the edge sees the cloud go away;
   * {@linkcode FakeCloud.startRtx} brings it back on the same port.
   */
  async stopRtx(): Promise<void> {
    await this.rtx?.pause();
  }

  /** Adds a stream. */
  stream(
    key: string,
    opts: { ssrc?: number; seq?: number; payloadSize?: number } = {},
  ): FakeStream {
    const ssrc = opts.ssrc ?? 0x10000 + this.streams.size;
    const s = new FakeStream(
      this,
      key,
      ssrc,
      opts.seq ?? 65000,
      opts.payloadSize ?? 400,
    );
    this.streams.set(ssrc, s);
    return s;
  }

  /** Sends one datagram to the edge. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.udp.send(bytes, this.target);
  }

  /** Closes the socket and the server. */
  async close(): Promise<void> {
    await this.rtx?.stop();
    this.rtx = undefined;
    this.udp.close();
  }
}

/** TLS fingerprint to pin at the edge. */
export async function testFingerprint(): Promise<string> {
  return (await testTls()).fingerprint;
}

export { until } from "../testkit/poll.ts";
