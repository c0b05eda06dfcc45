/**
 * The edge side of retransmission: one QUIC connection and one stream to the
 * cloud, Generic NACKs out, RTP packets and NAVLs back (SPEC §6).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger, RateLimitedLog } from "../log/mod.ts";
import {
  encodeAuth,
  encodeRepairMode,
  MAX_REPAIR_COPIES,
  parseNavl,
  parseRtcp,
  type RtcpApp,
} from "../rtcp/mod.ts";
import { AppRequests } from "./app_requests.ts";
import { normalizeFingerprint } from "./cert.ts";
import type {
  RtxClientOptions,
  RtxClientStats,
  RtxResult,
} from "./client_types.ts";
import { connectWithRetry } from "./connect_retry.ts";
import { FrameDecoder, frameMessage, frameMessages } from "./framing.ts";
import { NackQueue, SEQS_PER_NACK } from "./nack_queue.ts";
import {
  keyOf,
  PendingPackets,
  TIMEOUT,
  UNAVAILABLE,
} from "./pending_packets.ts";
import { answerSources, UdpAnswerReceiver } from "./udp_answers.ts";
import { quicTransport } from "./impls.ts";
import { CLOSE_REASONS, looksLikeRtcp, RTX_ALPN } from "./protocol.ts";
import {
  errorText,
  type QuicClientConnection,
  type QuicDuplex,
  type QuicVerify,
  within,
} from "./transport.ts";

/** A connection made and authenticated, not yet in use. */
interface Link {
  client: QuicClientConnection;
  stream: QuicDuplex;
  writer: WritableStreamDefaultWriter<Uint8Array>;
}

