/**
 * The repair link as a stranger (no secret) and as an edge would attack it:
 * `RMOD`, NACK and `KEYS` before `AUTH` get nothing (no datagram to the port
 * they name, no key handler called); an authenticated peer's UDP answers go
 * only to its own QUIC address, never to another host it cannot name.
 */
import { equal, ok } from "node:assert/strict";
import { encodeApp, encodeNack, encodeRepairMode } from "../lib/rtcp/mod.ts";
import { frameMessage } from "../lib/quic/mod.ts";
import { until } from "../testkit/poll.ts";
import {
  openRtxStream,
  rawRtxConn,
  rtpLookup,
  rtxClientOf,
  udpCounter as counter,
  withRtxServer,
} from "./support/rtx.ts";

const SSRC = 0x51515152;

/** The repair cache of these tests: 1,000-byte packets of SSRC. */
const lookup = rtpLookup(SSRC, 1000);

Deno.test({
  name:
    "attack: RMOD, NACK and KEYS before AUTH get nothing — no datagram to the named port, no key handler call",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let keysCalls = 0;
    const victim = counter("127.0.0.1");
    await withRtxServer(
      { lookup, requests: { KEYS: () => void keysCalls++ } },
      async (server) => {
        for (
          const first of [
            encodeRepairMode({
              mode: "udp",
              port: victim.port,
              copies: 8,
              spacingMs: 0,
            }),
            encodeNack(1, SSRC, Array.from({ length: 1000 }, (_, i) => i)),
            encodeApp({
              subtype: 0,
              ssrc: SSRC,
              name: "KEYS",
              data: new Uint8Array(4),
            }),
          ]
        ) {
          const c = await rawRtxConn(server.port);
          const { send } = await openRtxStream(c);
          // Everything at once: the hostile message, then a NACK after it.
          await send(first).catch(() => {});
          await send(encodeNack(1, SSRC, [1, 2, 3])).catch(() => {});
          const info = await c.closed.catch((e) => e);
          ok(info, "the server closed the connection");
        }
        await until(
          () => server.stats.authFailures === 3,
          "3 AUTH failures",
          10_000,
          20,
        );
        // Give any (wrong) answer datagram time to land: one round trip of a
        // NACK answered by a real edge beside it.
        const real = await rawRtxConn(server.port);
        const { send, reader } = await openRtxStream(real, "s3cret");
        await send(encodeNack(1, SSRC, [9]));
        const got = await reader.read();
        ok(!got.done && got.value.length > 1000, "the real edge is answered");
        real.close();
        equal(victim.st.n, 0, "no datagram reached the port a stranger named");
        equal(keysCalls, 0, "KEYS before AUTH never reaches the handler");
        equal(server.stats.modeChanges, 0);
        equal(server.stats.packetsServed, 1);
      },
    ).finally(() => victim.conn.close());
  },
});

Deno.test({
  name:
    "attack: an authenticated peer's UDP answers go to its own QUIC address only (no reflection to another host)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The peer connects from 127.0.0.2; the victim listens on 127.0.0.1 at
    // the same port the peer names in RMOD.
    const own = counter("127.0.0.2");
    const victim = counter("127.0.0.1", own.port);
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.2", port: 0 });
    await withRtxServer({ lookup, hostname: "0.0.0.0" }, async (server) => {
      const c = await rawRtxConn(server.port, endpoint);
      const { send } = await openRtxStream(c, "s3cret");
      await send(
        encodeRepairMode({
          mode: "udp",
          port: own.port,
          copies: 3,
          spacingMs: 0,
        }),
      );
      await send(encodeNack(1, SSRC, Array.from({ length: 20 }, (_, i) => i)));
      await until(
        () => own.st.n === 60,
        "20 answers × 3 copies at the peer",
        10_000,
        20,
      );
      equal(victim.st.n, 0, "nothing to another host at the same port");
      c.close();
    }).finally(() => {
      endpoint.close();
      own.conn.close();
      victim.conn.close();
    });
  },
});

