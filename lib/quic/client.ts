/**
 * The edge side of retransmission: one QUIC connection and one stream to the
 * cloud, Generic NACKs out, RTP packets and NAVLs back (SPEC §6).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger, RateLimitedLog } from "../log/mod.ts";
import {
  encodeApp,
  encodeAuth,
  encodeNack,
  encodeRepairMode,
  MAX_REPAIR_COPIES,
  orderSeqs,
  parseNavl,
  parseRtcp,
  type RtcpApp,
} from "../rtcp/mod.ts";
import { normalizeFingerprint } from "./cert.ts";
import { FrameDecoder, frameMessage, frameMessages } from "./framing.ts";
import { answerSources, UdpAnswerReceiver } from "./udp_answers.ts";
import { quicTransport } from "./impls.ts";
import { CLOSE_REASONS, looksLikeRtcp, RTX_ALPN } from "./protocol.ts";
import {
  errorText,
  type QuicClientConnection,
  type QuicDuplex,
  type QuicImpl,
  type QuicVerify,
  within,
} from "./transport.ts";

/** The outcome of asking for one packet. */
export type RtxResult =
  | {
    status: "ok";
    packet: Uint8Array;
    /**
     * Request → answer time, when this packet was asked for exactly once
     * (Karn's rule: an answer to a repeated request is ambiguous), or from
     * the first request when the link has no estimate yet.
     */
    rttMs?: number;
  }
  | { status: "unavailable" }
  | { status: "timeout" };

/** Options for {@linkcode RtxClient}. */
export interface RtxClientOptions {
  /** Cloud address (IP literal or name). */
  host: string;
  /** Cloud QUIC port. */
  port: number;
  /** Shared secret sent in the `AUTH` first message; empty/absent: no AUTH. */
  secret?: string;
  /**
   * Pinned SHA-256 fingerprint of the cloud certificate (hex, colons
   * allowed). Takes precedence over `caPem`.
   */
  fingerprint?: string;
  /** CA certificate(s) PEM to verify the cloud with (host name checked too). */
  caPem?: string;
  /** Skip verification; an explicit, logged choice. */
  insecureSkipVerify?: boolean;
  /** Logger; default silent. */
  logger?: Logger;
  /** Most sequence numbers awaiting an answer; beyond, the oldest time out. Default 16384. */
  maxOutstanding?: number;
  /** QUIC idle timeout: a dead cloud is noticed after this. Default 5000 ms. */
  idleTimeoutMs?: number;
  /** Keep-alive PING interval (below `idleTimeoutMs`). Default 1000 ms. */
  keepAliveMs?: number;
  /** Handshake deadline (below `idleTimeoutMs`). Default 3000 ms. */
  connectTimeoutMs?: number;
  /** First reconnect delay; doubles per failure. Default 50 ms. */
  backoffInitialMs?: number;
  /** Reconnect delay cap. Default 2000 ms. */
  backoffMaxMs?: number;
  /** SSRC put in NACKs as packet sender; default random. */
  senderSsrc?: number;
  /**
   * Ask the cloud (`RMOD`, after `AUTH`) to send answers as UDP datagrams to
   * a socket of ours instead of on the stream: no head-of-line blocking and
   * no congestion window between answers, and `copies` of each answer so a
   * lossy path rarely loses all. Absent: answers on the stream (SPEC §6).
   */
  udpAnswers?: {
    /** Local address of the answer socket (default `0.0.0.0`). */
    hostname?: string;
    /** Its port (default 0 = any free one). */
    port?: number;
    /** Copies of each answer, 1..8 (default 1; see `setAnswerCopies`). */
    copies?: number;
    /** Milliseconds between copies (default 5). */
    spacingMs?: number;
  };
  /** QUIC implementation; default `native` (Deno's built-in QUIC). */
  impl?: QuicImpl;
}

