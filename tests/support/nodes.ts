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
import { generateSelfSigned } from "../../lib/quic/mod.ts";

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
  const cloud = new CloudNode({
    rtmp: local,
    api: local,
    quic: { hostname: "127.0.0.1", port: quicPort },
    rtpLocal: local,
    destinations: [{ hostname: "127.0.0.1", port: edge.ports.udp }],
    multicastTtl: 1,
    payloadSize: 1180,
    cachePackets: 5000,
    cacheBytes: 64 << 20,
    debug: false,
    enableRecord: opts.record ?? false,
    recordDir: opts.recordDir,
    quicSecret: opts.quicSecret ?? "",
    tls,
    logger: nullLogger,
    ...opts.cloud,
    srtp: opts.srtp ?? true,
  });
  try {
    await cloud.start();
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
 * Runs `fn` with a {@linkcode startCloudAndEdge} pair whose record
 * directory is a fresh temporary one; stops the nodes and removes the
 * directory afterwards, whatever `fn` did.
 *
 * @example Usage
 * ```ts ignore
 * await withCloudAndEdge({ cloud: { maxStreams: 2 } }, async (nodes) => {
 *   // publish to nodes.cloud.ports.rtmp …
 * });
 * ```
 */
export async function withCloudAndEdge(
  opts: Omit<CloudAndEdgeOptions, "recordDir">,
  fn: (nodes: CloudAndEdge, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const nodes = await startCloudAndEdge({ ...opts, recordDir: dir });
    try {
      await fn(nodes, dir);
    } finally {
      await nodes.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
