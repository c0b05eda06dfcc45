/**
 * Retransmission over QUIC (SPEC §6): RFC 4571 framing, TLS material, the
 * cloud's {@linkcode RtxServer} and the edge's {@linkcode RtxClient}, over
 * one small {@linkcode QuicTransport} with two implementations: Deno's
 * built-in QUIC (`native`, default) and `@matrixai/quic` (`matrixai`).
 *
 * @example Usage
 * ```ts ignore
 * import { generateSelfSigned, RtxClient, RtxServer } from "./mod.ts";
 * const tls = await generateSelfSigned();
 * const server = new RtxServer({ port: 0, ...tls, secret: "s", lookup: (ssrc, seq) => undefined });
 * await server.start();
 * const client = new RtxClient({ host: "127.0.0.1", port: server.port, secret: "s", fingerprint: server.fingerprint });
 * const [r] = client.request(1, [7], { timeoutMs: 500 }); // -> { status: "unavailable" }
 * await client.close();
 * await server.stop();
 * ```
 *
 * @module
 */
export {
  FrameDecoder,
  type FrameDecoderOptions,
  frameMessage,
  frameMessages,
  MAX_FRAME_SIZE,
} from "./framing.ts";
export {
  type CertificateBundle,
  DEFAULT_ALT_NAMES,
  fingerprintOf,
  generateSelfSigned,
  loadCertificate,
  normalizeFingerprint,
  pemBlocks,
  type PinTarget,
  pinTarget,
  RTX_SERVER_NAME,
  type SelfSignedOptions,
} from "./cert.ts";
export {
  CLOSE_CODES,
  CLOSE_REASONS,
  DEFAULT_REPAIR_MAX_PPS,
  RTX_ALPN,
  RTX_MAX_REQUESTS_PER_SECOND,
  RTX_MAX_REQUESTS_PER_SECOND_TOTAL,
} from "./protocol.ts";
export {
  QUIC_IMPLS,
  type QuicClientConnection,
  type QuicCloseInfo,
  type QuicConnectOptions,
  type QuicDuplex,
  type QuicImpl,
  type QuicListener,
  type QuicListenOptions,
  type QuicServerConnection,
  type QuicTransport,
  type QuicVerify,
} from "./transport.ts";
export { quicTransport } from "./impls.ts";
export {
  type RtxRequestHandler,
  RtxServer,
  type RtxServerOptions,
  type RtxServerStats,
} from "./server.ts";
export { RtxClient } from "./client.ts";
export type {
  RtxClientOptions,
  RtxClientStats,
  RtxResult,
} from "./client_types.ts";
export {
  type ConnectRetryOptions,
  connectWithRetry,
  type RetryTimers,
} from "./connect_retry.ts";
