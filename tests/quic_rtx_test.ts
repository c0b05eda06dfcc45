import {
  deepStrictEqual as assertEquals,
  equal,
  match,
  ok,
  throws,
} from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import quic from "@matrixai/quic";
import { createLogger } from "../lib/log/mod.ts";
import {
  encodeApp,
  encodeAuth,
  encodeNack,
  encodeNavl,
} from "../lib/rtcp/mod.ts";
import { freeUdpPort, until } from "../testkit/mod.ts";
import {
  DEFAULT_REPAIR_MAX_PPS,
  FrameDecoder,
  frameMessage,
  generateSelfSigned,
  pemBlocks,
  pinTarget,
  QUIC_IMPLS,
  type QuicImpl,
  RTX_ALPN,
  RTX_MAX_REQUESTS_PER_SECOND,
  RTX_SERVER_NAME,
  RtxClient,
  type RtxResult,
  RtxServer,
} from "../lib/quic/mod.ts";
import {
  rtpPacket,
  rtxClientOf,
  testTls as tls,
  withRtxServer as withServer,
} from "./support/rtx.ts";
import { udpSocket } from "../testkit/ports.ts";

const SSRC_A = 0xa1b2c3d4;
const SSRC_B = 0x01020304;

const rtp = (ssrc: number, seq: number, payloadLen: number) =>
  rtpPacket(ssrc, seq, 12 + payloadLen, {
    marker: seq % 5 === 0,
    timestamp: seq * 90,
    random: true,
  });