Deno.test({
  name:
    "attack: one edge asking for 8 copies of 8,000 answers, 255 ms apart, does not shed another edge's copies",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const sink = counter("127.0.0.2");
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.2", port: 0 });
    await withRtxServer({ lookup, hostname: "0.0.0.0" }, async (server) => {
      const edge = rtxClientOf(server, {
        secret: "s3cret",
        udpAnswers: { copies: 3, spacingMs: 2 },
      });
      try {
        // The greedy edge (127.0.0.2): 8 copies, 255 ms apart, of 1,000-byte
        // answers (its copies wait for up to 1.8 s).
        const c = await rawRtxConn(server.port, endpoint);
        const { writer: w, send } = await openRtxStream(c, "s3cret");
        await send(
          encodeRepairMode({
            mode: "udp",
            port: sink.port,
            copies: 8,
            spacingMs: 255,
          }),
        );
        // 200 NACKs of 40 sequence numbers: the waiting copies fill up in
        // small steps (8,000 sequence numbers, under the 20,000/s limit).
        for (let n = 0; n < 200; n++) {
          await w.write(
            frameMessage(
              encodeNack(
                1,
                SSRC,
                Array.from({ length: 40 }, (_, i) => n * 40 + i),
              ),
            ),
          );
        }
        await until(
          () => server.stats.udpAnswers >= 8000,
          "the greedy edge's 8,000 answers",
          10_000,
          20,
        );
        const shedBefore = server.stats.answerCopiesShed;

        // The other edge: 50 answers × 3 copies.
        const seqs = Array.from({ length: 50 }, (_, i) => 30_000 + i);
        const results = await Promise.all(
          edge.request(SSRC, seqs, { timeoutMs: 5000 }),
        );
        for (const r of results) equal(r.status, "ok");
        // Its copies were scheduled when its first copies were sent (before
        // any answer reached it): none shed. (Whether loopback delivers them
        // all beside the flood is the kernel's business, not asserted.)
        equal(
          server.stats.answerCopiesShed - shedBefore,
          0,
          "none of the other edge's copies shed",
        );
        await until(
          () => server.stats.answerCopies >= 100,
          "the copies to be sent",
          10_000,
          20,
        );
        c.close();
      } finally {
        await edge.close();
      }
    }).finally(() => {
      endpoint.close();
      sink.conn.close();
    });
  },
});

Deno.test({
  name:
    "attack: a datagram spoofing the cloud's address on the answer port cannot answer a KEYS request (only RTP comes by UDP)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let asked = 0;
    // The real cloud is slow to answer this one.
    await withRtxServer(
      { lookup, requests: { KEYS: () => void asked++ } },
      async (server) => {
        const edge = rtxClientOf(server, {
          secret: "s3cret",
          udpAnswers: {},
        });
        const spoofer = Deno.listenDatagram({
          transport: "udp",
          hostname: "127.0.0.1",
          port: 0,
        });
        try {
          const answer = edge.requestApp("KEYS", SSRC, { timeoutMs: 1500 });
          await until(
            () => asked === 1 && edge.answerPort !== undefined,
            "the KEYS request",
            10_000,
            20,
          );
          // A forged answer (its source address is the cloud's: 127.0.0.1).
          const forged = encodeApp({
            subtype: 0,
            ssrc: SSRC,
            name: "KEYS",
            data: new Uint8Array(64).fill(7),
          });
          const to: Deno.NetAddr = {
            transport: "udp",
            hostname: "127.0.0.1",
            port: edge.answerPort!,
          };
          for (let i = 0; i < 5; i++) await spoofer.send(forged, to);
          equal(await answer, undefined, "the forged KEYS answer was taken");
          ok(edge.stats.malformed >= 5, JSON.stringify(edge.stats));
        } finally {
          spoofer.close();
          await edge.close();
        }
      },
    );
  },
});
