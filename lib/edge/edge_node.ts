/**
 * The edge role's I/O shell: one UDP socket (unicast, or a joined multicast
 * group) whose datagrams go to the {@linkcode EdgeReceiver} core through one
 * call, one timer armed at the core's next event, the QUIC repair links
 * ({@linkcode RtxClient}), the player server ({@linkcode FlvHttpServer}), the
 * API port and, when enabled, the {@linkcode HubRecorder}. Every decision is
 * the core's; this file only moves bytes and time.
 *
 * @module
 */
import {
  FlvHttpServer,
  listenHttp,
  type RunningHttpServer,
} from "../http/mod.ts";
import { HubRecorder, StreamHub } from "../hub/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import {
  type HistoryDocument,
  type MetricFamily,
  StatsHistory,
} from "../metrics/mod.ts";
import { type SocketBufferResult, UdpBatchReceiver } from "../net/mod.ts";
import { RtxClient } from "../quic/mod.ts";
import type { HlsService } from "../hls/mod.ts";
import type { Refusals } from "../limits/mod.ts";
import {
  EDGE_HISTORY_SERIES,
  edgeApiHandler,
  type EdgeStreamInfo,
  publicStreamInfo,
} from "./edge_api.ts";
import {
  edgeMetrics,
  type EdgeMetricsSource,
  edgeNodeInfo,
} from "./edge_metrics.ts";
import {
  checkCloudVerification,
  type EdgeNodeOptions,
} from "./edge_options.ts";
import { type EdgePlayers, edgePlayers } from "./edge_players.ts";
import { openEdgeSocket } from "./edge_socket.ts";
import {
  applyRepairPolicy,
  linkSnapshots,
  readKeysAnswer,
  receiverLinkHooks,
} from "./link_policy.ts";
import { EdgeReceiver } from "./receiver.ts";
import { RepairLinks } from "./repair_links.ts";
import { RepairPolicy } from "./repair_policy.ts";
import type {
  EdgeNodeStats,
  PeerAddress,
  RepairRequest,
} from "./receiver_types.ts";

/**
 * An edge node.
 *
 * @example Usage
 * ```ts ignore
 * const edge = new EdgeNode({
 *   udp: { hostname: "0.0.0.0", port: 5222 },
 *   flv: { hostname: "0.0.0.0", port: 7001 },
 *   api: { hostname: "0.0.0.0", port: 8091 },
 *   quicPort: 4242,
 *   fingerprint: "ab12…",
 * });
 * await edge.start();
 * // http://127.0.0.1:7001/live/movie.flv
 * await edge.stop();
 * ```
 */
