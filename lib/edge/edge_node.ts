/**
 * The edge role (I/O): receives the cloud's RTP/RTCP on one UDP port
 * (unicast, or a joined multicast group), learns streams from RTCP SDES,
 * reorders and repairs each stream ({@linkcode JitterBuffer} + QUIC
 * {@linkcode RtxClient}), and serves the rebuilt FLV tags to players over
 * HTTP-FLV / WebSocket-FLV, with its own API port.
 *
 * @module
 */
import { FlvFileWriter, type FlvTag, recordFileName } from "../flv/mod.ts";
import {
  FlvHttpServer,
  type HubStream,
  listenHttp,
  type RunningHttpServer,
  StreamHub,
} from "../http/mod.ts";
import { snakeKeys } from "../api/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import type { MetricFamily } from "../metrics/mod.ts";
import { type QuicImpl, RtxClient, type RtxResult } from "../quic/mod.ts";
import { setSocketBuffer, type SocketBufferResult } from "../net/mod.ts";
import { ntpToUnixMs, parseRtcp, type RtcpPacket } from "../rtcp/mod.ts";
import {
  isRtcp,
  parseRtp,
  RTP_PAYLOAD_TYPE,
  type RtpPacket,
} from "../rtp/mod.ts";
import { VERSION } from "../version/mod.ts";
import { webHandler } from "../web/mod.ts";
import { HlsService } from "../hls/mod.ts";
import { edgeApiHandler, type EdgeStreamInfo } from "./edge_api.ts";
import { JitterBuffer } from "./jitter_buffer.ts";

/** A host and port to listen on. */
export interface ListenAddress {
  /** Local address; `0.0.0.0` for all. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
}

/** Options for {@linkcode EdgeNode}. */
export interface EdgeNodeOptions {
  /** Where RTP/RTCP arrive (rtcp-mux on one port). */
  udp: ListenAddress & {
    /** Multicast group (239.x.x.x) to join; unicast when absent. */
    group?: string;
    /** Local address of the interface to join the group on. */
    multicastInterface?: string;
  };
  /** HTTP-FLV / WebSocket-FLV / status page. */
  flv: ListenAddress;
  /** Edge API (`/api/streams`, `/metrics`, `/healthz`). */
  api: ListenAddress;
  /** The cloud's QUIC retransmission service; default: the RTP source
   * address with {@linkcode EdgeNodeOptions.quicPort}. */
  cloudQuic?: { host: string; port: number };
  /** QUIC port used with the RTP source address when `cloudQuic` is absent. */
  quicPort: number;
  /** Shared secret presented to the cloud (`AUTH`); empty: none. */
  secret?: string;
  /** Pinned SHA-256 fingerprint of the cloud certificate. */
  fingerprint?: string;
  /** CA PEM that signs the cloud certificate. */
  caPem?: string;
  /** Accept any cloud certificate (explicit, logged). */
  insecureSkipVerify?: boolean;
  /** QUIC implementation of the repair link; default `native`. */
  quicImpl?: QuicImpl;
  /** Reorder + repair budget in ms. Default 200. */
  latencyMs?: number;
  /** Simulated random loss of incoming RTP packets (0..1), for demos. */
  packLoss?: number;
  /** Record every stream to FLV in `recordDir`. */
  enableRecord?: boolean;
  /** Where recordings go. Default `./record`. */
  recordDir?: string;
  /** A stream silent this long is ended (ms). Default 5000. */
  streamTimeoutMs?: number;
  /** Logger. */
  logger?: Logger;
  /** Bytes a player may fall behind before it is cut off. Default 8 MiB. */
  playerQueueBytes?: number;
  /** Packets held per SSRC not yet named by SDES. Default 512. */
  maxHeldPackets?: number;
  /** SSRCs not yet named that are held at once. Default 16. */
  maxHeldSsrcs?: number;
  /** Deadline/NACK timer period (ms). Default 10. */
  tickMs?: number;
  /** Most streams served at once; SDES naming more is refused. Default 1000. */
  maxStreams?: number;
  /**
   * Most packets requested for repair per second, over all streams (token
   * bucket, one second of burst). Past it, missing packets are given up at
   * once instead of asked for, so a loss storm cannot turn into a repair
   * storm that starves the node and the cloud. Default 500.
   */
  maxRepairPerSecond?: number;
  /**
   * UDP receive buffer to ask the kernel for (bytes; `edge.udp_rcvbuf`),
   * set through the libc helper of lib/net; 0 leaves the kernel default.
   * Default 8 MiB.
   */
  udpReceiveBuffer?: number;
  /** Serve the web page (stream list + mpegts.js player) on the FLV port.
   * Default true. */
  webPage?: boolean;
  /**
   * HLS / LL-HLS (`/live/NAME.m3u8`): on the FLV port, and on `addr` when
   * given; `false` turns it off. Default: on, FLV port only.
   */
  hls?: false | {
    /** Own listener (the seed's `:7002`). */
    addr?: ListenAddress;
    /** LL-HLS part target (ms). Default 200. */
    partMs?: number;
    /** Segments in the live window. Default 6. */
    segments?: number;
  };
}

/** Node-wide counters. */
export interface EdgeNodeStats {
  /** UDP datagrams received. */
  datagrams: number;
  /** RTCP compounds received. */
  rtcpPackets: number;
  /** Datagrams that did not parse as RTP or RTCP, or wrong payload type. */
  malformed: number;
  /** RTP packets dropped by the simulated loss (`packLoss`). */
  simulatedDrops: number;
  /** Packets held for an SSRC not yet named that were discarded. */
  unnamedDropped: number;
  /** Packets of an SSRC that no longer owns its stream key. */
  stalePackets: number;
  /** Streams learned since start. */
  streamsTotal: number;
  /** Streams replaced by a new SSRC for the same key (republish). */
  republishes: number;
  /** New streams refused because `maxStreams` were live. */
  streamsRefused: number;
  /** Missing packets given up without asking, over `maxRepairPerSecond`. */
  repairShed: number;
}

interface Held {
  packets: RtpPacket[];
  firstAt: number;
}

/** One live stream at the edge (by key). */
class EdgeStream {
  key: string;
  ssrc: number;
  source: Deno.NetAddr;
  jb: JitterBuffer;
  hub: HubStream;
  startedAt = new Date();
  lastPacketAt: number;
  bytesIn = 0;
  delayMs: number | null = null;
  endAt: number | undefined;
  recorder: FlvFileWriter | undefined;
  loggedUnrecoverable = 0;
  lastLossLogAt = 0;

