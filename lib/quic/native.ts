/**
 * Deno's built-in QUIC (quinn + rustls; `Deno.QuicEndpoint`,
 * `Deno.connectQuic`) as a {@linkcode QuicTransport}: the default.
 *
 * Deno's client has no certificate-verification callback, only trust roots.
 * Pinning (`pin`) and `none` therefore first read the server's certificate
 * with a handshake that stops at verification ({@linkcode peerCertificate},
 * through `@matrixai/quic`, once per server and process), check its
 * fingerprint (`pin`), and then trust exactly that certificate as the only
 * root, verified against one of its own subjectAltNames.
 *
 * @module
 */
import { fingerprintOf, normalizeFingerprint, pinTarget } from "./cert.ts";
import type { PinTarget } from "./cert.ts";
import {
  errorText,
  type QuicClientConnection,
  type QuicCloseInfo,
  type QuicConnectOptions,
  type QuicListener,
  type QuicListenOptions,
  type QuicTransport,
} from "./transport.ts";

/**
 * quinn's BBR: keeps a repair channel alive under random loss, where Cubic
 * ("default", "throughput") reads every lost packet as congestion.
 */
const CONGESTION_CONTROL = "low-latency";

function closedInfo(conn: Deno.QuicConn): Promise<QuicCloseInfo> {
  return conn.closed.then(
    (i) => ({ code: i.closeCode, reason: i.reason }),
    (e) => ({ code: -1, reason: errorText(e) }),
  );
}

function closeConn(conn: Deno.QuicConn, code: number, reason: string) {
  try {
    conn.close({ closeCode: code, reason });
  } catch {
    // Already closed.
  }
  return Promise.resolve();
}

function remoteOf(conn: Deno.QuicConn): string {
  const a = conn.remoteAddr;
  return `${a.hostname}:${a.port}`;
}

function listen(opts: QuicListenOptions): Promise<QuicListener> {
  const endpoint = new Deno.QuicEndpoint({
    hostname: opts.hostname,
    port: opts.port,
  });
  const serverConfig: Deno.QuicListenOptions = {
    alpnProtocols: [opts.alpn],
    cert: opts.certPem,
    key: opts.keyPem,
    maxIdleTimeout: opts.idleTimeoutMs,
    maxConcurrentBidirectionalStreams: 4,
    maxConcurrentUnidirectionalStreams: 0,
    congestionControl: CONGESTION_CONTROL,
  };
  let listener: Deno.QuicListener;
  try {
    listener = endpoint.listen(serverConfig);
  } catch (e) {
    endpoint.close();
    throw e;
  }
  let paused = false;
  const conns = new Set<Deno.QuicConn>();
  const handshakes = new Set<Promise<void>>();
  const accept = async (incoming: Deno.QuicIncoming) => {
    let conn: Deno.QuicConn;
    try {
      conn = await incoming.accept();
    } catch (e) {
      // A refused or broken handshake (e.g. a client checking our
      // certificate) concerns that client only.
      opts.logger.debug("QUIC handshake failed", { error: errorText(e) });
      return;
    }
    if (paused) return void closeConn(conn, 0, "shutting down");
    conns.add(conn);
    const closed = closedInfo(conn);
    closed.then(() => conns.delete(conn));
    opts.onConnection({
      remote: remoteOf(conn),
      streams: conn.incomingBidirectionalStreams,
      closed,
      close: (code, reason) => closeConn(conn, code, reason),
    });
  };
  // One accept loop for the endpoint's whole life: a listener made again
  // after a pause shares the endpoint's queue of incoming connections.
  const loop = (async () => {
    try {
      for await (const incoming of listener) {
        if (paused) {
          incoming.refuse();
          continue;
        }
        // Handshakes run concurrently: a slow one does not stall the rest.
        const p = accept(incoming);
        handshakes.add(p);
        p.finally(() => handshakes.delete(p));
      }
    } catch (e) {
      opts.logger.debug("QUIC listener ended", { error: errorText(e) });
    }
  })();
  const closeAll = async () => {
    for (const c of conns) closeConn(c, 0, "shutting down");
    await Promise.allSettled([...handshakes]);
  };
  return Promise.resolve({
    port: endpoint.addr.port,
    async pause() {
      paused = true;
      listener.stop();
      await closeAll();
    },
    resume() {
      if (!paused) return Promise.resolve();
      paused = false;
      endpoint.listen(serverConfig);
      return Promise.resolve();
    },
    async close() {
      paused = true;
      await closeAll();
      endpoint.close({ closeCode: 0, reason: "shutting down" });
      await loop;
    },
  });
}

