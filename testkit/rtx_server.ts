/**
 * A repair server (lib/quic's `RtxServer`) on loopback for tests and the
 * bench: any free port of 127.0.0.1 and a self-signed certificate unless
 * the options say otherwise.
 *
 * @module
 */
import {
  type CertificateBundle,
  generateSelfSigned,
  RtxServer,
  type RtxServerOptions,
} from "../lib/quic/mod.ts";

/** Options for {@linkcode startRtxServer}. */
export type LoopbackRtxOptions =
  & Partial<RtxServerOptions>
  & Pick<RtxServerOptions, "lookup" | "secret">;

/**
 * Starts a repair server on 127.0.0.1 (port 0 unless given) with `tls`
 * (default a new self-signed certificate); `opts` override the rest.
 *
 * @example Usage
 * ```ts ignore
 * const server = await startRtxServer({ secret: "s", lookup: () => undefined });
 * ```
 */
export async function startRtxServer(
  opts: LoopbackRtxOptions,
  tls?: CertificateBundle,
): Promise<RtxServer> {
  const cert = tls ?? await generateSelfSigned();
  const server = new RtxServer({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    ...opts,
  });
  await server.start();
  return server;
}
