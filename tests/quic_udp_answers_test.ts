/**
 * Repair answers as UDP datagrams (`RMOD` after `AUTH`): exact bytes, copies,
 * NAVL still on the stream, copies changed on the fly, datagrams from another
 * address ignored; and a client that never sends `RMOD` keeps its answers on
 * the stream (SPEC §6).
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { RtxClient, type RtxServer } from "../lib/quic/mod.ts";
import { rtpPacket, rtxClientOf, withRtxServer } from "./support/rtx.ts";
import { until } from "../testkit/poll.ts";
import { udpSocket } from "../testkit/ports.ts";

const SSRC = 0x0badcafe;

const rtp = (seq: number, len: number) =>
  rtpPacket(SSRC, seq, 12 + len, { random: true });

async function withPair(
  cached: number[],
  clientOpts: Partial<ConstructorParameters<typeof RtxClient>[0]>,
  fn: (
    server: RtxServer,
    client: RtxClient,
    cache: Map<number, Uint8Array>,
  ) => Promise<void>,
) {
  const cache = new Map(cached.map((s) => [s, rtp(s, 100 + s % 900)]));
  await withRtxServer({
    secret: "s",
    lookup: (ssrc, seq) => ssrc === SSRC ? cache.get(seq) : undefined,
  }, async (server) => {
    const client = rtxClientOf(server, {
      secret: "s",
      ...clientOpts,
    });
    try {
      await fn(server, client, cache);
    } finally {
      await client.close();
    }
  });
}

/** Polls `f` every 10 ms until true; fails after `ms`. */

Deno.test("rtx udp answers: exact bytes by datagram, 3 copies each, NAVL on the stream", async () => {
  const seqs = Array.from({ length: 50 }, (_, i) => 1000 + i);
  await withPair(seqs, {
    udpAnswers: { copies: 3, spacingMs: 2 },
  }, async (server, client, cache) => {
    equal(client.answerMode, "udp");
    const results = await Promise.all(
      client.request(SSRC, [...seqs, 7, 8], { timeoutMs: 10_000 }),
    );
    results.slice(0, 50).forEach((r, i) => {
      equal(r.status, "ok", `seq ${seqs[i]}`);
      if (r.status === "ok") {
        deepStrictEqual(r.packet, cache.get(seqs[i]));
        ok(r.rttMs !== undefined && r.rttMs >= 0, "asked once: an RTT sample");
      }
    });
    deepStrictEqual(results.slice(50).map((r) => r.status), [
      "unavailable",
      "unavailable",
    ]);
    await until(
      () =>
        server.stats.answerCopies === 100 && client.stats.udpAnswers === 150,
      "every copy sent and received",
    );
    const st = server.stats;
    equal(st.packetsServed, 50);
    equal(st.udpAnswers, 50);
    equal(st.packetsUnavailable, 2);
    equal(st.modeChanges, 1);
    equal(client.stats.packetsOk, 50);
    equal(
      client.stats.unsolicited,
      100,
      "the later copies found nobody waiting",
    );
    ok(client.rttMs > 0);
  });
});

Deno.test("rtx udp answers: setAnswerCopies sends a new RMOD; datagrams from another address are ignored", async () => {
  await withPair([1, 2, 3], { udpAnswers: {} }, async (server, client) => {
    equal(client.answerCopies, 1);
    equal(
      (await client.request(SSRC, [1], { timeoutMs: 5000 })[0]).status,
      "ok",
    );
    client.setAnswerCopies(4);
    client.setAnswerCopies(4); // unchanged: no message
    client.setAnswerCopies(99); // clamped to 8
    await until(() => server.stats.modeChanges === 3, "two more RMODs");
    equal(client.answerCopies, 8);
    equal(client.stats.modeMessages, 3);
    // A stranger (another loopback address) sends a plausible answer.
    const port = client.answerPort!;
    const pending = client.request(SSRC, [2], { timeoutMs: 5000 })[0];
    const stranger = udpSocket("127.0.0.2");
    try {
      await stranger.send(rtp(2, 10), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      const r = await pending;
      equal(r.status, "ok");
      if (r.status === "ok") {
        equal(
          r.packet.length,
          12 + 100 + 2,
          "the cloud's bytes, not the stranger's",
        );
      }
      await until(() => client.stats.udpForeign === 1, "the stranger counted");
    } finally {
      stranger.close();
    }
    await until(() => server.stats.answerCopies === 7, "8 copies");
  });
});

Deno.test("rtx: a client that never sends RMOD keeps its answers on the stream", async () => {
  await withPair([5, 6], {}, async (server, client, cache) => {
    equal(client.answerMode, "stream");
    const rs = await Promise.all(
      client.request(SSRC, [5, 6], { timeoutMs: 5000 }),
    );
    rs.forEach((r, i) => {
      equal(r.status, "ok");
      if (r.status === "ok") deepStrictEqual(r.packet, cache.get(5 + i));
    });
    equal(server.stats.udpAnswers, 0);
    equal(server.stats.modeChanges, 0);
    equal(client.answerPort, undefined);
  });
});