/** An in-memory cache: ssrc -> seq -> bytes. */
function makeCache(entries: [number, number[]][]) {
  const m = new Map<number, Map<number, Uint8Array>>();
  for (const [ssrc, seqs] of entries) {
    const s = new Map<number, Uint8Array>();
    for (const seq of seqs) s.set(seq, rtp(ssrc, seq, 200 + (seq % 1000)));
    m.set(ssrc, s);
  }
  return {
    map: m,
    lookup: (ssrc: number, seq: number) => m.get(ssrc)?.get(seq),
    knownSsrc: (ssrc: number) => m.has(ssrc),
  };
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${
    b64.match(/.{1,64}/g)!.join("\n")
  }\n-----END ${label}-----\n`;
}

/** A CA and a server certificate it signs (SAN 127.0.0.1), as an operator's PKI makes them. */
async function caAndServer(): Promise<
  { caPem: string; certPem: string; keyPem: string }
> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const caKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=test CA",
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  }, crypto);
  const leaf = await x509.X509CertificateGenerator.create({
    subject: "CN=cloud",
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "dns", value: "127.0.0.1" },
      ]),
    ],
  }, crypto);
  return {
    caPem: pem("CERTIFICATE", ca.rawData),
    certPem: pem("CERTIFICATE", leaf.rawData),
    keyPem: pem(
      "PRIVATE KEY",
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
    ),
  };
}

/** A client of `server` on loopback, pinned to its certificate. */
function clientOf(
  server: RtxServer,
  opts: Partial<ConstructorParameters<typeof RtxClient>[0]>,
): RtxClient {
  return rtxClientOf(server, {
    impl: server.impl,
    ...opts,
  });
}

/** Runs `fn` with a client of `server` (see {@linkcode clientOf}); closes it after. */
async function withClient(
  server: RtxServer,
  opts: Partial<ConstructorParameters<typeof RtxClient>[0]>,
  fn: (client: RtxClient) => Promise<void>,
): Promise<void> {
  const client = clientOf(server, opts);
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

/** Registers `fn` once per QUIC implementation (server and client alike). */
function rtxTest(name: string, fn: (impl: QuicImpl) => Promise<void>) {
  for (const impl of QUIC_IMPLS) {
    Deno.test(`${name} [${impl}]`, () => fn(impl));
  }
}

function seqRange(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (start + i) & 0xffff);
}

rtxTest(
  "rtx: 2,000 pipelined packets byte-identical; missing ones unavailable at once",
  async (impl) => {
    // 2,000 numbers across the wrap; every 10th is not cached ("evicted").
    const all = seqRange(64_536, 2000);
    const cached = all.filter((_, i) => i % 10 !== 3);
    const cache = makeCache([[SSRC_A, cached], [SSRC_B, seqRange(0, 100)]]);
    await withServer({ ...cache, impl }, async (server) => {
      await withClient(server, {
        secret: "s3cret",
      }, async (client) => {
        equal(client.connected, false); // lazy
        // Pipelined: 20 bursts of 100 in flight at once, plus another stream.
        const t0 = performance.now();
        const asks: { ssrc: number; seq: number; p: Promise<RtxResult> }[] = [];
        for (let i = 0; i < all.length; i += 100) {
          const seqs = all.slice(i, i + 100);
          client.request(SSRC_A, seqs, { timeoutMs: 20_000 }).forEach((p, j) =>
            asks.push({ ssrc: SSRC_A, seq: seqs[j], p })
          );
        }
        const b = client.request(SSRC_B, [5, 6, 7, 500], { timeoutMs: 20_000 });
        const results = await Promise.all(asks.map((a) => a.p));
        const elapsed = performance.now() - t0;
        let okCount = 0;
        let unavailable = 0;
        results.forEach((r, i) => {
          const { ssrc, seq } = asks[i];
          const want = cache.lookup(ssrc, seq);
          if (want) {
            equal(r.status, "ok", `seq ${seq}`);
            if (r.status === "ok") assertEquals(r.packet, want);
            okCount++;
          } else {
            equal(r.status, "unavailable", `seq ${seq}`);
            unavailable++;
          }
        });
        equal(okCount, 1800);
        equal(unavailable, 200);
        const rb = await Promise.all(b);
        assertEquals(rb.map((r) => r.status), [
          "ok",
          "ok",
          "ok",
          "unavailable",
        ]);
        // "At once": far below the 20 s deadline.
        ok(elapsed < 10_000, `took ${elapsed} ms`);
        equal(client.connected, true);
        equal(client.outstanding, 0);
        equal(server.stats.packetsServed, 1803);
        equal(server.stats.packetsUnavailable, 201);
        equal(server.stats.authFailures, 0);
        equal(client.stats.packetsOk, 1803);
        equal(client.stats.connects, 1);
        // BLP batching: far fewer NACKs than packets.
        ok(client.stats.nacksSent <= 25, `nacks ${client.stats.nacksSent}`);
        // A repeated request is served again (the cache is not consumed).
        const [again] = client.request(SSRC_A, [all[0]], { timeoutMs: 5000 });
        equal((await again).status, "ok");
      });
    });
  },
);

rtxTest(
  "rtx: wrong secret or no AUTH first is refused and counted",
  async (impl) => {
    const cache = makeCache([[SSRC_A, seqRange(0, 10)]]);
    await withServer({ ...cache, impl }, async (server) => {
      for (const secret of ["wrong", undefined]) {
        await withClient(server, {
          secret,
          backoffInitialMs: 2000,
        }, async (client) => {
          const [r] = client.request(SSRC_A, [1], { timeoutMs: 700 });
          equal((await r).status, "timeout");
          // On a loaded machine the refusal may land after the request's
          // deadline: wait for the close itself (bounded).
          for (let i = 0; i < 200 && client.stats.disconnects < 1; i++) {
            await new Promise((res) => setTimeout(res, 50));
          }
          ok(client.stats.disconnects >= 1, "the connection was closed");
          match(client.lastError, /authentication failed/);
        });
      }
      equal(server.stats.authFailures, 2);
      equal(server.stats.packetsServed, 0);
      equal(server.stats.nacksReceived, 0);
    });
  },
);

rtxTest(
  "rtx: an empty secret accepts NACKs without AUTH, and AUTH too",
  async (impl) => {
    const cache = makeCache([[SSRC_A, seqRange(0, 10)]]);
    await withServer({ ...cache, impl, secret: "" }, async (server) => {
      for (const secret of [undefined, "anything"]) {
        await withClient(server, {
          secret,
        }, async (client) => {
          const [r] = client.request(SSRC_A, [3], { timeoutMs: 5000 });
          const got = await r;
          equal(got.status, "ok");
        });
      }
      equal(server.stats.authFailures, 0);
    });
  },
);

/** The first framed messages on `readable` (none when it ends first). */
async function firstFrames(
  readable: ReadableStream<Uint8Array>,
): Promise<Uint8Array[]> {
  const reader = readable.getReader();
  const dec = new FrameDecoder();
  let answer: Uint8Array[] = [];
  while (answer.length === 0) {
    const { value, done } = await reader.read();
    if (done) break;
    answer = dec.push(value);
  }
  reader.releaseLock();
  return answer;
}

/** A bare QUIC connection + stream for sending arbitrary bytes. */
async function rawConnection(port: number) {
  const client = await quic.QUICClient.createQUICClient({
    host: "127.0.0.1",
    port,
    localHost: "127.0.0.1",
    crypto: {
      ops: {
        randomBytes(data: ArrayBuffer) {
          crypto.getRandomValues(new Uint8Array(data));
          return Promise.resolve();
        },
      },
    },
    config: { verifyPeer: false, applicationProtos: [RTX_ALPN] },
    logger: {
      getChild() {
        return this;
      },
      debug() {},
      info() {},
      warn() {},
      error() {},
    } as never,
  });
  const stream = client.connection.newStream("bidi");
  const writer = stream.writable.getWriter();
  return { client, stream, writer };
}

rtxTest("rtx: garbage after AUTH closes that connection only", async (impl) => {
  const cache = makeCache([[SSRC_A, seqRange(100, 10)]]);
  await withServer({ ...cache, impl }, async (server) => {
    const garbage: [string, Uint8Array][] = [
      ["not RTCP", frameMessage(new Uint8Array([1, 2, 3, 4, 5]))],
      ["zero-length frame", new Uint8Array([0, 0])],
      [
        "RTCP SR instead of NACK",
        frameMessage(new Uint8Array([0x80, 200, 0, 6, ...new Uint8Array(24)])),
      ],
      [
        "truncated NACK",
        frameMessage(encodeNack(1, SSRC_A, [100]).subarray(0, 14)),
      ],
    ];
    // A well-behaved client connected all along keeps being served.
    await withClient(server, {
      secret: "s3cret",
    }, async (good) => {
      equal(
        (await good.request(SSRC_A, [100], { timeoutMs: 5000 })[0]).status,
        "ok",
      );
      let n = 0;
      for (const [name, bytes] of garbage) {
        const raw = await rawConnection(server.port);
        try {
          await raw.writer.write(frameMessage(encodeAuth("s3cret")));
          // Prove AUTH was accepted: a NACK is answered.
          await raw.writer.write(frameMessage(encodeNack(9, SSRC_A, [101])));
          const answer = await firstFrames(raw.stream.readable);
          assertEquals(
            new Uint8Array(answer[0]),
            cache.lookup(SSRC_A, 101),
            name,
          );
          await raw.writer.write(bytes);
          // The server closes the connection.
          await raw.client.closedP;
          n++;
          equal(server.stats.protocolErrors, n, name);
        } finally {
          await raw.client.destroy({ force: true }).catch(() => {});
        }
        const [r] = good.request(SSRC_A, [102 + (n % 5)], { timeoutMs: 5000 });
        equal((await r).status, "ok", `after ${name}`);
      }
      // And a brand-new client is served as well.
      const second = clientOf(server, {
        secret: "s3cret",
      });
      try {
        const [r] = second.request(SSRC_A, [109], { timeoutMs: 5000 });
        const got = await r;
        equal(got.status, "ok");
      } finally {
        await second.close();
      }
      equal(good.stats.disconnects, 0);
    });
  });
});

rtxTest(
  "rtx: the client recovers by itself when the server restarts on the same port",
  async (impl) => {
    const cache = makeCache([[SSRC_A, seqRange(0, 50)]]);
    await withServer({ ...cache, impl }, async (server) => {
      await withClient(server, {
        secret: "s3cret",
      }, async (client) => {
        equal(
          (await client.request(SSRC_A, [1], { timeoutMs: 5000 })[0]).status,
          "ok",
        );
        const port = server.port;
        await server.pause();
        // Asked while the cloud is down: sent again after reconnecting.
        const pending = client.request(SSRC_A, [2, 3], { timeoutMs: 15_000 });
        await server.start();
        equal(server.port, port);
        const got = await Promise.all(pending);
        assertEquals(got.map((r) => r.status), ["ok", "ok"]);
        equal(
          (await client.request(SSRC_A, [4], { timeoutMs: 5000 })[0]).status,
          "ok",
        );
        ok(client.stats.disconnects >= 1);
        ok(client.stats.connects >= 2);
      });
    });
  },
);

rtxTest(
  "rtx: a cloud that starts after the edge is reached by the fast retries: the first repair, asked as it comes up, succeeds within a 600 ms budget",
  async (impl) => {
    const cache = makeCache([[SSRC_A, seqRange(0, 10)]]);
    const t = await tls();
    const port = freeUdpPort();
    // The edge first (its link opens at startup), the cloud a moment later.
    const client = new RtxClient({
      host: "127.0.0.1",
      port,
      fingerprint: t.fingerprint,
      secret: "s3cret",
      impl,
    });
    const server = new RtxServer({
      hostname: "127.0.0.1",
      port,
      certPem: t.certPem,
      keyPem: t.keyPem,
      secret: "s3cret",
      impl,
      ...cache,
    });
    try {
      client.request(0, [], { timeoutMs: 0 }); // opens the link, as an edge does
      // The first handshake's Initial found nobody; a second attempt runs
      // beside it (before that handshake could time out or retransmit).
      await until(
        () => client.stats.connectAttempts >= 2,
        "a second connection attempt while the first waits",
        900,
        5,
      );
      equal(client.stats.connectFailures, 0);
      await server.start();
      const t0 = performance.now();
      const [r] = client.request(SSRC_A, [3], { timeoutMs: 600 });
      const got = await r;
      console.log(
        `  [${impl}] answered ${
          Math.round(performance.now() - t0)
        } ms after the cloud listened; ${client.stats.connectAttempts} attempts`,
      );
      equal(got.status, "ok", `attempts ${client.stats.connectAttempts}`);
      if (got.status === "ok") {
        assertEquals(got.packet, cache.lookup(SSRC_A, 3));
      }
      equal(client.stats.connects, 1);
      equal(server.stats.packetsServed, 1);
    } finally {
      await client.close();
      await server.stop();
    }
  },
);

rtxTest(
  "rtx: fingerprint mismatch is refused; CA pinning and insecure mode work",
  async (impl) => {
    const cache = makeCache([[SSRC_A, seqRange(0, 10)]]);
    const other = await generateSelfSigned();
    await withServer({ ...cache, impl }, async (server, t) => {
      await withClient(server, {
        secret: "s3cret",
        fingerprint: other.fingerprint,
        backoffInitialMs: 5000,
      }, async (bad) => {
        const [r] = bad.request(SSRC_A, [1], { timeoutMs: 700 });
        equal((await r).status, "timeout");
        match(bad.lastError, /fingerprint mismatch/);
        equal(bad.connected, false);
        ok(bad.stats.connectFailures >= 1);
      });
      equal(server.stats.packetsServed, 0);

      await withClient(server, {
        secret: "s3cret",
        fingerprint: undefined,
        caPem: other.certPem,
        backoffInitialMs: 5000,
      }, async (wrongCa) => {
        const [r] = wrongCa.request(SSRC_A, [1], { timeoutMs: 700 });
        equal((await r).status, "timeout");
      });
      equal(server.stats.packetsServed, 0);

      const lines: string[] = [];
      const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
      // The cloud's own (end-entity) certificate as the CA: native only
      // (BoringSSL wants a CA certificate as trust root).
      const modes = impl === "native"
        ? [{ caPem: t.certPem }, { insecureSkipVerify: true }]
        : [{ insecureSkipVerify: true }];
      for (const verify of modes) {
        await withClient(server, {
          secret: "s3cret",
          fingerprint: undefined,
          logger: log,
          ...verify,
        }, async (c) => {
          const [r] = c.request(SSRC_A, [1], { timeoutMs: 5000 });
          equal((await r).status, "ok", JSON.stringify(Object.keys(verify)));
        });
      }
      equal(lines.filter((l) => /insecureSkipVerify/.test(l)).length, 1);
    });
    // A cloud certificate signed by the operator's CA, verified with the CA.
    const pki = await caAndServer();
    await withServer(
      { ...cache, impl, certPem: pki.certPem, keyPem: pki.keyPem },
      async (server) => {
        await withClient(server, {
          secret: "s3cret",
          fingerprint: undefined,
          caPem: pki.caPem,
        }, async (c) => {
          const [r] = c.request(SSRC_A, [1], { timeoutMs: 5000 });
          equal((await r).status, "ok", "caPem");
        });
      },
    );
  },
);

rtxTest(
  "rtx: per-connection rate limit refuses the excess with NAVL",
  async (impl) => {
    const cache = makeCache([[SSRC_A, seqRange(0, 600)]]);
    const lines: string[] = [];
    const logger = createLogger({ level: "warn", write: (l) => lines.push(l) });
    await withServer(
      { ...cache, impl, maxRequestsPerSecond: 100, logger },
      async (server) => {
        await withClient(server, {
          secret: "s3cret",
        }, async (client) => {
          const res = await Promise.all(
            client.request(SSRC_A, seqRange(0, 300), { timeoutMs: 10_000 }),
          );
          const okN = res.filter((r) => r.status === "ok").length;
          const unav = res.filter((r) => r.status === "unavailable").length;
          ok(okN >= 100 && okN < 200, `served ${okN}`);
          equal(okN + unav, 300);
          equal(server.stats.refused, unav);
          // More floods within the window: still refused, logged once.
          await Promise.all(
            client.request(SSRC_A, seqRange(300, 300), { timeoutMs: 10_000 }),
          );
          equal(
            lines.filter((l) => /rate limit/.test(l)).length,
            1,
            lines.join("\n"),
          );
        });
      },
    );
  },
);

/** Requests `seqs` and counts how many were served; `ms` = time taken. */
async function served(c: RtxClient, ssrc: number, seqs: number[]) {
  const t0 = performance.now();
  const res = await Promise.all(c.request(ssrc, seqs, { timeoutMs: 20_000 }));
  const n = res.filter((r) => r.status === "ok").length;
  equal(n + res.filter((r) => r.status === "unavailable").length, seqs.length);
  return { n, ms: performance.now() - t0 };
}

Deno.test("rtx: at its defaults one connection is granted twice an edge's default repair budget per second; the excess gets NAVL", async () => {
  equal(RTX_MAX_REQUESTS_PER_SECOND, 2 * DEFAULT_REPAIR_MAX_PPS);
  const asked = RTX_MAX_REQUESTS_PER_SECOND + 2000;
  const cache = makeCache([[SSRC_A, seqRange(0, asked)]]);
  await withServer({ ...cache }, async (server) => {
    const client = clientOf(server, { secret: "s3cret" });
    try {
      const { n, ms } = await served(client, SSRC_A, seqRange(0, asked));
      // The bucket starts full (one second) and refills while it serves.
      const most = RTX_MAX_REQUESTS_PER_SECOND * (1 + ms / 1000);
      ok(
        n >= RTX_MAX_REQUESTS_PER_SECOND && n <= most,
        `served ${n} in ${ms} ms`,
      );
      equal(server.stats.packetsServed, n);
      equal(server.stats.refused, asked - n);
      equal(server.stats.refusedServerLimit, 0);
    } finally {
      await client.close();
    }
  });
});

Deno.test("rtx: the server-wide limit caps all connections together; each keeps its own limit", async () => {
  const cache = makeCache([[SSRC_A, seqRange(0, 1000)]]);
  await withServer(
    { ...cache, maxRequestsPerSecond: 1000, maxRequestsPerSecondTotal: 1500 },
    async (server) => {
      const a = clientOf(server, { secret: "s3cret" });
      const b = clientOf(server, { secret: "s3cret" });
      try {
        const first = await served(a, SSRC_A, seqRange(0, 1000));
        equal(first.n, 1000, "within both limits");
        const second = await served(b, SSRC_A, seqRange(0, 1000));
        const ms = first.ms + second.ms;
        ok(
          second.n >= 500 && second.n <= 500 + 1500 * ms / 1000,
          `the rest of the server's second: ${second.n} in ${ms} ms`,
        );
        equal(server.stats.refusedServerLimit, 1000 - second.n);
        equal(server.stats.refused, 1000 - second.n);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
  );
});

