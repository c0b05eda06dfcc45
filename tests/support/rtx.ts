/**
 * Test helpers for the QUIC repair link: a repair server on loopback with a
 * test certificate ({@linkcode withRtxServer}), a raw QUIC connection pinned
 * to it ({@linkcode rawRtxConn}) with an authenticated stream
 * ({@linkcode openRtxStream}) for sending arbitrary messages, RTP-shaped
 * packets to serve, and a UDP datagram counter.
 *
 * @module
 */
import {
  type CertificateBundle,
  frameMessage,
  generateSelfSigned,
  RTX_ALPN,
  RTX_SERVER_NAME,
  RtxClient,
  type RtxClientOptions,
  RtxServer,
  type RtxServerOptions,
} from "../../lib/quic/mod.ts";
import { encodeAuth } from "../../lib/rtcp/mod.ts";
import { encodeRtp } from "../../lib/rtp/mod.ts";
import { startRtxServer } from "../../testkit/rtx_server.ts";

let tlsPromise: Promise<CertificateBundle> | undefined;

/** One self-signed certificate for every repair server of a test file. */
export function testTls(): Promise<CertificateBundle> {
  return tlsPromise ??= generateSelfSigned();
}

/** Options of {@linkcode rtpPacket}. */
export interface RtpPacketOptions {
  /** Timestamp field (default 0). */
  timestamp?: number;
  /** Set the marker bit. */
  marker?: boolean;
  /** Fill the payload with random bytes (default zeros). */
  random?: boolean;
}

/**
 * An RTP packet (version 2, payload type 100) of `size` bytes in all, for a
 * repair cache to serve.
 */
export function rtpPacket(
  ssrc: number,
  seq: number,
  size: number,
  opts: RtpPacketOptions = {},
): Uint8Array {
  const payload = new Uint8Array(size - 12);
  if (opts.random) crypto.getRandomValues(payload);
  return encodeRtp({
    marker: opts.marker ?? false,
    payloadType: 100,
    sequence: seq,
    timestamp: opts.timestamp ?? 0,
    ssrc,
    payload,
  });
}

/**
 * A repair cache lookup serving {@linkcode rtpPacket}s of `size` bytes for
 * `ssrc` (sequence numbers below `below` only, when given).
 */
export function rtpLookup(
  ssrc: number,
  size: number,
  below = Infinity,
): RtxServerOptions["lookup"] {
  return (s, seq) =>
    s === ssrc && seq < below ? rtpPacket(ssrc, seq, size) : undefined;
}

/**
 * Runs `fn` with a started repair server on 127.0.0.1 (any port, the test
 * certificate, secret `s3cret` unless `opts` say otherwise); stops it after.
 */
export async function withRtxServer(
  opts: Partial<RtxServerOptions> & Pick<RtxServerOptions, "lookup">,
  fn: (server: RtxServer, tls: CertificateBundle) => Promise<void>,
): Promise<void> {
  const tls = await testTls();
  const server = await startRtxServer({ secret: "s3cret", ...opts }, tls);
  try {
    await fn(server, tls);
  } finally {
    await server.stop();
  }
}

/**
 * A repair client of the server at 127.0.0.1:`peer.port`, pinned to
 * `peer.fingerprint` (a started {@linkcode RtxServer}, or a cloud's QUIC
 * port and fingerprint); `opts` add the secret and the rest.
 */
export function rtxClientOf(
  peer: { port: number; fingerprint: string },
  opts: Partial<RtxClientOptions> = {},
): RtxClient {
  return new RtxClient({
    host: "127.0.0.1",
    port: peer.port,
    fingerprint: peer.fingerprint,
    ...opts,
  });
}

/**
 * A raw QUIC connection to the repair server at 127.0.0.1:`port`, pinned to
 * the test certificate; from `endpoint` (e.g. another loopback address) when
 * given.
 */
export async function rawRtxConn(
  port: number,
  endpoint?: Deno.QuicEndpoint,
): Promise<Deno.QuicConn> {
  const tls = await testTls();
  return await Deno.connectQuic({
    ...(endpoint ? { endpoint } : {}),
    hostname: "127.0.0.1",
    port,
    alpnProtocols: [RTX_ALPN],
    caCerts: [tls.certPem],
    serverName: RTX_SERVER_NAME,
  });
}

/** A bidirectional stream of a raw repair connection. */
export interface RtxStream {
  /** Writes framed messages. */
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Reads the server's framed answers. */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Frames `message` and writes it. */
  send(message: Uint8Array): Promise<void>;
}

/**
 * Opens a bidirectional stream on `conn` and, when `secret` is given, sends
 * `AUTH` with it first.
 */
export async function openRtxStream(
  conn: Deno.QuicConn,
  secret?: string,
): Promise<RtxStream> {
  const s = await conn.createBidirectionalStream();
  const writer = s.writable.getWriter();
  const send = (m: Uint8Array) => writer.write(frameMessage(m));
  if (secret !== undefined) await send(encodeAuth(secret));
  return { writer, reader: s.readable.getReader(), send };
}

/** Counts the datagrams a UDP socket receives until closed. */
export function udpCounter(hostname: string, port = 0): {
  conn: Deno.DatagramConn;
  st: { n: number };
  port: number;
} {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
  const st = { n: 0 };
  (async () => {
    const buf = new Uint8Array(2048);
    try {
      // deno-lint-ignore no-explicit-any
      while (await (conn as any).receive(buf)) st.n++;
    } catch { /* closed */ }
  })();
  return { conn, st, port: (conn.addr as Deno.NetAddr).port };
}
