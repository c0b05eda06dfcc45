/**
 * The `@matrixai/quic` implementation of {@linkcode QuicTransport}
 * (`quic_impl: matrixai`), and {@linkcode peerCertificate}, which reads a
 * server's certificate for the native client's pinning.
 *
 * @module
 */
import quic from "@matrixai/quic";
import type { Logger } from "../log/mod.ts";
import { fingerprintOf, normalizeFingerprint } from "./cert.ts";
import type {
  QuicClientConnection,
  QuicCloseInfo,
  QuicConnectOptions,
  QuicDuplex,
  QuicListener,
  QuicListenOptions,
  QuicServerConnection,
  QuicTransport,
  QuicVerify,
} from "./transport.ts";

type QUICClient = InstanceType<typeof quic.QUICClient>;
type QUICConnection = InstanceType<typeof quic.QUICConnection>;
type QUICStream = InstanceType<typeof quic.QUICStream>;

const hmacKeys = new WeakMap<ArrayBuffer, Promise<CryptoKey>>();

function hmacKey(key: ArrayBuffer): Promise<CryptoKey> {
  let k = hmacKeys.get(key);
  if (!k) {
    k = crypto.subtle.importKey(
      "raw",
      key,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    hmacKeys.set(key, k);
  }
  return k;
}

/** Crypto callbacks the library wants (HMAC-SHA256 for retry tokens). */
const cryptoOps = {
  randomBytes(data: ArrayBuffer): Promise<void> {
    crypto.getRandomValues(new Uint8Array(data));
    return Promise.resolve();
  },
  async sign(key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> {
    return await crypto.subtle.sign("HMAC", await hmacKey(key), data);
  },
  async verify(
    key: ArrayBuffer,
    data: ArrayBuffer,
    sig: ArrayBuffer,
  ): Promise<boolean> {
    return await crypto.subtle.verify("HMAC", await hmacKey(key), sig, data);
  },
};

/** The subset of `@matrixai/logger`'s Logger the library calls. */
interface LibLogger {
  getChild(key: string): LibLogger;
  debug(msg: unknown): void;
  info(msg: unknown): void;
  warn(msg: unknown): void;
  error(msg: unknown): void;
}

/** The library's chatter (one line per stream and connection) goes to `debug`. */
function libLogger(log: Logger, key = "quic"): LibLogger {
  const line = (m: unknown) => `${key}: ${m instanceof Error ? m.message : m}`;
  return {
    getChild: (k: string) => libLogger(log, k),
    debug: (m) => log.debug(line(m)),
    info: (m) => log.debug(line(m)),
    warn: (m) => log.debug(line(m)),
    error: (m) => log.debug(line(m)),
  };
}

/** UDP datagrams `@matrixai/quic` sockets could not send (process-wide). */
export const udpSendFailures: { count: number; lastError: string } = {
  count: 0,
  lastError: "",
};

/**
 * The library rethrows "internal" errors from its own event handlers, and
 * under Deno's node:dgram every send errno arrives as `UNKNOWN`, so one
 * refused UDP send (a firewall rule, a route gone) would be an uncaught
 * exception that kills the process. A datagram that could not be sent is
 * packet loss: this socket counts it and lets QUIC recover or idle out.
 */
class LossTolerantSocket extends quic.QUICSocket {
  override async send_(
    msg: string | Uint8Array,
    offset: number,
    length: number,
    port: number,
    address: string,
  ): Promise<number> {
    try {
      return await super.send_(msg, offset, length, port, address);
    } catch (e) {
      if ((e as { syscall?: string }).syscall !== "send") throw e;
      udpSendFailures.count++;
      udpSendFailures.lastError = (e as Error).message;
      return 0;
    }
  }
}

function newSocket(log: Logger): LossTolerantSocket {
  // deno-lint-ignore no-explicit-any
  return new LossTolerantSocket({ logger: libLogger(log) as any });
}

/** A ReadableStream fed by push calls. */
function pushStream<T>(): {
  stream: ReadableStream<T>;
  push: (v: T) => void;
  end: () => void;
} {
  let ctl!: ReadableStreamDefaultController<T>;
  let ended = false;
  const stream = new ReadableStream<T>({ start: (c) => void (ctl = c) });
  return {
    stream,
    push: (v) => {
      if (!ended) ctl.enqueue(v);
    },
    end: () => {
      if (ended) return;
      ended = true;
      ctl.close();
    },
  };
}

async function stopConnection(
  conn: QUICConnection,
  code: number,
  reason: string,
): Promise<void> {
  try {
    await conn.stop({
      isApp: true,
      errorCode: code,
      reason: new TextEncoder().encode(reason),
      force: true,
    });
  } catch {
    // Already closing.
  }
}

interface ServerConn {
  api: QuicServerConnection;
  push: (s: QuicDuplex) => void;
}

async function listen(opts: QuicListenOptions): Promise<QuicListener> {
  let bound = await bind(opts);
  const port = bound.port;
  let paused = false;
  return {
    port,
    async pause() {
      if (paused) return;
      // The library frees its socket: close, and bind the port again later.
      paused = true;
      await bound.close();
    },
    async resume() {
      if (!paused) return;
      bound = await bind({ ...opts, port });
      paused = false;
    },
    async close() {
      if (paused) return;
      paused = true;
      await bound.close();
    },
  };
}

async function bind(
  opts: QuicListenOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const socket = newSocket(opts.logger);
  const server = new quic.QUICServer({
    crypto: {
      key: crypto.getRandomValues(new Uint8Array(32)).buffer,
      ops: cryptoOps,
    },
    config: {
      key: opts.keyPem,
      cert: opts.certPem,
      verifyPeer: false,
      applicationProtos: [opts.alpn],
      maxIdleTimeout: opts.idleTimeoutMs,
      initialMaxStreamsBidi: 4,
      initialMaxStreamsUni: 0,
      // Bounds what one connection can have queued at us while we are
      // busy answering it (flow control stops the sender beyond this).
      initialMaxData: 512 * 1024,
      initialMaxStreamDataBidiRemote: 256 * 1024,
    },
    socket,
    // deno-lint-ignore no-explicit-any
    logger: libLogger(opts.logger) as any,
  });
  const conns = new Map<QUICConnection, ServerConn>();
  // A stream's event can come before its connection's: register on either.
  const connOf = (conn: QUICConnection): ServerConn => {
    let c = conns.get(conn);
    if (c) return c;
    const streams = pushStream<QuicDuplex>();
    let resolveClosed!: (i: QuicCloseInfo) => void;
    const closed = new Promise<QuicCloseInfo>((r) => resolveClosed = r);
    c = {
      api: {
        remote: `${conn.remoteHost}:${conn.remotePort}`,
        streams: streams.stream,
        closed,
        close: (code, reason) => stopConnection(conn, code, reason),
      },
      push: streams.push,
    };
    conns.set(conn, c);
    conn.addEventListener(
      quic.events.EventQUICConnectionStopped.name,
      () => {
        conns.delete(conn);
        streams.end();
        resolveClosed({ code: -1, reason: "connection closed" });
      },
      { once: true },
    );
    opts.onConnection(c.api);
    return c;
  };
  server.addEventListener(
    quic.events.EventQUICServerConnection.name,
    (evt: Event) => {
      connOf((evt as unknown as { detail: QUICConnection }).detail);
    },
  );
  // Streams are re-dispatched on the server; a listener added on the
  // connection from the connection event could miss the first stream.
  server.addEventListener(
    quic.events.EventQUICConnectionStream.name,
    (evt: Event) => {
      const stream = (evt as unknown as { detail: QUICStream }).detail;
      const conn = (stream as unknown as { connection: QUICConnection })
        .connection;
      connOf(conn).push(stream as unknown as QuicDuplex);
    },
  );
  server.addEventListener(
    quic.events.EventQUICServerError.name,
    (evt: Event) =>
      opts.logger.error("QUIC server error", {
        error: (evt as unknown as { detail: Error }).detail,
      }),
  );
  await socket.start({ host: opts.hostname, port: opts.port });
  try {
    await server.start();
  } catch (e) {
    await socket.stop({ force: true }).catch(() => {});
    throw e;
  }
  return {
    port: socket.port,
    async close() {
      try {
        await server.stop({ isApp: true, errorCode: 0, force: true });
      } finally {
        await socket.stop({ force: true }).catch(() => {});
      }
    },
  };
}

/** The library's client configuration for a verification mode. */
function verifyConfig(
  verify: QuicVerify,
  onMismatch: (msg: string) => void,
): Record<string, unknown> {
  switch (verify.kind) {
    case "ca":
      return { verifyPeer: true, ca: verify.caPem };
    case "none":
      return { verifyPeer: false };
    case "pin": {
      const pinned = normalizeFingerprint(verify.fingerprint);
      return {
        verifyPeer: true,
        verifyCallback: async (certs: Uint8Array[]) => {
          const got = certs.length > 0
            ? await fingerprintOf(certs[0])
            : "(no certificate)";
          if (got === pinned) return undefined;
          onMismatch(
            `certificate fingerprint mismatch: expected ${pinned}, received ${got}`,
          );
          return quic.native.CryptoError.BadCertificate;
        },
      };
    }
  }
}

async function createClient(
  opts: QuicConnectOptions,
  tls: Record<string, unknown>,
): Promise<QUICClient> {
  const localHost = /^\d+\.\d+\.\d+\.\d+$/.test(opts.host) ? "0.0.0.0" : "::";
  const socket = newSocket(opts.logger);
  await socket.start({ host: localHost, port: 0 });
  try {
    return await quic.QUICClient.createQUICClient({
      host: opts.host,
      port: opts.port,
      socket,
      crypto: { ops: cryptoOps },
      config: {
        applicationProtos: [opts.alpn],
        maxIdleTimeout: opts.idleTimeoutMs,
        keepAliveIntervalTime: Math.min(
          opts.keepAliveMs,
          opts.idleTimeoutMs - 1,
        ),
        initialMaxStreamsBidi: 0,
        initialMaxStreamsUni: 0,
        ...tls,
        // deno-lint-ignore no-explicit-any
      } as any,
      // deno-lint-ignore no-explicit-any
      logger: libLogger(opts.logger) as any,
    }, { timer: opts.timeoutMs, signal: opts.signal }).then((client) => {
      // The socket is ours: stop it with the client.
      client.closedP.finally(() =>
        socket.stop({ force: true }).catch(() => {})
      );
      return client;
    });
  } catch (e) {
    await socket.stop({ force: true }).catch(() => {});
    throw e;
  }
}

async function connect(
  opts: QuicConnectOptions,
): Promise<QuicClientConnection> {
  let mismatch = "";
  let client: QUICClient;
  try {
    client = await createClient(
      opts,
      verifyConfig(opts.verify, (m) => mismatch = m),
    );
  } catch (e) {
    if (mismatch) throw new Error(mismatch);
    throw e;
  }
  // The peer's close code says why (e.g. a wrong secret).
  let peerClose: QuicCloseInfo | undefined;
  client.addEventListener(quic.events.EventQUICClientError.name, (evt) => {
    const detail = (evt as unknown as {
      detail?: {
        message?: string;
        data?: { isApp?: boolean; errorCode?: number; reason?: Uint8Array };
      };
    }).detail;
    const code = detail?.data?.errorCode;
    if (detail?.data?.isApp && code !== undefined) {
      const reason = detail.data.reason
        ? new TextDecoder().decode(detail.data.reason)
        : "";
      peerClose = { code, reason };
    } else if (detail?.message) {
      peerClose = { code: -1, reason: detail.message };
    }
  });
  const closed = client.closedP.then(() =>
    peerClose ?? { code: -1, reason: "connection closed" }
  );
  return {
    remote: `${opts.host}:${opts.port}`,
    closed,
    openStream: () =>
      Promise.resolve(
        client.connection.newStream("bidi") as unknown as QuicDuplex,
      ),
    async close(code, reason) {
      try {
        await client.destroy({
          isApp: true,
          errorCode: code,
          reason: new TextEncoder().encode(reason),
          force: true,
        });
      } catch {
        // Already gone.
      }
    },
  };
}

/** `@matrixai/quic` 1.2.12 (quiche, BoringSSL). */
export const matrixaiTransport: QuicTransport = {
  impl: "matrixai",
  listen,
  connect,
};

/**
 * `@matrixai/quic` can reject a promise nobody awaits from inside its socket
 * message handler when a connection it is tearing down gets one more
 * datagram (`ErrorQUICConnectionNotRunning`, seen when a cloud restarts
 * while an edge reads its certificate). Unhandled, that ends the process;
 * such library-internal rejections are counted and ignored instead.
 */
let libraryRejections = 0;
globalThis.addEventListener("unhandledrejection", (e) => {
  const r = e.reason as { name?: unknown; constructor?: { name?: string } };
  const name = typeof r?.name === "string" ? r.name : r?.constructor?.name;
  if (typeof name === "string" && name.startsWith("ErrorQUIC")) {
    e.preventDefault();
    libraryRejections++;
  }
});

/** Rejections inside `@matrixai/quic` that were ignored (see above). */
export function matrixaiLibraryRejections(): number {
  return libraryRejections;
}

/**
 * Reads the certificate a QUIC server presents, without trusting it: a
 * handshake that stops at certificate verification (the server sees a
 * refused handshake, no connection). Lets a client that only takes trust
 * roots pin "exactly this certificate" after checking its fingerprint.
 *
 * @param opts Server address, ALPN, deadline, abort signal, logger.
 * @returns The server's end-entity certificate (DER).
 * @throws {Error} When the server cannot be reached or shows no certificate.
 */
export async function peerCertificate(
  opts: Omit<QuicConnectOptions, "verify" | "keepAliveMs" | "idleTimeoutMs">,
): Promise<Uint8Array> {
  // The certificate is known at verification time: answer then, and let the
  // refused handshake wind down in the background (the library takes its
  // close timeout to report it).
  const seen = Promise.withResolvers<Uint8Array>();
  const abort = new AbortController();
  const onAbort = () => abort.abort(opts.signal.reason);
  opts.signal.addEventListener("abort", onAbort, { once: true });
  const tls = {
    verifyPeer: true,
    verifyCallback: (certs: Uint8Array[]) => {
      if (certs.length > 0) seen.resolve(new Uint8Array(certs[0]));
      return Promise.resolve(quic.native.CryptoError.BadCertificate);
    },
  };
  const attempt = createClient({
    ...opts,
    signal: abort.signal,
    verify: { kind: "none" },
    idleTimeoutMs: opts.timeoutMs,
    keepAliveMs: opts.timeoutMs,
  }, tls).then(
    async (client) => {
      await client.destroy({ force: true }).catch(() => {});
      throw new Error("the QUIC server presented no certificate");
    },
  );
  try {
    return await Promise.race([seen.promise, attempt]);
  } finally {
    opts.signal.removeEventListener("abort", onAbort);
    abort.abort(new Error("certificate read"));
    attempt.catch(() => {});
  }
}