/** Certificates read from servers, by `host:port` (see the module doc). */
const seen = new Map<string, { der: Uint8Array; fingerprint: string }>();

async function pinFor(opts: QuicConnectOptions): Promise<PinTarget> {
  const key = `${opts.host}:${opts.port}`;
  let cert = seen.get(key);
  if (!cert) {
    const t0 = performance.now();
    // @matrixai/quic (~10 MiB of heap) loads at the first connection.
    const { peerCertificate } = await import("./matrixai.ts");
    const der = await peerCertificate(opts);
    cert = { der, fingerprint: await fingerprintOf(der) };
    seen.set(key, cert);
    opts.logger.debug("read the QUIC server's certificate", {
      server: key,
      fingerprint: cert.fingerprint,
      ms: Math.round(performance.now() - t0),
    });
  }
  if (opts.verify.kind === "pin") {
    const pinned = normalizeFingerprint(opts.verify.fingerprint);
    if (cert.fingerprint !== pinned) {
      seen.delete(key);
      throw new Error(
        `certificate fingerprint mismatch: expected ${pinned}, received ${cert.fingerprint}`,
      );
    }
  }
  return pinTarget(cert.der);
}

async function connect(
  opts: QuicConnectOptions,
): Promise<QuicClientConnection> {
  let caCerts: string[];
  let serverName: string | undefined;
  if (opts.verify.kind === "ca") {
    caCerts = [opts.verify.caPem];
  } else {
    const pin = await pinFor(opts);
    caCerts = [pin.certPem];
    serverName = pin.serverName;
  }
  opts.signal.throwIfAborted();
  const attempt: Promise<Deno.QuicConn> = Deno.connectQuic<false>({
    hostname: opts.host,
    port: opts.port,
    alpnProtocols: [opts.alpn],
    caCerts,
    serverName,
    maxIdleTimeout: opts.idleTimeoutMs,
    keepAliveInterval: Math.min(opts.keepAliveMs, opts.idleTimeoutMs - 1),
    maxConcurrentBidirectionalStreams: 0,
    maxConcurrentUnidirectionalStreams: 0,
    congestionControl: CONGESTION_CONTROL,
    zeroRtt: false,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  let conn: Deno.QuicConn;
  try {
    conn = await Promise.race([
      attempt,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`QUIC handshake timed out after ${opts.timeoutMs} ms`),
            ),
          opts.timeoutMs,
        );
        onAbort = () => reject(opts.signal.reason);
        opts.signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } catch (e) {
    // A late connection is closed at once.
    attempt.then((c) => closeConn(c, 0, "gave up"), () => {});
    // The server may have a new certificate: read it again next time.
    if (opts.verify.kind !== "ca") seen.delete(`${opts.host}:${opts.port}`);
    throw e;
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal.removeEventListener("abort", onAbort);
  }
  return {
    remote: remoteOf(conn),
    closed: closedInfo(conn),
    openStream: () => conn.createBidirectionalStream(),
    close: (code, reason) => closeConn(conn, code, reason),
  };
}

/** Deno's built-in QUIC. */
export const nativeTransport: QuicTransport = {
  impl: "native",
  listen,
  connect,
};
