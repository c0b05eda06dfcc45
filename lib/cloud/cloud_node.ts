/**
 * The cloud role: RTMP publishes in, RTP/RTCP out to every edge, QUIC
 * retransmission from the cache, recordings and the HTTP API.
 *
 * @module
 */
import { hasBearer } from "../api/mod.ts";
import { AccessControl, type AccessRequest } from "../auth/mod.ts";
import type { AuthConfig, HooksConfig } from "../config/mod.ts";
import { Refusals } from "../limits/mod.ts";
import type { FlvTag } from "../flv/mod.ts";
import { HubRecorder, StreamHub } from "../hub/mod.ts";
import { listenHttp, type RunningHttpServer } from "../http/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { MetricFamily } from "../metrics/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { type HistoryDocument, StatsHistory } from "../metrics/mod.ts";
import { RtxServer } from "../quic/mod.ts";
import {
  encodeBye,
  encodeCompound,
  encodeKeysUnknown,
  encodeSdes,
} from "../rtcp/mod.ts";
import { newKeyMaterial } from "../srtp/mod.ts";
import { type PublishSink, RtmpServer } from "../rtmp/mod.ts";
import { VERSION } from "../version/mod.ts";
import { cloudWebHandler } from "../web/mod.ts";
import { CLOUD_HISTORY_SERIES, cloudApiHandler } from "./api.ts";
import { cloudMetrics } from "./cloud_metrics.ts";
import { CloudStream, type CloudStreamInfo } from "./cloud_stream.ts";
import { rtmpAdmission } from "./rtmp_admission.ts";
import { RtpSender } from "./rtp_sender.ts";
import { StreamRegistry } from "./stream_registry.ts";
import { bind, isLoopback } from "./addresses.ts";
import type { CloudNodeOptions } from "./cloud_options.ts";
export type { CloudNodeOptions };

/** How often, and how far apart, the final SR + BYE is sent. */
const BYE_REPEATS = 5;
const BYE_INTERVAL_MS = 20;

const NO_AUTH: AuthConfig = { secret: "", publish: false, play: false };
const NO_HOOKS: HooksConfig = {
  on_publish: "",
  on_unpublish: "",
  on_play: "",
  on_stop: "",
  timeout_ms: 3000,
};

/**
 * The cloud node.
 *
 * @example Usage
 * ```ts ignore
 * const cloud = new CloudNode(options);
 * await cloud.start();
 * // ffmpeg -re -i clip.mp4 -c copy -f flv rtmp://127.0.0.1:1935/live/movie
 * await cloud.stop();
 * ```
 */