/** Counters for `/metrics`. */
export interface RtxClientStats {
  /** Successful connections (incl. reconnects). */
  connects: number;
  /** Established connections that dropped. */
  disconnects: number;
  /** Connection attempts that failed (unreachable, TLS refused, …). */
  connectFailures: number;
  /** NACK messages sent. */
  nacksSent: number;
  /** Sequence numbers asked for through {@linkcode RtxClient.request}. */
  packetsRequested: number;
  /** Answered with the packet. */
  packetsOk: number;
  /** Answered with NAVL. */
  packetsUnavailable: number;
  /** Timed out (deadline, eviction or close). */
  packetsTimeout: number;
  /** Packets or NAVL entries nobody waited for (late or duplicate). */
  unsolicited: number;
  /** Messages from the cloud that could not be parsed. */
  malformed: number;
  /** Answers received as UDP datagrams (every copy). */
  udpAnswers: number;
  /** UDP datagrams on the answer socket from another address (dropped). */
  udpForeign: number;
  /** `RMOD` messages sent. */
  modeMessages: number;
}

interface Waiter {
  key: number;
  resolve: (r: RtxResult) => void;
  batch: Batch;
  done: boolean;
}

interface AppWaiter {
  resolve: (p: RtcpApp | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
  msg: Uint8Array;
}

/** Most APP requests (e.g. `KEYS`) awaiting answers at once. */
const MAX_APP_PENDING = 1024;

interface Batch {
  pending: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** Most sequence numbers put in one NACK message. */
const SEQS_PER_NACK = 4096;

const TIMEOUT: RtxResult = Object.freeze({ status: "timeout" });
const UNAVAILABLE: RtxResult = Object.freeze({ status: "unavailable" });

const keyOf = (ssrc: number, seq: number) => ssrc * 0x10000 + seq;

/**
 * Retransmission client. The connection is opened on the first request,
 * authenticated with `AUTH`, and re-opened with exponential backoff when it
 * drops; requests still waiting are sent again on the new connection.
 * Requests made in the same tick are coalesced into one NACK per SSRC
 * (PID+BLP). Answers are matched by (SSRC, sequence number).
 *
 * @example Usage
 * ```ts ignore
 * import { RtxClient } from "./mod.ts";
 * const client = new RtxClient({ host: "127.0.0.1", port: 9000, secret: "s", fingerprint: "ab12…" });
 * const [r] = client.request(0x1234, [42], { timeoutMs: 200 });
 * if ((await r).status === "ok") { … }
 * await client.close();
 * ```
 */
export class RtxClient {
  #opts: RtxClientOptions;
  #log: Logger;
  #verify: QuicVerify;
  #senderSsrc: number;
  #maxOutstanding: number;
  #state: "idle" | "connecting" | "connected" | "closed" = "idle";
  #client?: QuicClientConnection;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #pending = new Map<number, Waiter[]>();
  #outstanding = 0;
  #toSend = new Map<number, Set<number>>();
  #toSendCount = 0;
  /** APP requests awaiting an answer, by `NAME:ssrc`. */
  #appPending = new Map<string, AppWaiter[]>();
  #appCount = 0;
  /** APP request messages to write on the next flush. */
  #appToSend: Uint8Array[] = [];
  #flushScheduled = false;
  #flushing = false;
  #abort = new AbortController();
  #sleepTimer?: ReturnType<typeof setTimeout>;
  #wake?: () => void;
  #tasks = new Set<Promise<void>>();
  #failLog: RateLimitedLog;
  #lastError = "";
  #backoff: number;
  #udp?: UdpAnswerReceiver;
  #copies: number;
  /** First NACK time and NACK count per key still pending (Karn's rule). */
  #asked = new Map<number, { at: number; n: number }>();
  #srtt = 0;
  #stats: RtxClientStats = {
    connects: 0,
    disconnects: 0,
    connectFailures: 0,
    nacksSent: 0,
    packetsRequested: 0,
    packetsOk: 0,
    packetsUnavailable: 0,
    packetsTimeout: 0,
    unsolicited: 0,
    malformed: 0,
    udpAnswers: 0,
    udpForeign: 0,
    modeMessages: 0,
  };