rtxTest("rtx: unknown SSRC gets NAVL and is logged", async (impl) => {
  const cache = makeCache([[SSRC_A, seqRange(0, 10)]]);
  const lines: string[] = [];
  const logger = createLogger({ level: "warn", write: (l) => lines.push(l) });
  await withServer({ ...cache, impl, logger }, async (server) => {
    await withClient(server, {
      secret: "s3cret",
    }, async (client) => {
      const res = await Promise.all(
        client.request(0xdead, [1, 2], { timeoutMs: 5000 }),
      );
      assertEquals(res, [{ status: "unavailable" }, { status: "unavailable" }]);
      equal(server.stats.unknownSsrc, 1);
      ok(lines.some((l) => /unknown SSRC/.test(l)));
    });
  });
});

Deno.test("rtx client: timeouts, bounded outstanding, close resolves everything", async () => {
  // Nothing listens on this port: the client keeps retrying in the background.
  const sock = udpSocket();
  const port = (sock.addr as Deno.NetAddr).port;
  sock.close();
  const client = new RtxClient({
    host: "127.0.0.1",
    port,
    insecureSkipVerify: true,
    maxOutstanding: 10,
    connectTimeoutMs: 300,
  });
  const first = client.request(1, seqRange(0, 5), { timeoutMs: 150 });
  const second = client.request(1, seqRange(100, 20), { timeoutMs: 60_000 });
  // 25 asked, bound 10: the 15 oldest time out at once.
  const evicted = await Promise.all([...first, ...second.slice(0, 10)]);
  ok(evicted.every((r) => r.status === "timeout"));
  equal(client.outstanding, 10);
  const late = client.request(2, [1], { timeoutMs: 100 });
  equal((await late[0]).status, "timeout");
  equal(client.outstanding, 9); // one more evicted the oldest of `second`
  await client.close();
  const rest = await Promise.all(second.slice(10));
  ok(rest.every((r) => r.status === "timeout"));
  equal(client.outstanding, 0);
  // After close: resolved at once.
  equal(
    (await client.request(1, [1], { timeoutMs: 1000 })[0]).status,
    "timeout",
  );
});

