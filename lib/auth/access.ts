/**
 * The one publish/play access decision every route calls (cloud RTMP
 * publish and play, edge HTTP-FLV, WebSocket-FLV and HLS): the signed-URL
 * check (`auth.*`), then the HTTP hook (`hooks.on_publish` / `on_play`);
 * and the end notices (`on_unpublish` / `on_stop`). Refusals are counted
 * and logged once per interval through {@linkcode Refusals}.
 *
 * @module
 */
import type { Refusals } from "../limits/mod.ts";
import type { Logger } from "../log/mod.ts";
import { VERSION } from "../version/mod.ts";
import { HookClient } from "./hooks.ts";
import { checkSign } from "./sign.ts";

/** Settings of {@linkcode AccessControl} (the `auth:` and `hooks:` keys). */
export interface AccessOptions {
  /** Signing secret. */
  secret: string;
  /** Publishing needs a valid `sign`. */
  publish: boolean;
  /** Playing needs a valid `sign`. */
  play: boolean;
  /** Hook URLs; empty = off. */
  hooks: {
    on_publish: string;
    on_unpublish: string;
    on_play: string;
    on_stop: string;
    timeout_ms: number;
  };
  /** `cloud` or `edge`, sent to hooks as `server.role`. */
  role: string;
  /** Where refusals are counted. */
  refusals: Refusals;
  /** Logger for hook failures of end notices. */
  logger: Logger;
}

/** Who asks, for what. */
export interface AccessRequest {
  /** Stream key `app/name` (query stripped), e.g. `live/movie`. */
  key: string;
  /** The query string (without `?`), e.g. `sign=…&token=…`. */
  query: string;
  /** The client's IP address. */
  clientIp: string;
  /** The client's address `host:port` (for logs). */
  remote: string;
  /** A per-connection id (RTMP connection number, HTTP request id). */
  clientId: string | number;
  /** `rtmp`, `rtmps`, `http-flv`, `ws-flv`, `hls`… */
  proto: string;
}

/** What an ended publish/play carried, for `on_unpublish` / `on_stop`. */
export interface AccessUsage {
  /** How long it lasted (ms). */
  durationMs: number;
  /** Bytes received (publish) or sent (play). */
  bytes: number;
}

/** The access decision for publishes and plays. */
export class AccessControl {
  #o: AccessOptions;
  #hooks: HookClient;

  /** Creates the decision from the config. */
  constructor(options: AccessOptions) {
    this.#o = options;
    this.#hooks = new HookClient({ timeoutMs: options.hooks.timeout_ms });
  }

  /**
   * Whether a decision needs no I/O (no hook configured for it): then
   * {@linkcode checkPublish} / {@linkcode checkPlay} resolve in the same
   * microtask and callers may stay synchronous through
   * {@linkcode checkSignOnly}.
   */
  needsHook(kind: "publish" | "play"): boolean {
    return (kind === "publish"
      ? this.#o.hooks.on_publish
      : this.#o.hooks.on_play) !== "";
  }

  /**
   * The synchronous part: the signed-URL check. Returns a refusal reason
   * (counted and logged) or `undefined`.
   */
  checkSignOnly(
    kind: "publish" | "play",
    req: AccessRequest,
  ): string | undefined {
    const needed = kind === "publish" ? this.#o.publish : this.#o.play;
    if (!needed) return undefined;
    const why = checkSign({
      key: req.key,
      query: req.query,
      secret: this.#o.secret,
    });
    if (why === undefined) return undefined;
    this.#o.refusals.refuse(
      `${kind}_auth`,
      `${kind} refused: ${why}`,
      { key: req.key, remote: req.remote, proto: req.proto },
    );
    return `${kind} refused: ${why}`;
  }

  /** May `req` publish? `undefined` = yes, else the reason. */
  checkPublish(req: AccessRequest): Promise<string | undefined> {
    return this.#check("publish", req);
  }

  /**
   * May `req` play? `undefined` = yes, else the reason (HTTP routes answer
   * 403 with it, RTMP sends `NetStream.Play.Failed`).
   */
  checkPlay(req: AccessRequest): Promise<string | undefined> {
    return this.#check("play", req);
  }

  async #check(
    kind: "publish" | "play",
    req: AccessRequest,
  ): Promise<string | undefined> {
    const signed = this.checkSignOnly(kind, req);
    if (signed !== undefined) return signed;
    const url = kind === "publish"
      ? this.#o.hooks.on_publish
      : this.#o.hooks.on_play;
    if (!url) return undefined;
    const verdict = await this.#hooks.call(url, this.#event(`on_${kind}`, req));
    if (verdict.allowed) return undefined;
    this.#o.refusals.refuse(
      `${kind}_hook`,
      `${kind} refused by hooks.on_${kind}: ${verdict.reason}`,
      { key: req.key, remote: req.remote, proto: req.proto },
    );
    return `${kind} refused: ${verdict.reason}`;
  }

  /**
   * Tells `on_unpublish` / `on_stop` (when set) that a publish/play ended.
   * Fire and forget: one try, a failure is logged, never retried.
   */
  ended(
    kind: "publish" | "play",
    req: AccessRequest,
    usage: AccessUsage,
  ): void {
    const action = kind === "publish" ? "on_unpublish" : "on_stop";
    const url = this.#o.hooks[action];
    if (!url) return;
    const event = {
      ...this.#event(action, req),
      duration_ms: Math.round(usage.durationMs),
      bytes: usage.bytes,
    };
    void this.#hooks.call(url, event).then((v) => {
      // The answer of an end notice decides nothing; only failures matter.
      if (!v.allowed && !/^hook answered "/.test(v.reason)) {
        this.#o.refusals.refuse(
          `${action}_failed`,
          `hooks.${action} failed (not retried)`,
          { key: req.key, reason: v.reason },
        );
      }
    });
  }

  #event(action: string, req: AccessRequest): Record<string, unknown> {
    const slash = req.key.indexOf("/");
    return {
      action,
      app: slash < 0 ? "" : req.key.slice(0, slash),
      stream: slash < 0 ? req.key : req.key.slice(slash + 1),
      param: req.query ? `?${req.query}` : "",
      client_ip: req.clientIp,
      client_id: String(req.clientId),
      proto: req.proto,
      server: { role: this.#o.role, version: VERSION, name: "flvcast" },
    };
  }
}

/**
 * The {@linkcode AccessRequest} of an HTTP play request (HTTP-FLV, WS-FLV,
 * HLS): the key, the URL's query, the client address.
 *
 * @example Usage
 * ```ts
 * import { httpAccessRequest } from "./access.ts";
 * const r = httpAccessRequest(new URL("http://e/live/a.flv?sign=1-x"), "live/a",
 *   { hostname: "10.0.0.1", port: 5000, transport: "tcp" }, "http-flv", 7);
 * r.query; // "sign=1-x"
 * ```
 */
export function httpAccessRequest(
  url: URL,
  key: string,
  remote: Deno.NetAddr | undefined,
  proto: string,
  clientId: number | string,
): AccessRequest {
  const ip = remote?.hostname ?? "";
  return {
    key,
    query: url.search.replace(/^\?/, ""),
    clientIp: ip,
    remote: remote ? `${ip}:${remote.port}` : "?",
    clientId,
    proto,
  };
}
