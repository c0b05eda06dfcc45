/**
 * Picks a {@linkcode QuicTransport} by name.
 *
 * @module
 */
import { nativeTransport } from "./native.ts";
import type { QuicImpl, QuicTransport } from "./transport.ts";

/** `@matrixai/quic` (~10 MiB of heap), loaded when first used. */
const matrixaiTransport: QuicTransport = {
  impl: "matrixai",
  listen: async (opts) =>
    (await import("./matrixai.ts")).matrixaiTransport.listen(opts),
  connect: async (opts) =>
    (await import("./matrixai.ts")).matrixaiTransport.connect(opts),
};

/**
 * The transport named `impl` (`native` when absent).
 *
 * @param impl `native` or `matrixai`.
 * @returns The implementation.
 */
export function quicTransport(impl: QuicImpl = "native"): QuicTransport {
  return impl === "matrixai" ? matrixaiTransport : nativeTransport;
}
