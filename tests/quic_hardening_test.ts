/**
 * The repair service under attack: 300 connections that never authenticate
 * (from another address) do not stop a real edge from connecting and being
 * served; an address with repeated wrong secrets is refused at once for a
 * back-off; a NACK asking for more than the cache holds is clipped and
 * counted.
 */
import { equal, ok } from "node:assert/strict";
import {
  encodeAuth,
  encodeNack,
  parseNavl,
  parseRtcp,
} from "../lib/rtcp/mod.ts";
import {
  FrameDecoder,
  frameMessage,
  generateSelfSigned,
  RTX_ALPN,
  RTX_SERVER_NAME,
  RtxClient,
  RtxServer,
} from "../lib/quic/mod.ts";

const SSRC = 0x51515151;

function rtp(seq: number): Uint8Array {
  const p = new Uint8Array(40);
  const v = new DataView(p.buffer);
  p[0] = 0x80;
  p[1] = 100;
  v.setUint16(2, seq);
  v.setUint32(8, SSRC);
  return p;
}

const tls = await generateSelfSigned();

async function withServer(
  opts: Partial<ConstructorParameters<typeof RtxServer>[0]>,
  fn: (server: RtxServer) => Promise<void>,
) {
  const server = new RtxServer({
    hostname: "127.0.0.1",
    port: 0,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    secret: "s3cret",
    lookup: (ssrc, seq) => ssrc === SSRC && seq < 1000 ? rtp(seq) : undefined,
    ...opts,
  });
  await server.start();
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** A raw QUIC connection from `localAddr` (another loopback address). */
async function rawFrom(
  endpoint: Deno.QuicEndpoint,
  port: number,
): Promise<Deno.QuicConn> {
  return await Deno.connectQuic({
    endpoint,
    hostname: "127.0.0.1",
    port,
    alpnProtocols: [RTX_ALPN],
    caCerts: [tls.certPem],
    serverName: RTX_SERVER_NAME,
  });
}

async function until(test: () => boolean, what: string, ms = 10_000) {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name:
    "quic: 300 unauthenticated connections do not lock out a real edge; AUTH deadline 2 s",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withServer({}, async (server) => {
      const endpoint = new Deno.QuicEndpoint({
        hostname: "127.0.0.2",
        port: 0,
      });
      const attackers: Deno.QuicConn[] = [];
      const attempts = Array.from(
        { length: 300 },
        () =>
          rawFrom(endpoint, server.port).then(
            (c) => void attackers.push(c),
            () => {},
          ),
      );
      await Promise.all(attempts);
      await until(
        () =>
          server.stats.unauthenticatedRejected +
              server.stats.authBackoffRejected > 0,
        "the unauthenticated pool to fill",
      );
      const edge = new RtxClient({
        host: "127.0.0.1",
        port: server.port,
        secret: "s3cret",
        fingerprint: server.fingerprint,
      });
      try {
        const results = await Promise.all(
          edge.request(SSRC, [1, 2, 3], { timeoutMs: 5000 }),
        );
        for (const r of results) equal(r.status, "ok");
      } finally {
        await edge.close();
      }
      // The unauthenticated ones are closed by the AUTH deadline (2 s).
      await until(
        () => server.stats.activeConnections === 0,
        "unauthenticated connections to be closed",
        6000,
      );
      ok(server.stats.authFailures >= 1);
      for (const c of attackers) c.close();
      endpoint.close();
    });
  },
});

Deno.test({
  name: "quic: repeated wrong secrets from one address back off; NACK clipped",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withServer(
      { maxAuthFailuresPerAddress: 3, maxSeqsPerNack: 10 },
      async (server) => {
        const endpoint = new Deno.QuicEndpoint({
          hostname: "127.0.0.2",
          port: 0,
        });
        for (let i = 0; i < 3; i++) {
          const c = await rawFrom(endpoint, server.port);
          const s = await c.createBidirectionalStream();
          const w = s.writable.getWriter();
          await w.write(frameMessage(encodeAuth("wrong")));
          await c.closed.catch(() => {});
        }
        equal(server.stats.authFailures, 3);
        // The fourth is refused before any AUTH.
        const refused = await rawFrom(endpoint, server.port).catch(() => null);
        if (refused) await refused.closed.catch(() => {});
        await until(
          () => server.stats.authBackoffRejected === 1,
          "the back-off refusal",
        );
        endpoint.close();

        // A real edge (another address) is not affected; a NACK of 100
        // sequence numbers is answered for the first 10 only.
        const c = await Deno.connectQuic({
          hostname: "127.0.0.1",
          port: server.port,
          alpnProtocols: [RTX_ALPN],
          caCerts: [tls.certPem],
          serverName: RTX_SERVER_NAME,
        });
        const s = await c.createBidirectionalStream();
        const w = s.writable.getWriter();
        await w.write(frameMessage(encodeAuth("s3cret")));
        const seqs = Array.from({ length: 100 }, (_, i) => 2000 + i);
        await w.write(frameMessage(encodeNack(1, SSRC, seqs)));
        const reader = s.readable.getReader();
        const dec = new FrameDecoder();
        const navl: number[] = [];
        while (navl.length < 10) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const m of dec.push(value)) {
            for (const p of parseRtcp(m)) navl.push(...parseNavl(p)!.seqs);
          }
        }
        equal(navl.length, 10);
        equal(server.stats.nackSeqsClipped, 90);
        equal(server.stats.packetsRequested, 10);
        c.close();
      },
    );
  },
});