/**
 * Retransmission client. The connection is opened on the first request,
 * authenticated with `AUTH`, and re-opened when it drops; while it is down,
 * connection attempts start after short doubling delays and overlap
 * ({@linkcode connectWithRetry}); requests still waiting are sent again on
 * the new connection. Requests made in the same tick are coalesced into one
 * NACK per SSRC (PID+BLP). Answers are matched by (SSRC, sequence number).
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
  #pending: PendingPackets;
  #nacks: NackQueue;
  #apps = new AppRequests();
  /** APP request messages to write on the next flush. */
  #appToSend: Uint8Array[] = [];
  #flushScheduled = false;
  #flushing = false;
  #abort = new AbortController();
  #tasks = new Set<Promise<void>>();
  #failLog: RateLimitedLog;
  #lastError = "";
  #backoff: number;
  #udp?: UdpAnswerReceiver;
  #copies: number;
  #stats: RtxClientStats = {
    connects: 0,
    disconnects: 0,
    connectAttempts: 0,
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
    this.#pending = new PendingPackets(this.#maxOutstanding, this.#stats);
    this.#nacks = new NackQueue(
      this.#maxOutstanding,
      (key) => this.#pending.has(key),
    );
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
    return this.#pending.outstanding;
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
    return this.#pending.rttMs;
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
   * promises never reject. An empty request only opens the connection.
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
    const promises = this.#pending.add(ssrc, seqs, opts.timeoutMs);
    if (this.#state === "connected") {
      this.#nacks.add(ssrc, seqs);
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
    const r = this.#state === "closed"
      ? undefined
      : this.#apps.add(name, ssrc, opts.timeoutMs);
    if (!r) return Promise.resolve(undefined);
    if (this.#state === "connected") {
      this.#appToSend.push(r.msg);
      this.#scheduleFlush();
    } else if (this.#state === "idle") {
      this.#startConnecting();
    }
    return r.answer;
  }

  /** Closes the connection; every waiting request resolves `timeout`. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#abort.abort(new Error("RtxClient closed"));
    const client = this.#client;
    this.#client = undefined;
    this.#writer = undefined;
    if (client) await client.close(0, "shutting down");
    await this.#udp?.close();
    await Promise.allSettled([...this.#tasks]);
    this.#pending.timeoutAll();
    this.#nacks.clear();
    this.#apps.closeAll();
    this.#appToSend = [];
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
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
        (!this.#nacks.empty || this.#appToSend.length > 0) &&
        this.#state === "connected"
      ) {
        const writer = this.#writer!;
        const msgs: Uint8Array[] = this.#appToSend;
        this.#appToSend = [];
        const now = performance.now();
        msgs.push(...this.#nacks.drain(this.#senderSsrc, (ssrc, seqs) => {
          this.#pending.asked(ssrc, seqs, now);
          this.#stats.nacksSent += Math.ceil(seqs.length / SEQS_PER_NACK);
        }));
        if (msgs.length === 0) break;
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
      (!this.#nacks.empty || this.#appToSend.length > 0) &&
      this.#state === "connected"
    ) {
      this.#scheduleFlush();
    }
  }

  #startConnecting(waitFirst = false): void {
    this.#state = "connecting";
    this.#track(this.#connect(waitFirst));
  }

  /** The next reconnect delay; doubles per attempt, reset by an answer. */
  #nextDelay(): number {
    const d = this.#backoff;
    this.#backoff = Math.min(d * 2, this.#opts.backoffMaxMs ?? 2000);
    return d;
  }

  async #connect(waitFirst: boolean): Promise<void> {
    let link: Link;
    try {
      link = await connectWithRetry<Link>({
        attempt: (signal) => this.#attempt(signal),
        discard: (l) => void l.client.close(0, "closing"),
        nextDelay: () => this.#nextDelay(),
        onAttempt: () => this.#stats.connectAttempts++,
        onFailure: (e) => this.#onConnectFailure(e),
        maxInFlight: this.#opts.maxAttemptsInFlight,
        waitFirst,
        signal: this.#abort.signal,
      });
    } catch {
      return; // closed
    }
    if (this.#state !== "connecting") {
      await link.client.close(0, "closing");
      return;
    }
    this.#use(link);
  }

  #onConnectFailure(e: unknown): void {
    if (this.#state !== "connecting") return;
    this.#stats.connectFailures++;
    const why = e instanceof Error &&
        e.message.startsWith("certificate fingerprint mismatch")
      ? e.message
      : errorText(e);
    this.#lastError = why;
    this.#failLog.log(performance.now(), "retransmission connection failed", {
      host: this.#opts.host,
      port: this.#opts.port,
      error: why,
      ...(why.startsWith("certificate fingerprint mismatch")
        ? {
          fix:
            'copy the fingerprint the cloud logs at startup ("cloud started") or shows in GET /api/node into edge.cloud_fingerprint',
        }
        : {}),
      attempts: this.#stats.connectAttempts,
    });
  }

  /** One connection attempt: handshake, stream, `AUTH`, `RMOD`. */
  async #attempt(signal: AbortSignal): Promise<Link> {
    const { host, port } = this.#opts;
    const idle = this.#opts.idleTimeoutMs ?? 5000;
    const client = await quicTransport(this.#opts.impl).connect({
      host,
      port,
      alpn: RTX_ALPN,
      verify: this.#verify,
      idleTimeoutMs: idle,
      keepAliveMs: this.#opts.keepAliveMs ?? 1000,
      timeoutMs: this.#opts.connectTimeoutMs ?? 3000,
      signal,
      logger: this.#log.child("quic"),
    });
    try {
      signal.throwIfAborted();
      const stream = await client.openStream();
      const writer = stream.writable.getWriter();
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
      signal.throwIfAborted();
      return { client, stream, writer };
    } catch (e) {
      await client.close(0, "closing");
      throw e;
    }
  }

  /** Puts a connection made into use and sends what is waiting. */
  #use({ client, stream, writer }: Link): void {
    this.#client = client;
    this.#writer = writer;
    this.#state = "connected";
    this.#lastError = "";
    this.#stats.connects++;
    this.#log.info("retransmission connected", {
      host: this.#opts.host,
      port: this.#opts.port,
      impl: this.#opts.impl ?? "native",
      reconnect: this.#stats.connects > 1,
      attempts: this.#stats.connectAttempts,
    });
    // Everything still waiting goes out on the new connection.
    this.#nacks.reset(this.#pending.keys());
    this.#appToSend = this.#apps.messages();
    if (!this.#nacks.empty || this.#appToSend.length > 0) this.#scheduleFlush();
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
            if (!this.#apps.answer(p)) this.#stats.unsolicited++;
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

  #answer(key: number, r: RtxResult): void {
    if (!this.#pending.answer(key, r)) this.#stats.unsolicited++;
  }
}

function clampCopies(k: number): number {
  return Math.max(1, Math.min(MAX_REPAIR_COPIES, Math.round(k) || 1));
}