  /**
   * Creates an idle client; nothing is sent until the first request.
   *
   * @param opts Cloud address, secret, verification mode and limits.
   * @throws {TypeError} Without any of `fingerprint`, `caPem`,
   *   `insecureSkipVerify`, or with a malformed fingerprint.
   */
  constructor(opts: RtxClientOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? nullLogger;
    this.#failLog = new RateLimitedLog(this.#log, { intervalMs: 30_000 });
    this.#senderSsrc = opts.senderSsrc ??
      (crypto.getRandomValues(new Uint32Array(1))[0] || 1);
    this.#maxOutstanding = opts.maxOutstanding ?? 16_384;
    this.#backoff = opts.backoffInitialMs ?? 50;
    this.#copies = clampCopies(opts.udpAnswers?.copies ?? 1);
    if (opts.fingerprint) {
      normalizeFingerprint(opts.fingerprint);
      this.#verify = { kind: "pin", fingerprint: opts.fingerprint };
    } else if (opts.caPem) {
      this.#verify = { kind: "ca", caPem: opts.caPem };
    } else if (opts.insecureSkipVerify) {
      this.#verify = { kind: "none" };
      this.#log.warn(
        "retransmission client does NOT verify the cloud certificate (insecureSkipVerify)",
        { host: opts.host, port: opts.port },
      );
    } else {
      throw new TypeError(
        "Expected one of fingerprint, caPem or insecureSkipVerify for the retransmission client, received none",
      );
    }
  }

  /** Whether a connection and stream are up and authenticated (as far as we know). */
  get connected(): boolean {
    return this.#state === "connected";
  }

  /** Sequence numbers waiting for an answer. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Why the last connection attempt failed or the connection dropped. */
  get lastError(): string {
    return this.#lastError;
  }

  /** Live counters. */
  get stats(): Readonly<RtxClientStats> {
    if (this.#udp) {
      this.#stats.udpAnswers = this.#udp.stats.received;
      this.#stats.udpForeign = this.#udp.stats.foreign;
    }
    return this.#stats;
  }

  /**
   * Smoothed request → answer round trip (ms; Karn's rule, RFC 6298: the
   * first sample, then gain 1/8); 0 before any answer. (The QUIC handshake
   * is no estimate: Deno's native one takes ~12 round trips on a 100 ms path.)
   */
  get rttMs(): number {
    return this.#srtt;
  }

  /** Where answers come: `"udp"` (asked with `RMOD`) or `"stream"`. */
  get answerMode(): "udp" | "stream" {
    return this.#opts.udpAnswers ? "udp" : "stream";
  }

  /** The UDP port answers come to (once connected with UDP answers). */
  get answerPort(): number | undefined {
    return this.#udp?.port;
  }

  /** Copies of each answer the cloud is asked for (UDP answers). */
  get answerCopies(): number {
    return this.#copies;
  }

  /**
   * Changes how many copies of each answer the cloud sends (UDP answers
   * only; clamped to 1..8). Sends a new `RMOD` when it changed and the link
   * is up; a later connection asks for the current value.
   */
  setAnswerCopies(copies: number): void {
    const k = clampCopies(copies);
    if (!this.#opts.udpAnswers || k === this.#copies) return;
    this.#copies = k;
    if (this.#state === "connected" && this.#writer) {
      const msg = this.#modeMessage();
      if (msg) {
        this.#writer.write(frameMessage(msg)).catch((e) =>
          this.#log.debug("retransmission RMOD write failed", { error: e })
        );
      }
    }
  }

