/**
 * Picks a {@linkcode QuicTransport} by name.
 *
 * @module
 */
import { matrixaiTransport } from "./matrixai.ts";
import { nativeTransport } from "./native.ts";
import type { QuicImpl, QuicTransport } from "./transport.ts";

/**
 * The transport named `impl` (`native` when absent).
 *
 * @param impl `native` or `matrixai`.
 * @returns The implementation.
 */
export function quicTransport(impl: QuicImpl = "native"): QuicTransport {
  return impl === "matrixai" ? matrixaiTransport : nativeTransport;
}
