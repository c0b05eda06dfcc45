/**
 * SRS-style HTTP callbacks (I/O): POST a JSON event to a URL; an `on_publish`
 * / `on_play` is allowed only on HTTP 2xx with body `0` or `{"code":0}`, and
 * no answer within the timeout refuses (fail closed). Every call runs on
 * its own promise, so a slow hook delays only the publish/play that waits
 * for it. In-flight calls are capped; past the cap a decision is refused
 * and an end notice dropped (both logged by the caller).
 *
 * @module
 */

/** What a hook answered. */
export type HookVerdict =
  | { allowed: true }
  | { allowed: false; reason: string };

/** Options for {@linkcode HookClient}. */
export interface HookClientOptions {
  /** Time allowed for the whole call (connect, answer, body). */
  timeoutMs: number;
  /** Most calls in flight at once; default 256. */
  maxInFlight?: number;
  /** Largest answer body read; default 4096 bytes. */
  maxBodyBytes?: number;
}

/**
 * Reads whether a hook's answer allows: 2xx and a body that is `0` or a JSON
 * object whose `code` is 0 (SRS semantics). Pure.
 *
 * @example Usage
 * ```ts
 * import { verdictOf } from "./hooks.ts";
 * verdictOf(200, '{"code":0}'); // { allowed: true }
 * verdictOf(200, '{"code":1}').allowed; // false
 * ```
 */
export function verdictOf(status: number, body: string): HookVerdict {
  if (status < 200 || status > 299) {
    return { allowed: false, reason: `hook answered HTTP ${status}` };
  }
  const text = body.trim();
  if (text === "0") return { allowed: true };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  if (
    doc !== null && typeof doc === "object" &&
    (doc as { code?: unknown }).code === 0
  ) {
    return { allowed: true };
  }
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return {
    allowed: false,
    reason: `hook answered ${JSON.stringify(shown)} (expected 0 or {"code":0})`,
  };
}

/** Calls hook URLs with a timeout and a cap on calls in flight. */
export class HookClient {
  #timeout: number;
  #max: number;
  #maxBody: number;
  #inFlight = 0;

  /** Creates a client. */
  constructor(options: HookClientOptions) {
    this.#timeout = options.timeoutMs;
    this.#max = options.maxInFlight ?? 256;
    this.#maxBody = options.maxBodyBytes ?? 4096;
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * POSTs `event` as JSON to `url` and reads the verdict. Never rejects: a
   * timeout, a network error, a non-2xx status or a body other than 0 /
   * `{"code":0}` is a refusal with the reason.
   */
  async call(url: string, event: unknown): Promise<HookVerdict> {
    if (this.#inFlight >= this.#max) {
      return {
        allowed: false,
        reason: `too many hook calls in flight (${this.#max})`,
      };
    }
    this.#inFlight++;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.#timeout);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(event),
        signal: ctl.signal,
        redirect: "manual",
      });
      const body = await this.#readBody(res);
      return verdictOf(res.status, body);
    } catch (err) {
      return {
        allowed: false,
        reason: ctl.signal.aborted
          ? `hook gave no answer within ${this.#timeout} ms`
          : `hook failed: ${(err as Error).message}`,
      };
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }

  async #readBody(res: Response): Promise<string> {
    if (!res.body) return "";
    const reader = res.body.getReader();
    const parts: Uint8Array[] = [];
    let n = 0;
    while (n < this.#maxBody) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
    await reader.cancel().catch(() => {});
    const all = new Uint8Array(Math.min(n, this.#maxBody));
    let off = 0;
    for (const p of parts) {
      const take = Math.min(p.length, all.length - off);
      all.set(p.subarray(0, take), off);
      off += take;
    }
    return new TextDecoder().decode(all);
  }
}