  /**
   * Asks the cloud for packets of one stream. Returns one promise per
   * sequence number, in the order given; each resolves with the packet,
   * `unavailable` (the cloud said so), or `timeout` (no answer by
   * `timeoutMs`, evicted by `maxOutstanding`, or the client closed). The
   * promises never reject.
   *
   * @param ssrc The stream.
   * @param seqs Sequence numbers.
   * @param opts Deadline for all of them.
   * @returns One promise per sequence number.
   * @throws {RangeError} On an SSRC that is not a u32, a sequence number
   *   outside 0..65535 or a negative timeout.
   */
  request(
    ssrc: number,
    seqs: number[],
    opts: { timeoutMs: number },
  ): Promise<RtxResult>[] {
    if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) {
      throw new RangeError(`Expected an SSRC u32, received ${ssrc}`);
    }
    if (!(opts.timeoutMs >= 0)) {
      throw new RangeError(
        `Expected timeoutMs >= 0, received ${opts.timeoutMs}`,
      );
    }
    for (const s of seqs) {
      if (!Number.isInteger(s) || s < 0 || s > 0xffff) {
        throw new RangeError(
          `Expected RTP sequence numbers in 0..65535, received ${s}`,
        );
      }
    }
    this.#stats.packetsRequested += seqs.length;
    if (this.#state === "closed") {
      this.#stats.packetsTimeout += seqs.length;
      return seqs.map(() => Promise.resolve(TIMEOUT));
    }
    const batch: Batch = { pending: 0 };
    const waiters: Waiter[] = [];
    const promises = seqs.map((seq) =>
      new Promise<RtxResult>((resolve) => {
        const key = keyOf(ssrc, seq);
        const w: Waiter = { key, resolve, batch, done: false };
        waiters.push(w);
        const list = this.#pending.get(key);
        if (list) list.push(w);
        else this.#pending.set(key, [w]);
        batch.pending++;
        this.#outstanding++;
      })
    );
    if (batch.pending > 0) {
      batch.timer = setTimeout(() => {
        batch.timer = undefined;
        for (const w of waiters) this.#finish(w, TIMEOUT);
      }, opts.timeoutMs);
    }
    // Bound: the oldest outstanding requests give way.
    while (this.#outstanding > this.#maxOutstanding) {
      const [key, list] = this.#pending.entries().next().value!;
      this.#pending.delete(key);
      for (const w of list) this.#finish(w, TIMEOUT, true);
    }
    if (this.#state === "connected") {
      let set = this.#toSend.get(ssrc);
      if (!set) this.#toSend.set(ssrc, set = new Set());
      for (const s of seqs) set.add(s);
      this.#toSendCount += seqs.length;
      if (this.#toSendCount > 2 * this.#maxOutstanding) this.#pruneToSend();
      this.#scheduleFlush();
    } else if (this.#state === "idle") {
      this.#startConnecting();
    }
    return promises;
  }

  /**
   * Sends an RTCP APP request (subtype 0, no data) named `name` for `ssrc`
   * and resolves with the cloud's APP answer of the same name and SSRC, or
   * `undefined` after `timeoutMs` (or when the client closes, or more than
   * 1,024 such requests are waiting). Requests still waiting are sent again
   * after a reconnect. Never rejects.
   *
   * @example Usage
   * ```ts ignore
   * const answer = await client.requestApp("KEYS", 0x1234, { timeoutMs: 1000 });
   * ```
   *
   * @param name Four ASCII characters, e.g. `KEYS`.
   * @param ssrc The SSRC the request is about.
   * @param opts Deadline.
   * @returns The answer packet (its data copied), or `undefined`.
   */
  requestApp(
    name: string,
    ssrc: number,
    opts: { timeoutMs: number },
  ): Promise<RtcpApp | undefined> {
    const msg = encodeApp({ subtype: 0, ssrc, name, data: new Uint8Array() });
    if (this.#state === "closed" || this.#appCount >= MAX_APP_PENDING) {
      return Promise.resolve(undefined);
    }
    const key = `${name}:${ssrc >>> 0}`;
    return new Promise((resolve) => {
      const w: AppWaiter = {
        resolve,
        msg,
        timer: setTimeout(
          () => this.#appDone(key, w, undefined),
          opts.timeoutMs,
        ),
      };
      const list = this.#appPending.get(key);
      if (list) list.push(w);
      else this.#appPending.set(key, [w]);
      this.#appCount++;
      if (this.#state === "connected") {
        this.#appToSend.push(msg);
        this.#scheduleFlush();
      } else if (this.#state === "idle") {
        this.#startConnecting();
      }
    });
  }

