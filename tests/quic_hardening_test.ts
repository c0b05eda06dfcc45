/**
 * The repair service under attack: 300 connections that never authenticate
 * (from another address) do not stop a real edge from connecting and being
 * served; an address with repeated wrong secrets is refused at once for a
 * back-off; a NACK asking for more than the cache holds is clipped and
 * counted.
 */
import { equal, ok } from "node:assert/strict";
import { encodeNack, parseNavl, parseRtcp } from "../lib/rtcp/mod.ts";
import { FrameDecoder } from "../lib/quic/mod.ts";
import { until } from "../testkit/poll.ts";
import {
  openRtxStream,
  rawRtxConn,
  rtpLookup,
  rtxClientOf,
  withRtxServer,
} from "./support/rtx.ts";

const SSRC = 0x51515151;

/** The repair cache of these tests: 40-byte packets 0..999 of SSRC. */
const lookup = rtpLookup(SSRC, 40, 1000);

/** A raw QUIC connection from `endpoint` (another loopback address). */
const rawFrom = (endpoint: Deno.QuicEndpoint, port: number) =>
  rawRtxConn(port, endpoint);

Deno.test({
  name:
    "quic: 300 unauthenticated connections do not lock out a real edge; AUTH deadline 2 s",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withRtxServer({ lookup }, async (server) => {
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
        10_000,
        20,
      );
      const edge = rtxClientOf(server, {
        secret: "s3cret",
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
        20,
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
    await withRtxServer(
      { lookup, maxAuthFailuresPerAddress: 3, maxSeqsPerNack: 10 },
      async (server) => {
        const endpoint = new Deno.QuicEndpoint({
          hostname: "127.0.0.2",
          port: 0,
        });
        for (let i = 0; i < 3; i++) {
          const c = await rawFrom(endpoint, server.port);
          await openRtxStream(c, "wrong");
          await c.closed.catch(() => {});
        }
        equal(server.stats.authFailures, 3);
        // The fourth is refused before any AUTH.
        const refused = await rawFrom(endpoint, server.port).catch(() => null);
        if (refused) await refused.closed.catch(() => {});
        await until(
          () => server.stats.authBackoffRejected === 1,
          "the back-off refusal",
          10_000,
          20,
        );
        endpoint.close();

        // A real edge (another address) is not affected; a NACK of 100
        // sequence numbers is answered for the first 10 only.
        const c = await rawRtxConn(server.port);
        const { send, reader } = await openRtxStream(c, "s3cret");
        const seqs = Array.from({ length: 100 }, (_, i) => 2000 + i);
        await send(encodeNack(1, SSRC, seqs));
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