Deno.test("rtx interop: native client with matrixai server, and the reverse, byte-identical", async () => {
  const cache = makeCache([[SSRC_A, seqRange(1000, 300)]]);
  for (
    const [serverImpl, clientImpl] of [
      ["matrixai", "native"],
      ["native", "matrixai"],
    ] as const
  ) {
    await withServer({ ...cache, impl: serverImpl }, async (server) => {
      for (
        const verify of [{}, {
          fingerprint: undefined,
          insecureSkipVerify: true,
        }]
      ) {
        await withClient(server, {
          secret: "s3cret",
          impl: clientImpl,
          ...verify,
        }, async (client) => {
          const seqs = seqRange(1000, 300);
          const res = await Promise.all(
            client.request(SSRC_A, seqs, { timeoutMs: 10_000 }),
          );
          res.forEach((r, i) => {
            equal(
              r.status,
              "ok",
              `${clientImpl} -> ${serverImpl} seq ${seqs[i]}`,
            );
            if (r.status === "ok") {
              assertEquals(r.packet, cache.lookup(SSRC_A, seqs[i]));
            }
          });
        });
      }
    });
  }
});

Deno.test("rtx: an APP request named in `requests` is answered on the stream; an unknown one closes the connection", async () => {
  const cache = makeCache([[SSRC_A, seqRange(0, 10)]]);
  const asked: string[] = [];
  await withServer({
    ...cache,
    requests: {
      ECHO: (req, answer) => {
        asked.push(new TextDecoder().decode(req.data));
        answer(encodeNavl(req.ssrc, [7]));
      },
    },
  }, async (server) => {
    const raw = await rawConnection(server.port);
    try {
      await raw.writer.write(frameMessage(encodeAuth("s3cret")));
      await raw.writer.write(
        frameMessage(
          encodeApp({
            subtype: 0,
            name: "ECHO",
            ssrc: SSRC_A,
            data: new TextEncoder().encode("ping"),
          }),
        ),
      );
      const answer = await firstFrames(raw.stream.readable);
      assertEquals(new Uint8Array(answer[0]), encodeNavl(SSRC_A, [7]));
      assertEquals(asked, ["ping"]);
      await raw.writer.write(
        frameMessage(
          encodeApp({
            subtype: 0,
            name: "NOPE",
            ssrc: 1,
            data: new Uint8Array(4),
          }),
        ),
      );
      await raw.client.closedP;
      equal(server.stats.protocolErrors, 1);
    } finally {
      await raw.client.destroy({ force: true }).catch(() => {});
    }
  });
});

Deno.test("cert: pinTarget names flvcast-rtx and refuses a CA certificate with a fix", async () => {
  const t = await tls();
  const der = pemBlocks(t.certPem, "CERTIFICATE")[0];
  equal(pinTarget(der).serverName, RTX_SERVER_NAME);
  // The certificate flvcast made before: CA:TRUE.
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=old",
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  throws(
    () => pinTarget(new Uint8Array(ca.rawData)),
    /CA:TRUE.*quic_impl: matrixai/,
  );
});
