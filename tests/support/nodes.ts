/**
 * Shared setup for end-to-end tests: free ports, a CloudNode + EdgeNode pair
 * running in-process on loopback, and the flags that run `main.ts` on free
 * ports.
 *
 * @module
 */
import { CloudNode, type CloudNodeOptions } from "../../lib/cloud/mod.ts";
import { EdgeNode, type EdgeNodeOptions } from "../../lib/edge/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import {
  type CertificateBundle,
  generateSelfSigned,
  type RtxClient,
} from "../../lib/quic/mod.ts";
import {
  publishLavfi,
  type PublishOptions,
  type RunningProcess,
} from "../../testkit/media.ts";
import { until } from "../../testkit/poll.ts";
import { RtpTestReceiver } from "./rtp_receiver.ts";
import { rtxClientOf } from "./rtx.ts";

const local = { hostname: "127.0.0.1", port: 0 };

import { freeUdpPort } from "../../testkit/ports.ts";
export { freeUdpPort };

/**
 * `main.ts` flags that put every listener of cloud + edge on a free
 * 127.0.0.1 port, with the cloud sending RTP to the edge at `edgeUdpPort`
 * (which both must know up front: take it from {@linkcode freeUdpPort}).
 *
 * @example Usage
 * ```ts ignore
 * const args = ["run", "-A", "main.ts", ...freePortFlags(freeUdpPort())];
 * ```
 */
export function freePortFlags(edgeUdpPort: number): string[] {
  return [
    "--rtmp_addr=127.0.0.1:0",
    "--api_addr=127.0.0.1:0",
    "--quic_addr=127.0.0.1:0",
    "--rtp_port=0",
    `--client_addr_list=127.0.0.1:${edgeUdpPort}`,
    `--edge.udp_addr=127.0.0.1:${edgeUdpPort}`,
    "--edge.flv_addr=127.0.0.1:0",
    "--edge.api_addr=127.0.0.1:0",
    "--edge.hls_addr=127.0.0.1:0",
  ];
}

/** Options for {@linkcode startTestCloud}. */
export interface TestCloudOptions {
  /** The 127.0.0.1 port the cloud sends RTP to. */
  destinationPort: number;
  /** The record directory; default none (recording off unless `record`). */
  recordDir?: string;
  /** Record every stream into `recordDir`; default false. */
  record?: boolean;
  /** Secret the QUIC service requires; default none (`""`). */
  quicSecret?: string;
  /** SRTP on the RTP it sends; default false. */
  srtp?: boolean;
  /** The QUIC port; default a free one. */
  quicPort?: number;
  /** The QUIC certificate; default a new self-signed one. */
  tls?: CertificateBundle;
  /** Further CloudNode options (they override the above but `srtp`). */
  cloud?: Partial<CloudNodeOptions>;
}

/**
 * Starts a CloudNode in-process, every listener on a free 127.0.0.1 port,
 * sending RTP to 127.0.0.1:`destinationPort`.
 *
 * @example Usage
 * ```ts ignore
 * const cloud = await startTestCloud({ destinationPort: rx.port });
 * ```
 */
export async function startTestCloud(
  opts: TestCloudOptions,
): Promise<CloudNode> {
  const cloud = new CloudNode({
    rtmp: local,
    api: local,
    quic: { hostname: "127.0.0.1", port: opts.quicPort ?? 0 },
    rtpLocal: local,
    destinations: [{ hostname: "127.0.0.1", port: opts.destinationPort }],
    multicastTtl: 1,
    payloadSize: 1180,
    cachePackets: 5000,
    cacheBytes: 64 << 20,
    debug: false,
    enableRecord: opts.record ?? false,
    recordDir: opts.recordDir ?? "/nonexistent",
    quicSecret: opts.quicSecret ?? "",
    tls: opts.tls ?? await generateSelfSigned(),
    logger: nullLogger,
    ...opts.cloud,
    srtp: opts.srtp ?? false,
  });
  await cloud.start();
  return cloud;
}

/** Options for {@linkcode startCloudAndEdge}. */
export interface CloudAndEdgeOptions {
  /** The cloud's record directory (recording off unless `record`). */
  recordDir: string;
  /** Secret the cloud's QUIC service requires; default none (`""`). */
  quicSecret?: string;
  /** Have the edge dial the cloud's QUIC service when it starts (sets
   * `cloudQuic`) instead of on the first RTP packet. Default false. */
  dialCloudAtStart?: boolean;
  /** Further EdgeNode options (`secret`, `latencyMs`, `packLoss`, …). */
  edge?: Partial<EdgeNodeOptions>;
  /** Further CloudNode options (`fecBlock`, `auth`, `hooks`, limits, …). */
  cloud?: Partial<CloudNodeOptions>;
  /** SRTP between cloud and edge (the product's default); default true. */
  srtp?: boolean;
  /** Record every stream at the cloud into `recordDir`; default false. */
  record?: boolean;
}

/** A running CloudNode + EdgeNode pair from {@linkcode startCloudAndEdge}. */
export interface CloudAndEdge {
  /** The cloud (RTMP in, RTP out to the edge). */
  cloud: CloudNode;
  /** The edge (RTP in, HTTP-FLV out). */
  edge: EdgeNode;
  /** Stops the cloud, then the edge. */
  close(): Promise<void>;
}

