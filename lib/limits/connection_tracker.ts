/**
 * Which open HTTP connections to end (pure): a connection with no request
 * in flight whose last activity (accepted, or its last response finished)
 * is `idleMs` old — a slow or silent client that never completes a request
 * head, or an idle keep-alive connection — and, past `maxPerIp`, the
 * newest idle connections of an address (IPv6: of a /64). Upgraded connections (WebSocket)
 * are left to their own rules.
 *
 * @module
 */
import { ipCapKey } from "./ip_key.ts";

/** Options for {@linkcode ConnectionTracker}. */
export interface ConnectionTrackerOptions {
  /** Idle time after which a connection without a request is ended. */
  idleMs: number;
  /** Most connections from one IP; default unlimited. */
  maxPerIp?: number;
}

interface Conn {
  ip: string;
  firstSeen: number;
  lastActive: number;
  inFlight: number;
  upgraded: boolean;
}

/** The per-IP cap key of `ip:port` / `[v6]:port` (an IPv6 /64). */
function ipOf(peer: string): string {
  const i = peer.lastIndexOf(":");
  return ipCapKey(
    (i < 0 ? peer : peer.slice(0, i)).replace(/^\[|\]$/g, ""),
  );
}

/**
 * Tracks HTTP connections by peer (`ip:port`) and says which to end.
 *
 * @example Usage
 * ```ts
 * import { ConnectionTracker } from "./connection_tracker.ts";
 * const t = new ConnectionTracker({ idleMs: 10_000 });
 * t.sweep(["10.0.0.1:5000"], 0); // [] — just seen
 * t.sweep(["10.0.0.1:5000"], 10_000); // ["10.0.0.1:5000"] — no request in 10 s
 * // (returned again by later sweeps until the connection is gone)
 * ```
 */
export class ConnectionTracker {
  #idle: number;
  #maxPerIp: number;
  #conns = new Map<string, Conn>();

  /** Creates an empty tracker. */
  constructor(options: ConnectionTrackerOptions) {
    this.#idle = options.idleMs;
    this.#maxPerIp = options.maxPerIp ?? Infinity;
  }

  /** Connections tracked. */
  get size(): number {
    return this.#conns.size;
  }

  #get(peer: string, now: number): Conn {
    let c = this.#conns.get(peer);
    if (!c) {
      c = {
        ip: ipOf(peer),
        firstSeen: now,
        lastActive: now,
        inFlight: 0,
        upgraded: false,
      };
      this.#conns.set(peer, c);
    }
    return c;
  }

  /** A request head arrived on `peer` (it is in flight until `end`). */
  begin(peer: string, now: number, upgrade = false): void {
    const c = this.#get(peer, now);
    c.inFlight++;
    if (upgrade) c.upgraded = true;
  }

  /** The response to a request of `peer` finished. */
  end(peer: string, now: number): void {
    const c = this.#conns.get(peer);
    if (!c) return;
    c.inFlight = Math.max(0, c.inFlight - 1);
    c.lastActive = now;
  }

  /**
   * Given the peers of the connections open now, forgets the closed ones
   * and returns the peers to end, each with its reason.
   */
  sweep(open: Iterable<string>, now: number): string[] {
    const live = new Set(open);
    for (const peer of this.#conns.keys()) {
      if (!live.has(peer)) this.#conns.delete(peer);
    }
    for (const peer of live) this.#get(peer, now);
    const out: string[] = [];
    const perIp = new Map<string, [string, Conn][]>();
    for (const [peer, c] of this.#conns) {
      if (c.upgraded) continue;
      const idle = c.inFlight === 0;
      if (idle && now - c.lastActive >= this.#idle) {
        out.push(peer);
        continue;
      }
      let list = perIp.get(c.ip);
      if (!list) perIp.set(c.ip, list = []);
      list.push([peer, c]);
    }
    if (this.#maxPerIp !== Infinity) {
      for (const list of perIp.values()) {
        if (list.length <= this.#maxPerIp) continue;
        // Newest idle first: what a flood opened last and has not used.
        const idle = list.filter(([, c]) => c.inFlight === 0)
          .sort((a, b) => b[1].firstSeen - a[1].firstSeen);
        for (const [peer] of idle.slice(0, list.length - this.#maxPerIp)) {
          out.push(peer);
        }
      }
    }
    return out;
  }
}