  constructor(
    key: string,
    ssrc: number,
    source: Deno.NetAddr,
    jb: JitterBuffer,
    hub: HubStream,
    now: number,
  ) {
    this.key = key;
    this.ssrc = ssrc;
    this.source = source;
    this.jb = jb;
    this.hub = hub;
    this.lastPacketAt = now;
  }
}

/** Timer period while no stream is live (ms). */
const IDLE_TICK_MS = 250;
const LOSS_LOG_INTERVAL_MS = 10_000;
const RETIRED_MS = 10_000;

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
  #latency: number;
  #timeout: number;
  #packLoss: number;
  #hub = new StreamHub();
  #flv: FlvHttpServer;
  #hls: HlsService | undefined;
  #hlsServer: RunningHttpServer | undefined;
  #api: RunningHttpServer | undefined;
  #udp: Deno.DatagramConn | undefined;
  #rcvbuf: SocketBufferResult | undefined;
  #membership: Deno.MulticastV4Membership | undefined;
  #recv: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #tickIdle = false;
  #running = false;
  #streams = new Map<string, EdgeStream>();
  #bySsrc = new Map<number, EdgeStream>();
  #held = new Map<number, Held>();
  #retired = new Map<number, number>();
  #rtx = new Map<string, RtxClient>();
  #closing = new Set<Promise<void>>();
  #stats: EdgeNodeStats = {
    datagrams: 0,
    rtcpPackets: 0,
    malformed: 0,
    simulatedDrops: 0,
    unnamedDropped: 0,
    stalePackets: 0,
    streamsTotal: 0,
    republishes: 0,
    streamsRefused: 0,
    repairShed: 0,
  };
  #repairTokens = 0;
  #repairRefillAt = 0;
  #lastShedLogAt = -Infinity;
  #lastRefusalLogAt = -Infinity;

  /**
   * Validates the options; {@linkcode start} binds the ports.
   *
   * @throws {TypeError} without any of `fingerprint`, `caPem` or
   *   `insecureSkipVerify`; {@linkcode RangeError} on a bad number.
   */
  constructor(options: EdgeNodeOptions) {
    this.#opts = options;
    this.#log = options.logger ?? nullLogger;
    this.#latency = options.latencyMs ?? 200;
    this.#timeout = options.streamTimeoutMs ?? 5000;
    this.#packLoss = options.packLoss ?? 0;
    if (!(this.#latency >= 0)) {
      throw new RangeError(
        `EdgeNode latencyMs: expected a number >= 0, got ${options.latencyMs}`,
      );
    }
    if (!(this.#packLoss >= 0 && this.#packLoss <= 1)) {
      throw new RangeError(
        `EdgeNode packLoss: expected a number in 0..1, got ${options.packLoss}`,
      );
    }
    if (!(this.#timeout > 0)) {
      throw new RangeError(
        `EdgeNode streamTimeoutMs: expected a number > 0, got ${options.streamTimeoutMs}`,
      );
    }
    if (!options.fingerprint && !options.caPem && !options.insecureSkipVerify) {
      throw new TypeError(
        "EdgeNode: expected one of fingerprint, caPem or insecureSkipVerify to verify the cloud, received none",
      );
    }
    const hls = options.hls ?? {};
    const hlsService = hls === false ? undefined : new HlsService({
      hub: this.#hub,
      partMs: hls.partMs,
      windowSegments: hls.segments,
      logger: this.#log.child("hls"),
    });
    this.#hls = hlsService;
    const web = options.webPage === false ? undefined : webHandler({
      streams: () => this.streams(),
      version: VERSION,
    });
    this.#flv = new FlvHttpServer({
      hub: this.#hub,
      hostname: options.flv.hostname,
      port: options.flv.port,
      logger: this.#log.child("flv"),
      maxQueueBytes: options.playerQueueBytes,
      handler: (req) => hlsService?.handle(req) ?? web?.(req),
    });
  }

  /** Bound ports (after {@linkcode start}). */
  get ports(): { udp: number; flv: number; api: number; hls?: number } {
    return {
      udp: (this.#udp?.addr as Deno.NetAddr | undefined)?.port ??
        this.#opts.udp.port,
      flv: this.#flv.port,
      api: this.#api?.port ?? this.#opts.api.port,
      hls: this.#hlsServer?.port,
    };
  }

  /** The player registry (streams being served). */
  get hub(): StreamHub {
    return this.#hub;
  }

  /** What the kernel gave for the UDP receive buffer (after `start`). */
  get receiveBuffer(): SocketBufferResult | undefined {
    return this.#rcvbuf;
  }

  /** Node-wide counters (a live object). */
  get stats(): Readonly<EdgeNodeStats> {
    return this.#stats;
  }

  /** Opens the UDP socket (joining the group), the FLV and API servers, and
   * starts receiving. Throws naming the address on a busy port. */
  async start(): Promise<void> {
    if (this.#running) return;
    const u = this.#opts.udp;
    try {
      this.#udp = Deno.listenDatagram({
        transport: "udp",
        hostname: u.group ? "0.0.0.0" : (u.hostname || "0.0.0.0"),
        port: u.port,
        reuseAddress: u.group !== undefined,
      });
    } catch (err) {
      throw new Error(
        `edge udp: cannot listen on ${u.hostname || "0.0.0.0"}:${u.port}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
    this.#rcvbuf = this.#sizeReceiveBuffer(this.#udp);
    try {
      if (u.group) {
        this.#membership = await this.#udp.joinMulticastV4(
          u.group,
          u.multicastInterface || "0.0.0.0",
        );
        this.#log.info("joined multicast group", {
          group: u.group,
          interface: u.multicastInterface || "0.0.0.0",
        });
      }
      await this.#flv.start();
      const hlsAddr = this.#opts.hls ? this.#opts.hls.addr : undefined;
      if (this.#hls && hlsAddr) {
        const hls = this.#hls;
        this.#hlsServer = listenHttp({
          hostname: hlsAddr.hostname,
          port: hlsAddr.port,
          handler: (req) =>
            hls.handle(req) ??
              new Response("not found: HLS serves /NAME.m3u8\n", {
                status: 404,
                headers: { "access-control-allow-origin": "*" },
              }),
          logger: this.#log,
          name: "edge hls",
        });
      }
      this.#api = listenHttp({
        hostname: this.#opts.api.hostname,
        port: this.#opts.api.port,
        handler: edgeApiHandler({
          streams: () => this.streams(),
          node: () => this.#nodeInfo(),
          metrics: () => this.metrics(),
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
    const cq = this.#opts.cloudQuic;
    if (cq) this.#rtxLink(cq.host, cq.port);
    this.#recv = this.#receiveLoop(this.#udp);
    this.#armTick(true);
    const p = this.ports;
    this.#log.info("edge started", {
      udp: `${u.group ?? u.hostname}:${p.udp}`,
      flv: p.flv,
      api: p.api,
      hls: p.hls,
      latencyMs: this.#latency,
      packLoss: this.#packLoss || undefined,
    });
    if (this.#packLoss > 0) {
      this.#log.warn("simulated input loss is on", {
        packLoss: this.#packLoss,
      });
    }
  }

  /** Ends every stream (players get the end of their body), closes the
   * sockets, servers, retransmission links and recordings. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      this.#udp?.close();
    } catch { /* already closed */ }
    await this.#recv;
    for (const s of [...this.#streams.values()]) {
      this.#endStream(s, "edge stopping");
    }
    this.#held.clear();
    this.#hls?.stop();
    await this.#hlsServer?.shutdown();
    await this.#flv.stop();
    await this.#api?.shutdown();
    await Promise.allSettled([...this.#rtx.values()].map((c) => c.close()));
    this.#rtx.clear();
    await Promise.allSettled([...this.#closing]);
    this.#log.info("edge stopped");
  }

  /** Snapshots of the live streams for the API. */
  streams(): EdgeStreamInfo[] {
    return [...this.#streams.values()].map((s) => {
      const j = s.jb.stats;
      const h = s.hub.info();
      return {
        key: s.key,
        ssrc: s.ssrc,
        source: `${s.source.hostname}:${s.source.port}`,
        start_time: s.startedAt.toISOString(),
        packets_received: j.received,
        bytes_received: s.bytesIn,
        reordered: j.reordered,
        duplicates: j.duplicates,
        late: j.late,
        lost: j.lost,
        nacked: j.nacked,
        recovered: j.recovered,
        unrecoverable: j.unrecoverable,
        tags_out: j.tagsOut,
        tags_dropped: j.tagsDropped,
        tags_skipped: j.tagsSkipped,
        players: h.players,
        slow_players: h.slowPlayers,
        one_way_delay_ms: s.delayMs === null
          ? null
          : Math.round(s.delayMs * 10) / 10,
        rtt_ms: Math.round(s.jb.rttMs * 10) / 10,
        buffered_packets: s.jb.bufferedPackets,
        pending_repair: s.jb.pending,
        recording: s.recorder?.path ?? null,
      };
    });
  }

  /** Metric families for `/metrics`. */
  // deno-fmt-ignore
  metrics(): MetricFamily[] {
    const streams = this.streams();
    const n = this.#stats;
    const f = this.#flv.stats;
    const rtx = [...this.#rtx.entries()];
    const out: MetricFamily[] = [];
    const add = (
      name: string,
      type: "counter" | "gauge",
      help: string,
      samples: MetricFamily["samples"],
    ) => out.push({ name: `flvcast_edge_${name}`, type, help, samples });
    const node: [string, "counter" | "gauge", string, number][] = [
      ["streams", "gauge", "Live streams at the edge.", streams.length],
      ["streams_total", "counter", "Streams learned.", n.streamsTotal],
      ["republishes_total", "counter", "Keys taken over by a new SSRC.", n.republishes],
      ["udp_datagrams_total", "counter", "UDP datagrams received.", n.datagrams],
      ["rtcp_packets_total", "counter", "RTCP compounds received.", n.rtcpPackets],
      ["malformed_total", "counter", "Datagrams neither valid RTP nor RTCP.", n.malformed],
      ["simulated_drops_total", "counter", "RTP packets dropped by pack_loss.", n.simulatedDrops],
      ["repair_shed_total", "counter", "Missing packets given up over the repair budget.", n.repairShed],
      ["unnamed_dropped_total", "counter", "Held packets of unnamed SSRCs discarded.", n.unnamedDropped],
      ["streams_refused_total", "counter", "New streams refused (max_streams).", n.streamsRefused],
      ["players", "gauge", "Players connected.", f.httpPlayers + f.wsPlayers],
      ["players_total", "counter", "Players accepted.", f.playersTotal],
      ["slow_disconnects_total", "counter", "Players cut off for being too slow.", f.slowDisconnects],
      ["not_found_total", "counter", "Requests for unknown streams.", f.notFound],
    ];
    for (const [name, type, help, value] of node) add(name, type, help, [{ value }]);
    const per: [string, "counter" | "gauge", string, (i: EdgeStreamInfo) => number][] = [
      ["packets_received_total", "counter", "Distinct RTP packets received over UDP.", (i) => i.packets_received],
      ["bytes_received_total", "counter", "RTP bytes received over UDP.", (i) => i.bytes_received],
      ["packets_reordered_total", "counter", "Packets that arrived after a later one.", (i) => i.reordered],
      ["packets_duplicate_total", "counter", "Duplicate packets dropped.", (i) => i.duplicates],
      ["packets_late_total", "counter", "Packets that arrived too late.", (i) => i.late],
      ["packets_lost_total", "counter", "Packets found missing.", (i) => i.lost],
      ["nacks_total", "counter", "NACK requests issued.", (i) => i.nacked],
      ["packets_recovered_total", "counter", "Packets recovered by retransmission.", (i) => i.recovered],
      ["packets_unrecoverable_total", "counter", "Packets given up.", (i) => i.unrecoverable],
      ["tags_out_total", "counter", "Tags released to players.", (i) => i.tags_out],
      ["tags_dropped_total", "counter", "Tags dropped whole.", (i) => i.tags_dropped],
      ["tags_skipped_total", "counter", "Video tags withheld until a keyframe.", (i) => i.tags_skipped],
      ["players", "gauge", "Players of the stream.", (i) => i.players],
      ["one_way_delay_ms", "gauge", "One-way delay from the Sender Reports.", (i) => i.one_way_delay_ms ?? 0],
      ["rtt_ms", "gauge", "Retransmission round-trip estimate.", (i) => i.rtt_ms],
    ];
    for (const [name, type, help, get] of per) {
      add(`stream_${name}`, type, help, streams.map((i) => ({ labels: { key: i.key }, value: get(i) })));
    }
    const link: [string, "counter" | "gauge", string, (c: RtxClient) => number][] = [
      ["connected", "gauge", "Retransmission link up (1) or not (0).", (c) => (c.connected ? 1 : 0)],
      ["connects_total", "counter", "Retransmission connections made.", (c) => c.stats.connects],
      ["connect_failures_total", "counter", "Connection attempts failed.", (c) => c.stats.connectFailures],
      ["packets_ok_total", "counter", "Packets the cloud sent back.", (c) => c.stats.packetsOk],
      ["packets_unavailable_total", "counter", "Packets the cloud no longer had.", (c) => c.stats.packetsUnavailable],
      ["packets_timeout_total", "counter", "Requests without an answer in time.", (c) => c.stats.packetsTimeout],
    ];
    for (const [name, type, help, get] of link) {
      add(`rtx_${name}`, type, help, rtx.map(([cloud, c]) => ({ labels: { cloud }, value: get(c) })));
    }
    if (this.#hls) out.push(...this.#hls.metrics());
    return out;
  }

  /** Sets the UDP receive buffer and says what the kernel gave. */
  #sizeReceiveBuffer(conn: Deno.DatagramConn): SocketBufferResult | undefined {
    const bytes = this.#opts.udpReceiveBuffer ?? 8 << 20;
    if (bytes <= 0) return undefined;
    const r = setSocketBuffer(
      (conn.addr as Deno.NetAddr).port,
      "receive",
      bytes,
    );
    const fields = {
      requested: r.requested,
      effective: r.effective,
      method: r.method,
    };
    if (r.warning) this.#log.warn(r.warning, fields);
    else this.#log.info("edge UDP receive buffer set", fields);
    return r;
  }

  #nodeInfo(): Record<string, unknown> {
    const u = this.#opts.udp;
    const b = this.#rcvbuf;
    return {
      role: "edge",
      version: VERSION,
      ports: this.ports,
      udp_rcvbuf: b
        ? { requested: b.requested, effective: b.effective, method: b.method }
        : null,
      group: u.group ?? null,
      latency_ms: this.#latency,
      pack_loss: this.#packLoss,
      stream_timeout_ms: this.#timeout,
      recording: this.#opts.enableRecord ?? false,
      stats: snakeKeys(this.#stats),
      players: snakeKeys(this.#flv.stats),
      rtx: [...this.#rtx.entries()].map(([cloud, c]) => ({
        cloud,
        connected: c.connected,
        last_error: c.lastError || null,
        stats: snakeKeys(c.stats),
      })),
    };
  }

  // --- receive -------------------------------------------------------------

  async #receiveLoop(conn: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(65536);
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
      this.#stats.datagrams++;
      try {
        this.#onDatagram(data, addr as Deno.NetAddr);
      } catch (err) {
        // Never let one bad datagram or stream stop the loop.
        this.#stats.malformed++;
        this.#log.debug("datagram handling failed", { error: err });
      }
    }
  }

  #onDatagram(data: Uint8Array, from: Deno.NetAddr): void {
    if (this.#tickIdle) this.#armTick(false);
    const now = performance.now();
    if (isRtcp(data)) {
      let packets: RtcpPacket[];
      try {
        packets = parseRtcp(data);
      } catch (err) {
        this.#stats.malformed++;
        this.#log.debug("bad rtcp", { from: from.hostname, error: err });
        return;
      }
      this.#stats.rtcpPackets++;
      // Names first (so this compound's SR already finds its stream), then
      // reports, then BYEs.
      const sdes = packets.filter((p) => p.type === "sdes");
      const rest = packets.filter((p) => p.type !== "sdes");
      rest.sort((a, b) => Number(a.type === "bye") - Number(b.type === "bye"));
      for (const p of [...sdes, ...rest]) this.#onRtcp(p, from, now, packets);
      return;
    }
    if (this.#packLoss > 0 && Math.random() < this.#packLoss) {
      this.#stats.simulatedDrops++;
      return;
    }
    let packet: RtpPacket;
    try {
      // The receive buffer is reused: keep a copy.
      packet = parseRtp(data.slice());
    } catch (err) {
      this.#stats.malformed++;
      this.#log.debug("bad rtp", { from: from.hostname, error: err });
      return;
    }
    if (packet.payloadType !== RTP_PAYLOAD_TYPE) {
      this.#stats.malformed++;
      return;
    }
    const stream = this.#bySsrc.get(packet.ssrc);
    if (stream) {
      stream.bytesIn += data.length;
      this.#push(stream, packet, now, "udp");
      return;
    }
    if (this.#retired.has(packet.ssrc)) return;
    this.#hold(packet, now);
  }

  #hold(packet: RtpPacket, now: number): void {
    let held = this.#held.get(packet.ssrc);
    if (!held) {
      if (this.#held.size >= (this.#opts.maxHeldSsrcs ?? 16)) {
        // Evict the SSRC held longest.
        const [oldest, h] = this.#held.entries().next().value!;
        this.#held.delete(oldest);
        this.#stats.unnamedDropped += h.packets.length;
      }
      held = { packets: [], firstAt: now };
      this.#held.set(packet.ssrc, held);
    }
    held.packets.push(packet);
    if (held.packets.length > (this.#opts.maxHeldPackets ?? 512)) {
      held.packets.shift();
      this.#stats.unnamedDropped++;
    }
  }

  #onRtcp(
    p: RtcpPacket,
    from: Deno.NetAddr,
    now: number,
    compound: RtcpPacket[],
  ): void {
    switch (p.type) {
      case "sdes":
        for (const c of p.chunks) {
          if (!c.key) continue;
          const sr = compound.find((q) => q.type === "sr" && q.ssrc === c.ssrc);
          const fresh = sr?.type === "sr" && sr.packetCount === 0;
          this.#name(c.ssrc, c.key, from, now, fresh);
        }
        break;
      case "sr": {
        const s = this.#bySsrc.get(p.ssrc);
        if (s && s.ssrc === p.ssrc) {
          const sample = Date.now() - ntpToUnixMs(p.ntpSec, p.ntpFrac);
          s.delayMs = s.delayMs === null
            ? sample
            : s.delayMs + (sample - s.delayMs) / 8;
          s.lastPacketAt = now;
          this.#deliver(s, s.jb.senderReport(p.ssrc, p.packetCount, now));
        }
        break;
      }
      case "bye":
        for (const ssrc of p.ssrcs) {
          this.#held.delete(ssrc);
          this.#retired.set(ssrc, now + RETIRED_MS);
          const s = this.#bySsrc.get(ssrc);
          if (s && s.ssrc === ssrc && s.endAt === undefined) {
            // Give repairs in flight the budget to finish, then end.
            s.endAt = now + this.#latency;
            this.#log.info("stream bye", {
              key: s.key,
              ssrc,
              reason: p.reason,
            });
          }
        }
        break;
      default:
        break;
    }
  }

  /** SDES named `ssrc` as stream `key`; `fresh`: its SR counted 0 packets
   * (the stream has just begun, so its very first packets are wanted). */
  #name(
    ssrc: number,
    key: string,
    from: Deno.NetAddr,
    now: number,
    fresh: boolean,
  ): void {
    const known = this.#bySsrc.get(ssrc);
    if (known) {
      if (known.ssrc === ssrc) {
        known.lastPacketAt = Math.max(known.lastPacketAt, now);
      }
      return;
    }
    if (this.#retired.has(ssrc)) return;
    let stream = this.#streams.get(key);
    if (stream) {
      // Republish: a new SSRC takes the key over. Players of the old
      // publish get the end of their body and reconnect to the new one.
      this.#log.info("stream republished", {
        key,
        oldSsrc: stream.ssrc,
        ssrc,
      });
      this.#stats.republishes++;
      this.#stopRecording(stream);
      stream.ssrc = ssrc;
      stream.source = from;
      stream.endAt = undefined;
      stream.lastPacketAt = now;
      stream.delayMs = null;
      // Nothing of the old publish may reach the new players.
      stream.jb.reset();
      stream.hub = this.#hub.open(key);
      this.#startRecording(stream);
    } else {
      if (this.#streams.size >= (this.#opts.maxStreams ?? 1000)) {
        this.#stats.streamsRefused++;
        if (now - this.#lastRefusalLogAt > LOSS_LOG_INTERVAL_MS) {
          this.#lastRefusalLogAt = now;
          this.#log.warn("stream refused: too many streams", {
            key,
            ssrc,
            maxStreams: this.#opts.maxStreams ?? 1000,
          });
        }
        return;
      }
      stream = new EdgeStream(
        key,
        ssrc,
        from,
        new JitterBuffer({ latencyMs: this.#latency }),
        this.#hub.open(key),
        now,
      );
      this.#streams.set(key, stream);
      this.#stats.streamsTotal++;
      this.#rtxFor(stream);
      this.#log.info("stream started", {
        key,
        ssrc,
        source: `${from.hostname}:${from.port}`,
      });
      this.#startRecording(stream);
    }
    this.#bySsrc.set(ssrc, stream);
    if (fresh) stream.jb.expectStreamStart();
    const held = this.#held.get(ssrc);
    if (held) {
      this.#held.delete(ssrc);
      for (const p of held.packets) {
        stream.bytesIn += 12 + p.payload.length;
        this.#push(stream, p, now, "udp");
      }
    }
  }

  #push(
    stream: EdgeStream,
    packet: RtpPacket,
    now: number,
    source: "udp" | "rtx",
  ): void {
    if (packet.ssrc !== stream.ssrc) {
      this.#stats.stalePackets++;
      return;
    }
    if (source === "udp") stream.lastPacketAt = now;
    this.#deliver(stream, stream.jb.push(packet, now, source));
  }

  #deliver(stream: EdgeStream, tags: FlvTag[]): void {
    for (const tag of tags) {
      stream.hub.push(tag);
      this.#record(stream, tag);
    }
  }

  // --- timer: deadlines, NACKs, timeouts ------------------------------------

  /**
   * The deadline/NACK timer runs every `tickMs` while there is anything to
   * time, and slowly (250 ms) while the edge is idle: an idle 10 ms interval
   * alone cost ~1.5 % of a core (bench).
   */
  #armTick(idle: boolean): void {
    clearInterval(this.#timer);
    this.#tickIdle = idle;
    this.#timer = setInterval(
      () => this.#tick(),
      idle ? IDLE_TICK_MS : this.#opts.tickMs ?? 10,
    );
  }

  #tick(): void {
    const now = performance.now();
    for (const s of [...this.#streams.values()]) {
      this.#deliver(s, s.jb.poll(now));
      const seqs = s.jb.nacks(now);
      if (seqs.length > 0) this.#requestRtx(s, seqs, now);
      this.#logLoss(s, now);
      if (s.endAt !== undefined && now >= s.endAt) {
        this.#endStream(s, "bye");
      } else if (now - s.lastPacketAt > this.#timeout) {
        this.#endStream(s, "timeout");
      }
    }
    for (const [ssrc, h] of this.#held) {
      if (now - h.firstAt > this.#timeout) {
        this.#held.delete(ssrc);
        this.#stats.unnamedDropped += h.packets.length;
      }
    }
    for (const [ssrc, until] of this.#retired) {
      if (now > until) this.#retired.delete(ssrc);
    }
    if (!this.#tickIdle && this.#streams.size === 0 && this.#held.size === 0) {
      this.#armTick(true);
    }
  }

  #logLoss(s: EdgeStream, now: number): void {
    const lost = s.jb.stats.unrecoverable;
    if (lost === s.loggedUnrecoverable) return;
    if (now - s.lastLossLogAt < LOSS_LOG_INTERVAL_MS) return;
    const rtx = this.#rtxFor(s);
    this.#log.warn("packets could not be repaired; incomplete tags dropped", {
      key: s.key,
      unrecoverable: lost - s.loggedUnrecoverable,
      tagsDropped: s.jb.stats.tagsDropped,
      rtxConnected: rtx.connected,
      rtxError: rtx.lastError || undefined,
    });
    s.loggedUnrecoverable = lost;
    s.lastLossLogAt = now;
  }

  #endStream(s: EdgeStream, reason: string): void {
    if (this.#streams.get(s.key) !== s) return;
    this.#streams.delete(s.key);
    for (const [ssrc, st] of this.#bySsrc) {
      if (st === s) this.#bySsrc.delete(ssrc);
    }
    this.#deliver(s, s.jb.poll(Number.POSITIVE_INFINITY));
    s.hub.end(reason);
    this.#stopRecording(s);
    const j = s.jb.stats;
    this.#log.info("stream ended", {
      key: s.key,
      ssrc: s.ssrc,
      reason,
      received: j.received,
      recovered: j.recovered,
      unrecoverable: j.unrecoverable,
      tagsOut: j.tagsOut,
      tagsDropped: j.tagsDropped,
    });
  }

  // --- retransmission -------------------------------------------------------

  #rtxFor(s: EdgeStream): RtxClient {
    return this.#rtxLink(
      this.#opts.cloudQuic?.host ?? s.source.hostname,
      this.#opts.cloudQuic?.port ?? this.#opts.quicPort,
    );
  }

  /**
   * The retransmission link to a cloud, opened at once (not at the first
   * NACK) so the QUIC handshake is over before the first loss needs it.
   */
  #rtxLink(host: string, port: number): RtxClient {
    const id = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    let client = this.#rtx.get(id);
    if (!client) {
      client = new RtxClient({
        host,
        port,
        secret: this.#opts.secret || undefined,
        fingerprint: this.#opts.fingerprint,
        caPem: this.#opts.caPem,
        insecureSkipVerify: this.#opts.insecureSkipVerify,
        impl: this.#opts.quicImpl,
        logger: this.#log.child("rtx"),
      });
      this.#rtx.set(id, client);
      // An empty request only opens the connection (the client is lazy).
      client.request(0, [], { timeoutMs: 0 });
    }
    return client;
  }

  /** How many of `wanted` repairs the budget allows now. */
  #takeRepairTokens(wanted: number, now: number): number {
    const rate = this.#opts.maxRepairPerSecond ?? 500;
    this.#repairTokens = Math.min(
      rate,
      this.#repairTokens + (now - this.#repairRefillAt) * rate / 1000,
    );
    this.#repairRefillAt = now;
    const granted = Math.min(wanted, Math.floor(this.#repairTokens));
    this.#repairTokens -= granted;
    return granted;
  }

  #requestRtx(s: EdgeStream, seqs: number[], now: number): void {
    const granted = this.#takeRepairTokens(seqs.length, now);
    if (granted < seqs.length) {
      const shed = seqs.slice(granted);
      seqs = seqs.slice(0, granted);
      this.#stats.repairShed += shed.length;
      if (now - this.#lastShedLogAt > LOSS_LOG_INTERVAL_MS) {
        this.#lastShedLogAt = now;
        this.#log.warn("repair budget exhausted; giving up missing packets", {
          key: s.key,
          shed: shed.length,
          maxRepairPerSecond: this.#opts.maxRepairPerSecond ?? 500,
        });
      }
      this.#deliver(s, s.jb.markUnavailable(shed, now));
      if (seqs.length === 0) return;
    }
    const client = this.#rtxFor(s);
    const ssrc = s.ssrc;
    const results = client.request(ssrc, seqs, {
      timeoutMs: Math.max(1, this.#latency),
    });
    results.forEach((r, i) => {
      r.then((res) => this.#onRtx(s, ssrc, seqs[i], res, now));
    });
  }

  #onRtx(
    s: EdgeStream,
    ssrc: number,
    seq: number,
    res: RtxResult,
    sentAt: number,
  ): void {
    if (!this.#running || s.ssrc !== ssrc || this.#streams.get(s.key) !== s) {
      return;
    }
    const now = performance.now();
    if (res.status === "ok") {
      let packet: RtpPacket;
      try {
        packet = parseRtp(res.packet);
      } catch {
        this.#stats.malformed++;
        return;
      }
      if (packet.ssrc !== ssrc || packet.sequence !== seq) {
        this.#stats.malformed++;
        return;
      }
      s.jb.updateRtt(now - sentAt);
      this.#push(s, packet, now, "rtx");
    } else if (res.status === "unavailable") {
      this.#deliver(s, s.jb.markUnavailable([seq], now));
    }
  }

  // --- recording -------------------------------------------------------------

  #startRecording(s: EdgeStream): void {
    if (!this.#opts.enableRecord) return;
    const dir = (this.#opts.recordDir ?? "./record").replace(/\/+$/, "") || "/";
    const base = recordFileName(s.key).replace(/\.flv$/, "");
    try {
      Deno.mkdirSync(dir, { recursive: true });
      for (let i = 0;; i++) {
        const path = `${dir}/${base}${i ? `-${i}` : ""}.flv`;
        try {
          const w = FlvFileWriter.create(path, {
            onError: (err) => {
              this.#log.error("recording failed", { key: s.key, error: err });
              if (s.recorder === w) this.#stopRecording(s);
            },
          });
          s.recorder = w;
          this.#log.info("recording", { key: s.key, path });
          return;
        } catch (err) {
          const exists = (err as Error).cause instanceof
            Deno.errors.AlreadyExists;
          if (i >= 20 || !exists) throw err;
        }
      }
    } catch (err) {
      this.#log.error("cannot record stream", { key: s.key, error: err });
    }
  }

  #record(s: EdgeStream, tag: FlvTag): void {
    // Errors reach onError once; the rejected promise is handled there.
    s.recorder?.write(tag).catch(() => {});
  }

  #stopRecording(s: EdgeStream): void {
    const w = s.recorder;
    s.recorder = undefined;
    if (!w) return;
    const closing = w.close().finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }
}
