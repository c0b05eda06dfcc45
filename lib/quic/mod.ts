/**
 * Retransmission over QUIC (SPEC §6): RFC 4571 framing, TLS material, the
 * cloud's {@linkcode RtxServer} and the edge's {@linkcode RtxClient}.
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
  type SelfSignedOptions,
} from "./cert.ts";
export { CLOSE_CODES, RTX_ALPN } from "./shim.ts";
export {
  RtxServer,
  type RtxServerOptions,
  type RtxServerStats,
} from "./server.ts";
export {
  RtxClient,
  type RtxClientOptions,
  type RtxClientStats,
  type RtxResult,
} from "./client.ts";
