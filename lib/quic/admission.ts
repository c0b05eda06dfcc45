/**
 * Who may hold a connection to the retransmission server: two pools
 * (connections still waiting for AUTH, and authenticated ones) and a
 * per-address back-off after repeated AUTH failures. Pure: the caller passes
 * the pool sizes and the time.
 *
 * @module
 */

/** Options for {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Whether connections must authenticate (a secret is set). */
  needsAuth: boolean;
  /** Concurrent authenticated connections. Default 256. */
  maxConnections?: number;
  /** Concurrent connections waiting for AUTH. Default 32. */
  maxUnauthenticated?: number;
  /** AUTH failures of one address before it backs off. Default 5. */
  maxAuthFailuresPerAddress?: number;
  /** Addresses remembered at most (oldest forgotten first). Default 4096. */
  maxAddresses?: number;
}

/** Why a new connection is refused. */
export type Refusal = "backoff" | "unauthenticated" | "full";

/** Human words for each {@linkcode Refusal}, for logs and close reasons. */
export const REFUSAL_REASONS: Readonly<Record<Refusal, string>> = {
  backoff: "address backing off after AUTH failures",
  unauthenticated: "too many connections waiting for AUTH",
  full: "too many connections",
};

/** AUTH failures of one address and until when it is refused. */
interface AddressRecord {
  failures: number;
  blockedUntil: number;
  backoffMs: number;
}

/**
 * Admission decisions of the server. A back-off starts at the
 * `maxAuthFailuresPerAddress`-th failure and doubles (1 s up to 60 s) with
 * each further one; a successful AUTH forgets the address.
 *
 * @example Usage
 * ```ts
 * import { Admission } from "./admission.ts";
 * const a = new Admission({ needsAuth: true, maxAuthFailuresPerAddress: 1 });
 * a.failed("10.0.0.9", 0);
 * a.check("10.0.0.9", 500, { authed: 0, unauthenticated: 0 }); // "backoff"
 * ```
 */
export class Admission {
  #opts: AdmissionOptions;
  #addresses = new Map<string, AddressRecord>();

  /** Creates the policy. */
  constructor(opts: AdmissionOptions) {
    this.#opts = opts;
  }

  /** Most authenticated connections. */
  get maxConnections(): number {
    return this.#opts.maxConnections ?? 256;
  }

  /**
   * Decides on a new connection from `host` at `now` (ms, wall clock) given
   * the connections held now; `undefined` admits it.
   */
  check(
    host: string,
    now: number,
    held: { authed: number; unauthenticated: number },
  ): Refusal | undefined {
    if (!this.#opts.needsAuth) {
      return held.authed >= this.maxConnections ? "full" : undefined;
    }
    const rec = this.#addresses.get(host);
    if (rec && rec.blockedUntil > now) return "backoff";
    if (held.unauthenticated >= (this.#opts.maxUnauthenticated ?? 32)) {
      return "unauthenticated";
    }
    return held.authed >= this.maxConnections ? "full" : undefined;
  }

  /** Whether one more connection may become authenticated. */
  canAuthenticate(authed: number): boolean {
    return authed < this.maxConnections;
  }

  /** Counts an AUTH failure of `host` at `now`; past the limit it backs off. */
  failed(host: string, now: number): void {
    let rec = this.#addresses.get(host);
    if (!rec) {
      if (this.#addresses.size >= (this.#opts.maxAddresses ?? 4096)) {
        this.#addresses.delete(this.#addresses.keys().next().value!);
      }
      rec = { failures: 0, blockedUntil: 0, backoffMs: 0 };
      this.#addresses.set(host, rec);
    }
    rec.failures++;
    if (rec.failures >= (this.#opts.maxAuthFailuresPerAddress ?? 5)) {
      rec.backoffMs = Math.min(60_000, Math.max(1000, rec.backoffMs * 2));
      rec.blockedUntil = now + rec.backoffMs;
    }
  }

  /** Forgets `host`'s failures (it authenticated). */
  succeeded(host: string): void {
    this.#addresses.delete(host);
  }
}

/** The address part of `host:port` / `[v6]:port`. */
export function hostOf(remote: string): string {
  const i = remote.lastIndexOf(":");
  const h = i > 0 ? remote.slice(0, i) : remote;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}
