/**
 * The repair goal's client: an independent implementation of SPEC §6 on
 * Deno's QUIC directly (no RtxClient): one connection, one stream, AUTH,
 * then Generic NACKs of 17 packets each (PID + BLP 0xffff). Answers come on
 * the stream or, after an `RMOD`, as UDP datagrams to a socket of its own
 * (the edge's default). A NACK's round trip ends with its 17th packet.
 *
 * Open loop at a defined offered rate (`pps`, NACKs sent on 1 ms ticks as
 * the rate allows), or closed loop (`pps` 0: `window` NACKs kept in flight,
 * which measures throughput; its round trip is queueing, not latency).
 * Reports the client's own timer lateness so a slow client shows up as such.
 *
 * @module
 */
import { concatBytes } from "../../lib/bytes/mod.ts";
import {
  FrameDecoder,
  frameMessage,
  pemBlocks,
  pinTarget,
  RTX_ALPN,
} from "../../lib/quic/mod.ts";
import {
  encodeAuth,
  encodeNack,
  encodeRepairMode,
} from "../../lib/rtcp/mod.ts";

/** Packets a NACK asks for (PID + a full BLP). */
export const PER_NACK = 17;

/** Options of {@linkcode independentClient}. */
export interface IndependentOptions {
  /** Server UDP port on 127.0.0.1. */
  port: number;
  /** The server's certificate (pinned as the only root). */
  certPem: string;
  /** The shared secret. */
  secret: string;
  /** SSRC of the cached stream. */
  ssrc: number;
  /** Packets cached (sequence numbers 0..cached-1 are asked for). */
  cached: number;
  /** How long to ask (ms). */
  ms: number;
  /** NACKs in flight at most. */
  window: number;
  /** Offered packets/s (open loop); 0 = closed loop. */
  pps?: number;
  /** Where answers come: on the stream (SPEC §6) or as UDP datagrams. */
  answers?: "stream" | "udp";
}

/** What {@linkcode independentClient} measured. */
export interface IndependentResult {
  /** Packets received. */
  packets: number;
  /** Duration, s. */
  secs: number;
  /** NACK round trips, ms, sorted. */
  rtt: number[];
  /** How late the client's 1 ms pacing timer fired, ms, sorted. */
  lateness: number[];
  /** NACKs never fully answered (answers lost on the way). */
  unanswered: number;
}

/** Runs the client; resolves once every NACK asked is answered. */
export async function independentClient(
  o: IndependentOptions,
): Promise<IndependentResult> {
  const pps = o.pps ?? 0;
  const pin = pinTarget(pemBlocks(o.certPem, "CERTIFICATE")[0]);
  const conn = await Deno.connectQuic({
    hostname: "127.0.0.1",
    port: o.port,
    alpnProtocols: [RTX_ALPN],
    caCerts: [pin.certPem],
    serverName: pin.serverName,
    congestionControl: "low-latency",
  });
  const stream = await conn.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  let sock: Deno.DatagramConn | undefined;
  await writer.write(frameMessage(encodeAuth(o.secret)));
  if (o.answers === "udp") {
    sock = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const port = (sock.addr as Deno.NetAddr).port;
    await writer.write(
      frameMessage(
        encodeRepairMode({ mode: "udp", port, copies: 1, spacingMs: 0 }),
      ),
    );
  }
  const slots = Math.floor(o.cached / PER_NACK);
  const sentAt = new Float64Array(slots);
  const left = new Int32Array(slots);
  const rtt: number[] = [];
  const lateness: number[] = [];
  let next = 0;
  let packets = 0;
  let inFlight = 0;
  let stop = false;
  let wake: (() => void) | undefined;
  const onPacket = (m: Uint8Array) => {
    const seq = (m[2] << 8) | m[3];
    const slot = Math.floor(seq / PER_NACK);
    packets++;
    if (--left[slot] === 0) {
      rtt.push(performance.now() - sentAt[slot]);
      inFlight--;
      wake?.();
    }
  };
  const reading = (async () => {
    const reader = stream.readable.getReader();
    const dec = new FrameDecoder();
    while (!stop || inFlight > 0) {
      const { value, done } = await reader.read();
      if (done) break;
      // NAVLs (RTCP) would end a round trip early: none are expected.
      for (const m of dec.push(value)) {
        if (m[1] < 192 || m[1] > 223) onPacket(m);
      }
    }
    reader.releaseLock();
  })();
  const receiving = sock && (async () => {
    const buf = new Uint8Array(2048);
    try {
      while (!stop || inFlight > 0) {
        const [d] = await sock.receive(buf);
        onPacket(d);
      }
    } catch {
      // Closed.
    }
  })();
  const t0 = performance.now();
  const end = t0 + o.ms;
  let asked = 0;
  let tick = t0;
  while (performance.now() < end) {
    const now = performance.now();
    if (pps > 0) lateness.push(Math.max(0, now - tick - 1));
    tick = now;
    const due = pps > 0
      ? Math.floor((now - t0) / 1000 * pps / PER_NACK) - asked
      : o.window - inFlight;
    const msgs: Uint8Array[] = [];
    for (let k = 0; k < due && inFlight < o.window; k++) {
      asked++;
      const slot = next++ % slots;
      const seqs = Array.from(
        { length: PER_NACK },
        (_, i) => slot * PER_NACK + i,
      );
      left[slot] = PER_NACK;
      sentAt[slot] = performance.now();
      msgs.push(frameMessage(encodeNack(1, o.ssrc, seqs)));
      inFlight++;
    }
    if (msgs.length > 0) await writer.write(concatBytes(msgs));
    if (pps > 0) await new Promise((r) => setTimeout(r, 1));
    else await new Promise<void>((r) => wake = r);
  }
  stop = true;
  // Answers lost on the way (a full UDP receive buffer) never complete.
  const gaveUpAt = performance.now() + 2000;
  while (inFlight > 0 && performance.now() < gaveUpAt) {
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 100);
    });
  }
  const unanswered = inFlight;
  inFlight = 0;
  const secs = (performance.now() - t0) / 1000;
  conn.close({ closeCode: 0, reason: "done" });
  sock?.close();
  await reading.catch(() => {});
  await receiving;
  rtt.sort((a, b) => a - b);
  lateness.sort((a, b) => a - b);
  return { packets, secs, rtt, lateness, unanswered };
}