export class CloudNode {
  #opts: CloudNodeOptions;
  #log: Logger;
  #streams: StreamRegistry;
  #hub = new StreamHub();
  #recorder: HubRecorder | undefined;
  #rtmp: RtmpServer;
  #sender: RtpSender;
  #rtx: RtxServer;
  #api?: RunningHttpServer;
  #timer?: ReturnType<typeof setInterval>;
  /** The page's charts: 2 minutes of per-publisher samples, one a second. */
  #history = new StatsHistory<CloudStreamInfo>({
    series: CLOUD_HISTORY_SERIES,
  });
  #cname = `flvcast-cloud@${Deno.hostname()}`;
  #byeTimers = new Set<ReturnType<typeof setTimeout>>();
  #totals = { publishes: 0, refused: 0, tagsIn: 0, packetsSent: 0 };
  #refusals: Refusals;
  #access: AccessControl;

  /** Creates the node; nothing is opened until {@linkcode CloudNode.start}. */
  constructor(options: CloudNodeOptions) {
    this.#opts = options;
    this.#log = options.logger ?? nullLogger;
    this.#streams = new StreamRegistry({ retireMs: options.retireMs });
    this.#refusals = new Refusals({
      logger: this.#log,
      metric: "flvcast_cloud_refusals_total",
    });
    this.#access = new AccessControl({
      ...(options.auth ?? NO_AUTH),
      hooks: options.hooks ?? NO_HOOKS,
      role: "cloud",
      refusals: this.#refusals,
      logger: this.#log,
    });
    if (options.enableRecord) {
      this.#recorder = new HubRecorder({
        hub: this.#hub,
        dir: options.recordDir,
        logger: this.#log,
      });
    }
    this.#sender = new RtpSender({
      local: options.rtpLocal,
      destinations: options.destinations,
      multicastTtl: options.multicastTtl,
      disabled: options.debug,
      sendBuffer: options.udpSendBuffer,
      logger: this.#log.child("rtp"),
    });
    this.#rtmp = new RtmpServer({
      hostname: options.rtmp.hostname,
      port: options.rtmp.port,
      handler: rtmpAdmission({
        access: this.#access,
        hub: this.#hub,
        isLive: (key) => this.#streams.live.has(key),
        liveCount: () => this.#streams.live.size,
        maxStreams: options.maxStreams ?? 256,
        refusals: this.#refusals,
        logger: this.#log,
        onRefused: () => this.#totals.refused++,
        startStream: (key, remoteAddr, req) =>
          this.#startStream(key, remoteAddr, req),
      }),
      logger: this.#log.child("rtmp"),
      maxConnections: options.maxConnections ?? 1000,
      maxMessageSize: options.maxMessageBytes,
      refusals: this.#refusals,
      tls: options.rtmps && {
        hostname: options.rtmps.address.hostname,
        port: options.rtmps.address.port,
        certPem: options.rtmps.certPem,
        keyPem: options.rtmps.keyPem,
      },
    });
    this.#rtx = new RtxServer({
      hostname: options.quic.hostname,
      port: options.quic.port,
      certPem: options.tls.certPem,
      keyPem: options.tls.keyPem,
      secret: options.quicSecret,
      lookup: (ssrc, seq) => this.#streams.lookup(ssrc, seq),
      knownSsrc: (ssrc) => this.#streams.knows(ssrc),
      logger: this.#log.child("quic"),
      impl: options.quicImpl,
      maxSeqsPerNack: options.cachePackets,
      requests: {
        KEYS: (req, answer) => answer(this.#keysAnswer(req.ssrc)),
      },
    });
  }

  /** The bound ports (useful when configured with port 0). */
  get ports(): {
    rtmp: number;
    rtmps: number;
    api: number;
    quic: number;
    rtp: number;
  } {
    return {
      rtmp: this.#rtmp.port,
      rtmps: this.#rtmp.tlsPort,
      api: this.#api?.port ?? 0,
      quic: this.#rtx.port,
      rtp: this.#sender.port,
    };
  }

  /** The tag bus: one stream per live publish, where RTMP players and the
   * recording subscribe. */
  get hub(): StreamHub {
    return this.#hub;
  }

  /** SHA-256 fingerprint (hex) of the QUIC certificate. */
  get fingerprint(): string {
    return this.#rtx.fingerprint;
  }

  /** Refusal counters (auth, hooks, limits) — also in `/metrics`. */
  get refusals(): Refusals {
    return this.#refusals;
  }

  /** Live streams by key. */
  get streams(): ReadonlyMap<string, CloudStream> {
    return this.#streams.live;
  }

  /** Opens every listener; throws a `Error` naming the failing address. */
  async start(): Promise<void> {
    const o = this.#opts;
    await bind(
      "rtp_port",
      `${o.rtpLocal.hostname}:${o.rtpLocal.port}`,
      () => this.#sender.start(),
    );
    await bind(
      "rtmp_addr",
      `${o.rtmp.hostname}:${o.rtmp.port}`,
      () => this.#rtmp.start(),
    );
    await bind(
      "quic_addr",
      `${o.quic.hostname}:${o.quic.port}`,
      () => this.#rtx.start(),
    );
    await bind("api_addr", `${o.api.hostname}:${o.api.port}`, () => {
      const api = cloudApiHandler({
        streams: () => [...this.#streams.live.values()].map((s) => s.info()),
        history: () => this.history(),
        node: () => this.nodeInfo(),
        metrics: () => this.#metrics(),
        token: o.apiToken,
      });
      const page = cloudWebHandler({
        history: (keys) => this.history(keys),
        version: VERSION,
      });
      const pageOnly = (req: Request) =>
        new URL(req.url).pathname.startsWith("/api/") ? undefined : page(req);
      this.#api = listenHttp({
        hostname: o.api.hostname,
        port: o.api.port,
        // With api_token the page's data (/api/history) needs it too: a
        // request without the token never reaches the page handler's copy.
        handler: (req) =>
          (hasBearer(req, o.apiToken ?? "") ? page(req) : pageOnly(req)) ??
            api(req),
        logger: this.#log,
        name: "cloud api",
      });
      return Promise.resolve();
    });
    this.#timer = setInterval(() => this.#tick(), 1000);
    const open = [
      ...(isLoopback(o.rtmp.hostname)
        ? []
        : [`${o.rtmp.hostname}:${this.#rtmp.port}`]),
      ...(o.rtmps && !isLoopback(o.rtmps.address.hostname)
        ? [`${o.rtmps.address.hostname}:${this.#rtmp.tlsPort}`]
        : []),
    ];
    if (!o.auth?.publish && open.length > 0) {
      this.#log.warn(
        "RTMP listens on a non-loopback address and auth.publish is off: anyone who reaches it may publish any stream key",
        { addr: open.join(",") },
      );
    }
    if (!o.quicSecret) {
      this.#log.warn(
        "quic_secret is empty: any host may request retransmissions",
      );
    }
    this.#log.info("cloud started", {
      rtmp: this.#rtmp.port,
      api: this.#api!.port,
      quic: this.#rtx.port,
      rtp: o.debug ? "disabled (debug)" : this.#sender.port,
      destinations: o.destinations.map((d) => `${d.hostname}:${d.port}`).join(
        ",",
      ),
      fingerprint: this.#rtx.fingerprint,
    });
  }

  /** Ends every stream (RTCP BYE, recordings closed) and closes listeners. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    // Publishers first, so no tag is sent after its stream's BYE; each one
    // ends through onClose → #endStream, the loop catches any left.
    await this.#rtmp.stop();
    for (const s of [...this.#streams.live.values()]) {
      this.#endStream(s, "server stopping");
    }
    if (this.#byeTimers.size > 0) {
      // Let the BYE repeats go out before the socket closes.
      await new Promise((r) => setTimeout(r, BYE_REPEATS * BYE_INTERVAL_MS));
      for (const t of this.#byeTimers) clearTimeout(t);
      this.#byeTimers.clear();
    }
    await this.#sender.close();
    await this.#rtx.stop();
    await this.#api?.shutdown();
    await this.#recorder?.close();
  }

  /** Resolves when every recording that has been stopped is closed on disk. */
  async recordingsClosed(): Promise<void> {
    await this.#recorder?.flushed();
  }

  /** Node facts for `GET /api/node`. */
  nodeInfo(): Record<string, unknown> {
    return {
      role: "cloud",
      fingerprint: this.#rtx.fingerprint,
      quic_impl: this.#rtx.impl,
      udp_sndbuf: this.#sender.sendBuffer
        ? {
          requested: this.#sender.sendBuffer.requested,
          effective: this.#sender.sendBuffer.effective,
          method: this.#sender.sendBuffer.method,
        }
        : null,
      ports: this.ports,
      destinations: this.#opts.destinations.map((d) =>
        `${d.hostname}:${d.port}`
      ),
      streams: this.#streams.live.size,
    };
  }

  /**
   * Replaces the RTMPS certificate (SIGHUP): new connections get it, live
   * ones keep theirs.
   */
  reloadTls(certPem: string, keyPem: string): Promise<void> {
    return this.#rtmp.reloadTls(certPem, keyPem);
  }

  #startStream(
    key: string,
    remoteAddr: string,
    req: AccessRequest,
  ): PublishSink {
    const ssrc = this.#streams.freshSsrc();
    const o = this.#opts;
    // Under SRTP the FEC parity is its own stream (SSRC and SRTP context).
    const fecSsrc = o.srtp && o.fecBlock
      ? this.#streams.freshSsrc(ssrc)
      : undefined;
    const stream = new CloudStream({
      key,
      ssrc,
      remoteAddr,
      id: this.#totals.publishes + 1,
      payloadSize: o.payloadSize,
      hub: this.#hub.open(key),
      cachePackets: o.cachePackets,
      cacheBytes: o.cacheBytes,
      srtp: o.srtp ? newKeyMaterial() : undefined,
      fecBlock: o.fecBlock,
      fecSsrc,
    });
    this.#sendReport(stream); // may throw: before anything is registered
    this.#streams.add(stream);
    this.#totals.publishes++;
    this.#log.info("stream started", { key, ssrc, publisher: remoteAddr });
    let ended = false;
    return {
      onMessage: (msg) => {
        if (ended) return;
        const tag: FlvTag = msg;
        const packets = stream.ingest(tag);
        this.#totals.tagsIn++;
        this.#totals.packetsSent += packets.length;
        this.#sender.send(packets);
        const parity = stream.takeParity();
        if (parity.length > 0) this.#sender.send(parity);
      },
      onClose: (reason) => {
        if (ended) return;
        ended = true;
        this.#endStream(stream, reason);
        const i = stream.info();
        this.#access.ended("publish", req, {
          durationMs: Date.now() - stream.startedAt,
          bytes: i.video_bytes + i.audio_bytes + i.data_bytes,
        });
      },
    };
  }

  #endStream(stream: CloudStream, reason: string): void {
    if (!this.#streams.retire(stream, Date.now())) return;
    // The final SR (last sequence number and counts) + BYE, repeated: one
    // lost datagram must not leave an edge waiting for the silence timeout.
    const bye = () => {
      try {
        this.#sender.send([stream.protectRtcp(encodeCompound([
          stream.senderReport(Date.now()),
          // BYE reasons are at most 255 bytes: keep printable ASCII.
          encodeBye(
            stream.ssrc,
            reason.replace(/[^\x20-\x7e]/g, "?").slice(0, 255),
          ),
        ]))]);
      } catch (e) {
        this.#log.error("BYE not sent", { key: stream.key, error: e });
      }
    };
    bye();
    for (let i = 1; i < BYE_REPEATS; i++) {
      const t = setTimeout(() => {
        this.#byeTimers.delete(t);
        bye();
      }, i * BYE_INTERVAL_MS);
      this.#byeTimers.add(t);
    }
    stream.hub.end(reason); // RTMP players get their end, the file closes
    this.#log.info("stream ended", {
      key: stream.key,
      ssrc: stream.ssrc,
      reason,
    });
  }

  /** Where the recording of a live stream goes, if it is recorded. */
  recordingPath(key: string): string | undefined {
    return this.#recorder?.pathOf(key) ?? undefined;
  }

  #sendReport(stream: CloudStream): void {
    this.#sender.send([stream.protectRtcp(encodeCompound([
      stream.senderReport(Date.now()),
      encodeSdes(stream.ssrc, { cname: this.#cname, key: stream.key }),
    ]))]);
  }

  /** The `KEYS` answer for `ssrc`: keys, position, name and state. */
  #keysAnswer(ssrc: number): Uint8Array {
    return this.#streams.bySsrc(ssrc)?.keysAnswer() ??
      encodeKeysUnknown(ssrc);
  }

  #tick(): void {
    const now = Date.now();
    for (const s of this.#streams.live.values()) {
      try {
        s.tick(now);
        this.#sendReport(s);
      } catch (e) {
        this.#log.error("sender report failed", { key: s.key, error: e });
      }
    }
    this.#streams.expire(now);
    this.#history.record(
      now,
      [...this.#streams.live.values()].map((s) => s.info()),
    );
  }

  /** The publishers' last 2 minutes, sampled each second (the charts). */
  history(keys?: readonly string[]): HistoryDocument {
    return this.#history.snapshot(keys);
  }

  #metrics(): MetricFamily[] {
    return [
      ...cloudMetrics({
        streams: [...this.#streams.live.values()].map((s) => s.info()),
        totals: this.#totals,
        sender: this.#sender.stats,
        rtx: this.#rtx.stats,
      }),
      {
        name: "flvcast_cloud_rtmp_connections",
        help: "RTMP connections open (plain and RTMPS).",
        type: "gauge",
        samples: [{ value: this.#rtmp.connections }],
      },
      ...this.#refusals.metrics(),
    ];
  }
}