export class EdgeNode {
  #opts: EdgeNodeOptions;
  #log: Logger;
  #hub = new StreamHub();
  #rx: EdgeReceiver;
  #flv: FlvHttpServer;
  #hls: HlsService | undefined;
  #hlsGate: EdgePlayers["hlsGate"];
  #hlsServer: RunningHttpServer | undefined;
  #recorder: HubRecorder | undefined;
  #api: RunningHttpServer | undefined;
  #udp: Deno.DatagramConn | undefined;
  #rcvbuf: SocketBufferResult | undefined;
  #batchRx: UdpBatchReceiver | undefined;
  #recv: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  /** The page's charts: 2 minutes of per-stream samples, one a second (a
   * timer of its own: sampling is wall-clock, not event, driven). */
  #history = new StatsHistory<EdgeStreamInfo>({
    series: EDGE_HISTORY_SERIES,
  });
  #historyTimer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  #links: RepairLinks;
  #policy: RepairPolicy<RtxClient>;
  #refusals: Refusals;

  /**
   * Validates the options; {@linkcode start} binds the ports.
   *
   * @throws {TypeError} without any of `fingerprint`, `caPem` or
   *   `insecureSkipVerify`; {@linkcode RangeError} on a bad number.
   */
  constructor(options: EdgeNodeOptions) {
    this.#opts = options;
    this.#log = options.logger ?? nullLogger;
    this.#policy = new RepairPolicy(options.latencyMs, (l) => l.rttMs);
    this.#links = new RepairLinks(
      options,
      this.#log,
      this.#policy.initialCopies,
    );
    this.#rx = new EdgeReceiver({
      hub: this.#hub,
      latencyMs: this.#policy.fixedBudget,
      streamTimeoutMs: options.streamTimeoutMs,
      packLoss: options.packLoss,
      random: options.random,
      maxHeldPackets: options.maxHeldPackets,
      maxHeldSsrcs: options.maxHeldSsrcs,
      maxStreams: options.maxStreams,
      maxRepairPerSecond: options.maxRepairPerSecond,
      logger: this.#log,
      onRepair: (req) => this.#repair(req),
      srtp: options.srtp,
      stallMs: 30,
      onKeys: (ssrc, source) => this.#askKeys(ssrc, source),
      ...receiverLinkHooks(this.#links, this.#policy),
    });
    checkCloudVerification(options);
    const players = edgePlayers(options, this.#hub, this.#log, {
      streams: () => this.streams().map(publicStreamInfo),
      history: (keys) => this.history(keys),
    });
    this.#flv = players.flv;
    this.#hls = players.hls;
    this.#hlsGate = players.hlsGate;
    this.#refusals = players.refusals;
  }

  /**
   * Replaces the HTTPS/WSS certificate (SIGHUP); connected players stay.
   *
   * @throws {Error} When the PEMs are not accepted (the old ones stay).
   */
  reloadTls(certPem: string, keyPem: string): void {
    this.#flv.reloadTls(certPem, keyPem);
  }

  /** Bound ports (after {@linkcode start}). */
  get ports(): {
    udp: number;
    flv: number;
    https: number;
    api: number;
    hls?: number;
  } {
    return {
      udp: (this.#udp?.addr as Deno.NetAddr | undefined)?.port ??
        this.#opts.udp.port,
      flv: this.#flv.port,
      https: this.#flv.tlsPort,
      api: this.#api?.port ?? this.#opts.api.port,
      hls: this.#hlsServer?.port,
    };
  }

  /** The tag bus: one stream per key, where players and recordings
   * subscribe (and where new consumers such as HLS plug in). */
  get hub(): StreamHub {
    return this.#hub;
  }

  /** What the kernel gave for the UDP receive buffer (after `start`). */
  get receiveBuffer(): SocketBufferResult | undefined {
    return this.#rcvbuf;
  }

  /** Node-wide counters (a live object). */
  get stats(): Readonly<EdgeNodeStats> {
    return this.#rx.stats;
  }

  /** Opens the UDP socket (joining the group), the FLV and API servers, and
   * starts receiving. Throws naming the address on a busy port. */
  async start(): Promise<void> {
    if (this.#running) return;
    const u = this.#opts.udp;
    const socket = await openEdgeSocket(
      u,
      this.#opts.udpReceiveBuffer ?? 8 << 20,
      this.#log,
    );
    this.#udp = socket.conn;
    this.#rcvbuf = socket.receiveBuffer;
    try {
      await this.#flv.start();
      const hlsAddr = this.#opts.hls ? this.#opts.hls.addr : undefined;
      if (hlsAddr) this.#hlsServer = this.#hls?.listen(hlsAddr, this.#log);
      this.#api = listenHttp({
        hostname: this.#opts.api.hostname,
        port: this.#opts.api.port,
        handler: edgeApiHandler({
          streams: () => this.streams(),
          ended: () => this.#rx.ended(),
          history: () => this.history(),
          node: () =>
            edgeNodeInfo(
              this.#opts,
              this.ports,
              this.#rcvbuf,
              this.#snapshot(),
            ),
          metrics: () => this.metrics(),
          token: this.#opts.apiToken,
        }),
        logger: this.#log,
        name: "edge api",
      });
    } catch (err) {
      this.#udp.close();
      this.#udp = undefined;
      await this.#flv.stop();
      await this.#hlsServer?.shutdown();
      throw err;
    }
    this.#running = true;
    if (this.#opts.enableRecord) {
      this.#recorder = new HubRecorder({
        hub: this.#hub,
        dir: this.#opts.recordDir ?? "./record",
        logger: this.#log,
      });
    }
    const cq = this.#opts.cloudQuic;
    if (cq) this.#links.open(cq.host, cq.port);
    this.#recv = this.#receiveLoop(this.#udp);
    this.#historyTimer = setInterval(() => {
      const streams = this.streams();
      this.#history.record(Date.now(), streams);
      applyRepairPolicy(this.#policy, this.#links, this.#rx, streams);
    }, 1000);
    const p = this.ports;
    const packLoss = this.#opts.packLoss ?? 0;
    this.#log.info("edge started", {
      udp: `${u.group ?? u.hostname}:${p.udp}`,
      flv: p.flv,
      api: p.api,
      hls: p.hls,
      latencyMs: this.#opts.latencyMs ?? 200,
      packLoss: packLoss || undefined,
    });
    if (packLoss > 0) {
      this.#log.warn("simulated input loss is on", { packLoss });
    }
  }

  /** Ends every stream (players get the end of their body), closes the
   * sockets, servers, retransmission links and recordings. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#historyTimer);
    try {
      this.#udp?.close();
    } catch { /* already closed */ }
    await this.#recv;
    this.#rx.endAll("edge stopping");
    this.#hls?.stop();
    this.#hlsGate.close();
    await this.#hlsServer?.shutdown();
    await this.#flv.stop();
    await this.#api?.shutdown();
    await this.#links.close();
    await this.#recorder?.close();
    this.#log.info("edge stopped");
  }

  /** The live streams' last 2 minutes, sampled each second (the charts). */
  history(keys?: readonly string[]): HistoryDocument {
    return this.#history.snapshot(keys);
  }

  /** Snapshots of the live streams for the API. */
  streams(): EdgeStreamInfo[] {
    const streams = this.#rx.streams();
    if (this.#recorder) {
      for (const s of streams) s.recording = this.#recorder.pathOf(s.key);
    }
    return streams;
  }

  /** Metric families for `/metrics`. */
  metrics(): MetricFamily[] {
    const src = this.#snapshot();
    return [
      ...edgeMetrics(src),
      ...this.#refusals.metrics(),
      ...(this.#hls?.metrics() ?? []),
    ];
  }

  #snapshot(): EdgeMetricsSource {
    return {
      streams: this.streams(),
      stats: this.#rx.stats,
      players: this.#flv.stats,
      links: linkSnapshots(this.#links),
    };
  }

  // --- I/O: datagrams in, one timer ------------------------------------------

  async #receiveLoop(conn: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(65536);
    // 32 slots of 64 KiB: any datagram whole (2 MiB, allocated once).
    this.#batchRx = UdpBatchReceiver.open(conn, 32, 65536);
    while (this.#running) {
      let data: Uint8Array;
      let addr: Deno.Addr;
      try {
        [data, addr] = await conn.receive(buf);
      } catch (err) {
        if (!this.#running) return;
        if (err instanceof Deno.errors.BadResource) return;
        this.#log.warn("udp receive failed", { error: err });
        continue;
      }
      const now = performance.now();
      this.#rx.receive(data, addr as Deno.NetAddr, now);
      // Whatever else is queued already: one recvmmsg call, not an op each.
      this.#batchRx?.drain(this.#onDatagram);
      this.#arm();
    }
  }

  #onDatagram = (data: Uint8Array, from: Deno.NetAddr): void => {
    this.#rx.receive(data, from, performance.now());
  };

  /** Arms the one timer at the core's next event (none while idle). */
  #arm(): void {
    if (!this.#running) return;
    const at = this.#rx.nextEventAt() ?? Infinity;
    // Re-arming costs a timer op: only when the event moved earlier.
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    if (at === Infinity) return;
    // At least 1 ms ahead, so that no event can spin the loop.
    const delay = Math.max(1, at - performance.now());
    this.#timer = setTimeout(() => {
      this.#timerAt = Infinity;
      this.#timer = undefined;
      this.#rx.tick(performance.now());
      this.#arm();
    }, delay);
  }

  // --- repair links ------------------------------------------------------

  #repair(req: RepairRequest): void {
    const link = this.#links.forSource(req.source);
    const timeoutMs = Math.max(1, req.budgetMs);
    const results = link.request(req.ssrc, req.seqs, { timeoutMs });
    results.forEach((r, i) => {
      r.then((res) => {
        if (!this.#running) return;
        this.#rx.repaired(req, req.seqs[i], res, performance.now());
        this.#arm();
      });
    });
  }

  #askKeys(ssrc: number, source: PeerAddress): void {
    this.#links.forSource(source).requestApp("KEYS", ssrc, {
      timeoutMs: 1000,
    }).then((app) => {
      if (!this.#running) return;
      const answer = readKeysAnswer(app, ssrc, this.#log);
      this.#rx.keys(ssrc, answer, performance.now());
      this.#arm();
    });
  }
}
