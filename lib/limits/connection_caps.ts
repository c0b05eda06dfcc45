/**
 * Admission of connections under a total cap and a per-address cap (pure
 * bookkeeping: the caller accepts or closes the socket).
 *
 * @module
 */
import { ipCapKey } from "./ip_key.ts";

/** Options for {@linkcode ConnectionCaps}. */
export interface ConnectionCapsOptions {
  /** Most connections open at once (all addresses); default unlimited. */
  maxTotal?: number;
  /** Most connections open at once from one address; default unlimited. */
  maxPerAddress?: number;
}

/** Why a connection was not admitted. */
export type CapRefusal = "max_connections" | "max_connections_per_ip";

/**
 * Counts open connections, in total and per remote address.
 *
 * @example Usage
 * ```ts
 * import { ConnectionCaps } from "./connection_caps.ts";
 * const caps = new ConnectionCaps({ maxPerAddress: 1 });
 * const a = caps.admit("10.0.0.1"); // { release }
 * caps.admit("10.0.0.1"); // "max_connections_per_ip"
 * if (typeof a === "object") a.release();
 * ```
 */
export class ConnectionCaps {
  #maxTotal: number;
  #maxPer: number;
  #total = 0;
  #per = new Map<string, number>();

  /** Creates caps; a missing cap is unlimited. */
  constructor(options: ConnectionCapsOptions = {}) {
    this.#maxTotal = options.maxTotal ?? Infinity;
    this.#maxPer = options.maxPerAddress ?? Infinity;
  }

  /** Connections open now. */
  get total(): number {
    return this.#total;
  }

  /** Connections open now from `address` (its /64 for IPv6). */
  from(address: string): number {
    return this.#per.get(ipCapKey(address)) ?? 0;
  }

  /**
   * Admits one connection from `address` (an IP, no port; IPv6 addresses
   * of one /64 share a count, see {@linkcode ipCapKey}), or says which cap
   * refuses it. `release()` (idempotent) gives the slot back.
   */
  admit(ip: string): { release(): void } | CapRefusal {
    if (this.#total >= this.#maxTotal) return "max_connections";
    const address = ipCapKey(ip);
    const n = this.#per.get(address) ?? 0;
    if (n >= this.#maxPer) return "max_connections_per_ip";
    this.#total++;
    this.#per.set(address, n + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#per.get(address) ?? 1) - 1;
        if (left === 0) this.#per.delete(address);
        else this.#per.set(address, left);
      },
    };
  }
}
