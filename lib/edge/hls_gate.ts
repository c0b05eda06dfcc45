/**
 * Play access for HLS viewers. A player polls, so the signed-URL check
 * (`auth.play`) runs on every request, while the hooks run once per viewer
 * session: the first request of a client address for a stream calls
 * `hooks.on_play` (the request waits for the verdict; a refusal is 403), and
 * a session without requests for `idleMs` ends with `hooks.on_stop`
 * (duration, bytes 0). Sessions are tracked only when a play hook is set,
 * and bounded: `maxSessions` in all, `maxSessionsPerIp` from one address
 * (an IPv6 /64); past either a new viewer gets 503, counted in `refusals`.
 *
 * @module
 */
import { type AccessControl, httpAccessRequest } from "../auth/mod.ts";
import type { AccessRequest } from "../auth/mod.ts";
import { ConnectionCaps, type Refusals } from "../limits/mod.ts";

/** Options of an {@linkcode HlsPlayGate}. */
export interface HlsPlayGateOptions {
  /** The edge's access decision; undefined = everything is allowed. */
  access: AccessControl | undefined;
  /** Whether `on_play` / `on_stop` are set (sessions are tracked then). */
  hooks: boolean;
  /** A session without requests this long has ended (default 30 s). */
  idleMs?: number;
  /** Most viewer sessions at once (default 10,000). */
  maxSessions?: number;
  /** Most viewer sessions of one address, IPv6 per /64 (default 64; the
   * edge passes `edge.max_connections_per_ip`). */
  maxSessionsPerIp?: number;
  /** Where a refused new session is counted (`hls_sessions`,
   * `hls_sessions_per_ip`). */
  refusals?: Refusals;
  /** Monotonic clock in ms (tests). */
  now?: () => number;
}

interface Session {
  req: AccessRequest;
  startedAt: number;
  lastAt: number;
  /** The on_play verdict while it is pending, then settled. */
  verdict: Promise<string | undefined>;
  /** Its place under the caps. */
  release(): void;
}

const CORS = { "access-control-allow-origin": "*" };

/**
 * The HLS play gate (see the module doc).
 *
 * @example Usage
 * ```ts ignore
 * const gate = new HlsPlayGate({ access, hooks: true });
 * const refusal = await gate.check(req, "live/movie", remote);
 * gate.close(); // ends every session (on_stop)
 * ```
 */
export class HlsPlayGate {
  #access: AccessControl | undefined;
  #hooks: boolean;
  #idleMs: number;
  #caps: ConnectionCaps;
  #refusals: Refusals | undefined;
  #now: () => number;
  #sessions = new Map<string, Session>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A gate with no sessions. */
  constructor(options: HlsPlayGateOptions) {
    this.#access = options.access;
    this.#hooks = options.hooks;
    this.#idleMs = options.idleMs ?? 30_000;
    this.#caps = new ConnectionCaps({
      maxTotal: options.maxSessions ?? 10_000,
      maxPerAddress: options.maxSessionsPerIp ?? 64,
    });
    this.#refusals = options.refusals;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Viewer sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * Whether `req` for stream `key` may be served: undefined = yes, else the
   * refusal to send (403, or 503 past `maxSessions`).
   */
  check(
    req: Request,
    key: string,
    remote?: Deno.NetAddr,
  ): Response | undefined | Promise<Response | undefined> {
    const access = this.#access;
    if (!access || req.method === "OPTIONS") return undefined;
    const ar = httpAccessRequest(new URL(req.url), key, remote, "hls", 0);
    const why = access.checkSignOnly("play", ar);
    if (why !== undefined) return refuse(403, why);
    if (!this.#hooks) return undefined;
    const id = `${ar.clientIp} ${key}`;
    const now = this.#now();
    let s = this.#sessions.get(id);
    if (s === undefined) {
      const slot = this.#caps.admit(ar.clientIp);
      if (typeof slot === "string") {
        const reason = slot === "max_connections"
          ? "hls_sessions"
          : "hls_sessions_per_ip";
        this.#refusals?.refuse(
          reason,
          "hls viewer refused: too many sessions",
          {
            key,
            remote: ar.remote,
          },
        );
        return refuse(503, `too many HLS viewers (${reason})`);
      }
      ar.clientId = id;
      // checkSignOnly passed above; checkPlay repeats it, then asks on_play.
      s = {
        req: ar,
        startedAt: now,
        lastAt: now,
        verdict: access.checkPlay(ar),
        release: slot.release,
      };
      this.#sessions.set(id, s);
      const session = s;
      session.verdict.then((v) => {
        // A refused viewer has no session: its next request asks again.
        if (v !== undefined && this.#sessions.get(id) === session) {
          this.#sessions.delete(id);
          session.release();
        }
      });
      this.#timer ??= setInterval(() => this.sweep(), 1000);
    }
    s.lastAt = now;
    return s.verdict.then((v) => v === undefined ? undefined : refuse(403, v));
  }

  /** Ends the sessions idle for `idleMs` (on_stop). */
  sweep(): void {
    const now = this.#now();
    for (const [id, s] of this.#sessions) {
      if (now - s.lastAt >= this.#idleMs) this.#end(id, s, now);
    }
    this.#stopTimerIfIdle();
  }

  /** Ends every session (on_stop) and the timer. */
  close(): void {
    const now = this.#now();
    for (const [id, s] of this.#sessions) this.#end(id, s, now);
    this.#stopTimerIfIdle();
  }

  #end(id: string, s: Session, now: number): void {
    this.#sessions.delete(id);
    s.release();
    void s.verdict.then((v) => {
      if (v === undefined) {
        this.#access?.ended("play", s.req, {
          durationMs: now - s.startedAt,
          bytes: 0,
        });
      }
    });
  }

  #stopTimerIfIdle(): void {
    if (this.#sessions.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

function refuse(status: number, why: string): Response {
  return new Response(`${why}\n`, {
    status,
    headers: { ...CORS, "content-type": "text/plain; charset=utf-8" },
  });
}