  #appDone(key: string, w: AppWaiter, answer: RtcpApp | undefined): void {
    const list = this.#appPending.get(key);
    const i = list ? list.indexOf(w) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.#appPending.delete(key);
    this.#appCount--;
    clearTimeout(w.timer);
    w.resolve(answer);
  }

  /** Closes the connection; every waiting request resolves `timeout`. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#abort.abort(new Error("RtxClient closed"));
    clearTimeout(this.#sleepTimer);
    this.#wake?.();
    const client = this.#client;
    this.#client = undefined;
    this.#writer = undefined;
    if (client) await client.close(0, "shutting down");
    await this.#udp?.close();
    await Promise.allSettled([...this.#tasks]);
    for (const list of [...this.#pending.values()]) {
      for (const w of list) this.#finish(w, TIMEOUT);
    }
    this.#pending.clear();
    this.#toSend.clear();
    for (const [key, list] of [...this.#appPending]) {
      for (const w of [...list]) this.#appDone(key, w, undefined);
    }
    this.#appToSend = [];
  }

  #finish(w: Waiter, r: RtxResult, detached = false): void {
    if (w.done) return;
    w.done = true;
    if (!detached) {
      const list = this.#pending.get(w.key);
      if (list) {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) {
          this.#pending.delete(w.key);
          this.#asked.delete(w.key);
        }
      }
    }
    this.#outstanding--;
    if (--w.batch.pending === 0 && w.batch.timer !== undefined) {
      clearTimeout(w.batch.timer);
      w.batch.timer = undefined;
    }
    if (r.status === "ok") this.#stats.packetsOk++;
    else if (r.status === "unavailable") this.#stats.packetsUnavailable++;
    else this.#stats.packetsTimeout++;
    w.resolve(r);
  }

  #answer(key: number, r: RtxResult): void {
    const list = this.#pending.get(key);
    if (!list) {
      this.#stats.unsolicited++;
      return;
    }
    this.#pending.delete(key);
    const asked = this.#asked.get(key);
    this.#asked.delete(key);
    // Karn's rule; but with no estimate yet an early retry (a guess below the
    // real round trip) would discard every sample: the first answer seeds
    // it, measured from the first request (an overestimate, never under).
    if (r.status === "ok" && asked && (asked.n === 1 || this.#srtt === 0)) {
      const sample = performance.now() - asked.at;
      this.#srtt = this.#srtt === 0
        ? sample
        : this.#srtt + (sample - this.#srtt) / 8;
      r = { ...r, rttMs: sample };
    }
    for (const w of list) this.#finish(w, r, true);
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  #pruneToSend(): void {
    let n = 0;
    for (const [ssrc, set] of this.#toSend) {
      for (const s of set) {
        if (!this.#pending.has(keyOf(ssrc, s))) set.delete(s);
      }
      if (set.size === 0) this.#toSend.delete(ssrc);
      n += set.size;
    }
    this.#toSendCount = n;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#flushing) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#track(this.#flush());
    });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (
        (this.#toSend.size > 0 || this.#appToSend.length > 0) &&
        this.#state === "connected"
      ) {
        const writer = this.#writer!;
        const msgs: Uint8Array[] = this.#appToSend;
        this.#appToSend = [];
        for (const [ssrc, set] of this.#toSend) {
          const seqs = orderSeqs(
            [...set].filter((s) => this.#pending.has(keyOf(ssrc, s))),
          );
          const now = performance.now();
          for (const s of seqs) {
            const key = keyOf(ssrc, s);
            const a = this.#asked.get(key);
            if (a) a.n++;
            else this.#asked.set(key, { at: now, n: 1 });
          }
          for (let i = 0; i < seqs.length; i += SEQS_PER_NACK) {
            msgs.push(
              encodeNack(
                this.#senderSsrc,
                ssrc,
                seqs.slice(i, i + SEQS_PER_NACK),
              ),
            );
          }
        }
        this.#toSend.clear();
        this.#toSendCount = 0;
        if (msgs.length === 0) break;
        this.#stats.nacksSent += msgs.length;
        // Resolves once the transport took the bytes: backpressure.
        await writer.write(frameMessages(msgs));
      }
    } catch (e) {
      // The read loop notices the broken connection and reconnects.
      this.#log.debug("retransmission NACK write failed", { error: e });
    } finally {
      this.#flushing = false;
    }
    if (
      (this.#toSend.size > 0 || this.#appToSend.length > 0) &&
      this.#state === "connected"
    ) {
      this.#scheduleFlush();
    }
  }

  #startConnecting(waitFirst = false): void {
    this.#state = "connecting";
    this.#track(this.#connectLoop(waitFirst));
  }

  /** The next reconnect delay; doubles per failure, reset by an answer. */
  #nextDelay(): number {
    const d = this.#backoff;
    this.#backoff = Math.min(d * 2, this.#opts.backoffMaxMs ?? 2000);
    return d;
  }

  async #connectLoop(waitFirst: boolean): Promise<void> {
    if (waitFirst) await this.#sleep(this.#nextDelay());
    while (this.#state === "connecting") {
      try {
        await this.#connectOnce();
        return;
      } catch (e) {
        if (this.#state !== "connecting") return;
        this.#stats.connectFailures++;
        const why = e instanceof Error &&
            e.message.startsWith("certificate fingerprint mismatch")
          ? e.message
          : errorText(e);
        this.#lastError = why;
        const delay = this.#nextDelay();
        this.#failLog.log(
          performance.now(),
          "retransmission connection failed",
          {
            host: this.#opts.host,
            port: this.#opts.port,
            error: why,
            ...(why.startsWith("certificate fingerprint mismatch")
              ? {
                fix:
                  'copy the fingerprint the cloud logs at startup ("cloud started") or shows in GET /api/node into edge.cloud_fingerprint',
              }
              : {}),
            retryMs: delay,
          },
        );
        await this.#sleep(delay);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        clearTimeout(this.#sleepTimer);
        resolve();
      };
      this.#sleepTimer = setTimeout(() => this.#wake?.(), ms);
    });
  }

  async #connectOnce(): Promise<void> {
    const { host, port } = this.#opts;
    this.#lastError = "";
    const idle = this.#opts.idleTimeoutMs ?? 5000;
    const client = await quicTransport(this.#opts.impl).connect({
      host,
      port,
      alpn: RTX_ALPN,
      verify: this.#verify,
      idleTimeoutMs: idle,
      keepAliveMs: this.#opts.keepAliveMs ?? 1000,
      timeoutMs: this.#opts.connectTimeoutMs ?? 3000,
      signal: this.#abort.signal,
      logger: this.#log.child("quic"),
    });
    if (this.#state !== "connecting") {
      await client.close(0, "closing");
      return;
    }
    let stream: QuicDuplex;
    let writer: WritableStreamDefaultWriter<Uint8Array>;
    try {
      stream = await client.openStream();
      writer = stream.writable.getWriter();
      const secret = this.#opts.secret ?? "";
      if (secret !== "") {
        await writer.write(frameMessage(encodeAuth(secret, this.#senderSsrc)));
      }
      const u = this.#opts.udpAnswers;
      if (u) {
        this.#udp ??= new UdpAnswerReceiver({
          hostname: u.hostname,
          port: u.port,
          onPacket: (p) => this.#onUdpAnswer(p),
        });
        // Answers are taken only from the cloud's address.
        this.#udp.sources = await answerSources(client.remote);
        await writer.write(frameMessage(this.#modeMessage()!));
      }
    } catch (e) {
      await client.close(0, "closing");
      throw e;
    }
    if (this.#state !== "connecting") {
      await client.close(0, "closing");
      return;
    }
    this.#client = client;
    this.#writer = writer;
    this.#state = "connected";
    this.#stats.connects++;
    this.#log.info("retransmission connected", {
      host,
      port,
      impl: this.#opts.impl ?? "native",
      reconnect: this.#stats.connects > 1,
    });
    // Everything still waiting goes out on the new connection.
    this.#toSend.clear();
    let n = 0;
    for (const key of this.#pending.keys()) {
      const ssrc = Math.floor(key / 0x10000);
      let set = this.#toSend.get(ssrc);
      if (!set) this.#toSend.set(ssrc, set = new Set());
      set.add(key & 0xffff);
      n++;
    }
    this.#toSendCount = n;
    this.#appToSend = [];
    for (const list of this.#appPending.values()) {
      for (const w of list) this.#appToSend.push(w.msg);
    }
    if (n > 0 || this.#appToSend.length > 0) this.#scheduleFlush();
    this.#track(this.#readLoop(client, stream));
  }

  async #readLoop(
    client: QuicClientConnection,
    stream: QuicDuplex,
  ): Promise<void> {
    const reader = stream.readable.getReader();
    const decoder = new FrameDecoder();
    let reason = "stream ended";
    // Backstop: whatever the stream does, a closed connection ends the loop.
    client.closed.then(() => reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        for (const msg of decoder.push(r.value)) this.#onMessage(msg);
      }
    } catch (e) {
      reason = errorText(e);
    } finally {
      reader.releaseLock();
    }
    // The cloud's close code says why (e.g. a wrong secret); it arrives
    // just after the stream ends: wait briefly.
    const info = await within(client.closed, 500);
    if (info && info.code >= 0) {
      reason = `closed by the cloud: ${
        CLOSE_REASONS[info.code] ?? `application code ${info.code}`
      }`;
    } else if (info) {
      reason = info.reason;
    }
    if (this.#client !== client) return;
    // Dropped (cloud restart, network cut, refused): reconnect.
    this.#client = undefined;
    this.#writer = undefined;
    this.#stats.disconnects++;
    this.#lastError = reason;
    this.#log.warn("retransmission connection lost; reconnecting", {
      host: this.#opts.host,
      port: this.#opts.port,
      reason,
    });
    await client.close(0, "reconnecting");
    // Wait before reconnecting: a cloud that refuses us (wrong secret) must
    // not be hammered. A connection that answered reset the backoff.
    if (this.#state === "connected") this.#startConnecting(true);
  }

  /** The `RMOD` asking for UDP answers at the current copies, if configured. */
  #modeMessage(): Uint8Array | undefined {
    const u = this.#opts.udpAnswers;
    if (!u || !this.#udp) return undefined;
    this.#stats.modeMessages++;
    return encodeRepairMode({
      mode: "udp",
      port: this.#udp.port,
      copies: this.#copies,
      spacingMs: u.spacingMs ?? 5,
    }, this.#senderSsrc);
  }

  /**
   * A datagram on the answer port: only RTP answers come this way (NAVL and
   * APP answers such as KEYS only on the authenticated stream — a datagram's
   * source address can be forged).
   */
  #onUdpAnswer(msg: Uint8Array): void {
    if (looksLikeRtcp(msg)) {
      this.#stats.malformed++;
      return;
    }
    this.#onMessage(msg);
  }

  #onMessage(msg: Uint8Array): void {
    // The cloud answers: we are accepted, so the next drop retries quickly.
    this.#backoff = this.#opts.backoffInitialMs ?? 50;
    if (looksLikeRtcp(msg)) {
      try {
        for (const p of parseRtcp(msg)) {
          if (p.type === "app" && p.name !== "NAVL") {
            const key = `${p.name}:${p.ssrc >>> 0}`;
            const list = this.#appPending.get(key);
            if (!list) {
              this.#stats.unsolicited++;
              continue;
            }
            const answer: RtcpApp = { ...p, data: p.data.slice() };
            for (const w of [...list]) this.#appDone(key, w, answer);
            continue;
          }
          const navl = parseNavl(p);
          if (!navl) continue;
          for (const s of navl.seqs) {
            this.#answer(keyOf(navl.mediaSsrc, s), UNAVAILABLE);
          }
        }
      } catch (e) {
        this.#stats.malformed++;
        this.#log.debug("malformed RTCP from the cloud", { error: e });
      }
      return;
    }
    if (msg.length < 12 || msg[0] >> 6 !== 2) {
      this.#stats.malformed++;
      return;
    }
    const seq = (msg[2] << 8) | msg[3];
    const ssrc =
      ((msg[8] << 24) | (msg[9] << 16) | (msg[10] << 8) | msg[11]) >>>
      0;
    // A standalone copy (the frame may be a view into a larger read).
    const packet = new Uint8Array(msg.length);
    packet.set(msg);
    this.#answer(keyOf(ssrc, seq), { status: "ok", packet });
  }
}

function clampCopies(k: number): number {
  return Math.max(1, Math.min(MAX_REPAIR_COPIES, Math.round(k) || 1));
}