/**
 * Starts an EdgeNode and then a CloudNode in-process, every listener on a
 * free 127.0.0.1 port, the cloud sending RTP to the edge and serving QUIC
 * retransmission with a generated self-signed certificate the edge pins.
 *
 * @example Usage
 * ```ts ignore
 * const { cloud, edge, close } = await startCloudAndEdge({ recordDir: dir });
 * try {
 *   // publish to cloud.ports.rtmp, play from edge.ports.flv
 * } finally {
 *   await close();
 * }
 * ```
 */
export async function startCloudAndEdge(
  opts: CloudAndEdgeOptions,
): Promise<CloudAndEdge> {
  const tls = await generateSelfSigned();
  const quicPort = freeUdpPort();
  const edge = new EdgeNode({
    udp: local,
    flv: local,
    api: local,
    ...(opts.dialCloudAtStart
      ? { cloudQuic: { host: "127.0.0.1", port: quicPort } }
      : {}),
    quicPort,
    fingerprint: tls.fingerprint,
    logger: nullLogger,
    srtp: opts.srtp ?? true,
    ...opts.edge,
  });
  await edge.start();
  let cloud: CloudNode;
  try {
    cloud = await startTestCloud({
      destinationPort: edge.ports.udp,
      quicPort,
      tls,
      recordDir: opts.recordDir,
      record: opts.record,
      quicSecret: opts.quicSecret,
      srtp: opts.srtp ?? true,
      cloud: opts.cloud,
    });
  } catch (err) {
    await edge.stop();
    throw err;
  }
  return {
    cloud,
    edge,
    async close() {
      await cloud.stop();
      await edge.stop();
    },
  };
}

/**
 * Publishes a lavfi clip (ffmpeg) to `cloud` as `live/<name>` and waits
 * (10 s at most) until the cloud has the stream; the caller disposes it.
 */
export async function publishLive(
  cloud: CloudNode,
  name: string,
  opts: Omit<PublishOptions, "url">,
): Promise<RunningProcess> {
  const pub = publishLavfi({
    url: `rtmp://127.0.0.1:${cloud.ports.rtmp}/live/${name}`,
    ...opts,
  });
  try {
    await until(
      () => cloud.streams.has(`live/${name}`),
      `live/${name} live`,
      10_000,
    );
  } catch (e) {
    await pub[Symbol.asyncDispose]();
    throw e;
  }
  return pub;
}

/** Options for {@linkcode withCloudAndEdge}: {@linkcode startCloudAndEdge}'s
 * without the record directory, which is made for the test. */
export interface TempCloudAndEdgeOptions
  extends Omit<CloudAndEdgeOptions, "recordDir"> {
  /** Prefix of the temporary record directory's name. */
  dirPrefix?: string;
}

/** What {@linkcode withCloudAndEdge} hands the test. */
export interface TempCloudAndEdge extends CloudAndEdge {
  /** The temporary record directory (removed after the test). */
  dir: string;
  /** `rtmp://127.0.0.1:PORT/app` of the cloud's RTMP listener. */
  rtmp: (app?: string) => string;
}

/**
 * Runs `fn` with a cloud + edge pair ({@linkcode startCloudAndEdge}) whose
 * record directory is a fresh temporary one; stops both and removes the
 * directory after, whatever happened.
 *
 * @example Usage
 * ```ts ignore
 * await withCloudAndEdge({ edge: { latencyMs: 600 } }, async ({ cloud, edge, rtmp }) => {
 *   // publish to rtmp("live"), play from edge.ports.flv
 * });
 * ```
 */
export async function withCloudAndEdge(
  opts: TempCloudAndEdgeOptions,
  fn: (nodes: TempCloudAndEdge, dir: string) => Promise<void>,
): Promise<void> {
  const { dirPrefix, ...rest } = opts;
  const dir = await Deno.makeTempDir({ prefix: dirPrefix });
  try {
    const nodes = await startCloudAndEdge({ ...rest, recordDir: dir });
    try {
      await fn({
        ...nodes,
        dir,
        rtmp: (app = "live") =>
          `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/${app}`,
      }, dir);
    } finally {
      await nodes.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What {@linkcode withRecordingCloud} hands the test. */
export interface RecordingCloud {
  /** The cloud: recording on, QUIC secret `s3cret`, 20,000 cached packets. */
  cloud: CloudNode;
  /** Where the cloud sends its RTP. */
  rx: RtpTestReceiver;
  /** A repair client authenticated with the cloud's QUIC secret. */
  client: RtxClient;
  /** The temporary record directory (removed after the test). */
  dir: string;
}

/**
 * Runs `fn` with a cloud alone ({@linkcode startTestCloud}) recording into a
 * temporary directory named after `dirPrefix`, sending RTP (SRTP when
 * `srtp`) to an {@linkcode RtpTestReceiver}, and a repair client of it;
 * closes the client, stops the cloud and removes the directory after.
 */
export async function withRecordingCloud(
  opts: { dirPrefix: string; srtp?: boolean },
  fn: (t: RecordingCloud) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: opts.dirPrefix });
  await using rx = new RtpTestReceiver();
  const cloud = await startTestCloud({
    destinationPort: rx.port,
    recordDir: dir,
    record: true,
    quicSecret: "s3cret",
    srtp: opts.srtp,
    cloud: { cachePackets: 20000 },
  });
  const client = rtxClientOf({
    port: cloud.ports.quic,
    fingerprint: cloud.fingerprint,
  }, { secret: "s3cret" });
  try {
    await fn({ cloud, rx, client, dir });
  } finally {
    await client.close();
    await cloud.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
