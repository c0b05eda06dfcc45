/**
 * The retransmission client's RTCP APP requests (e.g. `KEYS`) awaiting the
 * cloud's answer of the same name and SSRC: bounded, each with a deadline,
 * re-sent after a reconnect.
 *
 * @module
 */
import { encodeApp, type RtcpApp } from "../rtcp/mod.ts";

interface AppWaiter {
  resolve: (p: RtcpApp | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
  msg: Uint8Array;
}

/** Most APP requests awaiting answers at once. */
export const MAX_APP_PENDING = 1024;

/**
 * APP requests by `NAME:ssrc`.
 *
 * @example Usage
 * ```ts
 * import { AppRequests } from "./app_requests.ts";
 * const apps = new AppRequests();
 * const r = apps.add("KEYS", 0x1234, 1000);
 * if (r) { sendToCloud(r.msg); await r.answer; }
 * function sendToCloud(_msg: Uint8Array) {}
 * apps.closeAll();
 * ```
 */
export class AppRequests {
  #pending = new Map<string, AppWaiter[]>();
  #count = 0;

  /**
   * A new request (subtype 0, no data) named `name` for `ssrc`.
   *
   * @returns The message to send and the answer (`undefined` after
   *   `timeoutMs` or at close), or `undefined` when 1,024 already wait.
   */
  add(
    name: string,
    ssrc: number,
    timeoutMs: number,
  ): { msg: Uint8Array; answer: Promise<RtcpApp | undefined> } | undefined {
    const msg = encodeApp({ subtype: 0, ssrc, name, data: new Uint8Array() });
    if (this.#count >= MAX_APP_PENDING) return undefined;
    const key = `${name}:${ssrc >>> 0}`;
    const answer = new Promise<RtcpApp | undefined>((resolve) => {
      const w: AppWaiter = {
        resolve,
        msg,
        timer: setTimeout(() => this.#done(key, w, undefined), timeoutMs),
      };
      const list = this.#pending.get(key);
      if (list) list.push(w);
      else this.#pending.set(key, [w]);
      this.#count++;
    });
    return { msg, answer };
  }

  /**
   * An APP answer from the cloud: every request of its name and SSRC gets
   * it (data copied).
   *
   * @returns false when nobody waited for it.
   */
  answer(p: RtcpApp): boolean {
    const key = `${p.name}:${p.ssrc >>> 0}`;
    const list = this.#pending.get(key);
    if (!list) return false;
    const answer: RtcpApp = { ...p, data: p.data.slice() };
    for (const w of [...list]) this.#done(key, w, answer);
    return true;
  }

  /** The messages of every request still waiting (to send again). */
  messages(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const list of this.#pending.values()) {
      for (const w of list) out.push(w.msg);
    }
    return out;
  }

  /** Every request resolves `undefined` (the client closes). */
  closeAll(): void {
    for (const [key, list] of [...this.#pending]) {
      for (const w of [...list]) this.#done(key, w, undefined);
    }
  }

  #done(key: string, w: AppWaiter, answer: RtcpApp | undefined): void {
    const list = this.#pending.get(key);
    const i = list ? list.indexOf(w) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.#pending.delete(key);
    this.#count--;
    clearTimeout(w.timer);
    w.resolve(answer);
  }
}
