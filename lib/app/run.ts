/**
 * Starts the configured role(s) from a validated config: the cloud, an edge,
 * or both wired to each other on loopback.
 *
 * @module
 */
import {
  type Config,
  ConfigError,
  resolveAddresses,
  type Role,
} from "../config/mod.ts";
import { CloudNode } from "../cloud/mod.ts";
import { EdgeNode } from "../edge/mod.ts";
import type { Logger } from "../log/mod.ts";
import { fingerprintOf, pemBlocks, pinTarget } from "../quic/mod.ts";
import { loadOrCreateCertificate } from "../state/mod.ts";
import { startMemoryTrim } from "../net/mod.ts";

/** The running nodes. */
export interface RunningNodes {
  /** The cloud, when this process runs it. */
  cloud?: CloudNode;
  /** The edge, when this process runs it. */
  edge?: EdgeNode;
  /** Stops every node (BYE sent, recordings closed, listeners closed). */
  stop(): Promise<void>;
  /**
   * Reads the operator's TLS PEMs again (`tls_cert`/`tls_key`,
   * `edge.tls_cert`/`edge.tls_key`) and gives new connections the new
   * certificate; live connections keep theirs (SIGHUP). A bad file is
   * logged and the old certificate stays.
   */
  reloadTls(): Promise<void>;
}

/** Where a TLS pair comes from: the operator's files or state_dir. */
interface TlsPair {
  certPem: string;
  keyPem: string;
}

/**
 * The certificate of a TLS listener: the operator's PEM files when
 * `certKey` is set, else a self-signed pair made once and kept in
 * `state_dir` under `name` (fingerprint logged either way).
 */
async function tlsPairFor(
  cfg: Config,
  certKey: "tls_cert" | "edge.tls_cert",
  name: string,
  logger: Logger,
): Promise<TlsPair> {
  const keyKey = certKey === "tls_cert" ? "tls_key" : "edge.tls_key";
  const certPath = certKey === "tls_cert" ? cfg.tls_cert : cfg.edge.tls_cert;
  const keyPath = certKey === "tls_cert" ? cfg.tls_key : cfg.edge.tls_key;
  if (certPath) {
    const pair = await readPemPair(certKey, certPath, keyKey, keyPath);
    logger.info(`${name} certificate from ${certKey}`, {
      fingerprint: await fingerprintOf(pair.certPem),
      file: certPath,
    });
    return pair;
  }
  let made;
  try {
    made = await loadOrCreateCertificate({ dir: cfg.state_dir, name });
  } catch (e) {
    throw new ConfigError(
      `key "${certKey}" is empty and ${(e as Error).message}`,
    );
  }
  logger.info(
    made.created
      ? `${name} self-signed certificate made and kept in state_dir`
      : `${name} self-signed certificate loaded from state_dir`,
    { fingerprint: made.fingerprint, file: made.path },
  );
  return { certPem: made.certPem, keyPem: made.keyPem };
}

async function readPemPair(
  certKey: string,
  certPath: string,
  keyKey: string,
  keyPath: string,
): Promise<TlsPair> {
  const certPem = await readFileFor(certKey, certPath);
  const keyPem = await readFileFor(keyKey, keyPath);
  try {
    await fingerprintOf(certPem);
  } catch (e) {
    throw new ConfigError(
      `key "${certKey}": expected a PEM certificate, got ${
        JSON.stringify(certPath)
      } (${(e as Error).message})`,
    );
  }
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(keyPem)) {
    throw new ConfigError(
      `key "${keyKey}": expected a PEM PRIVATE KEY block, got none in ${
        JSON.stringify(keyPath)
      }`,
    );
  }
  return { certPem, keyPem };
}

async function readFileFor(key: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(
      `key "${key}": expected a readable PEM file, got ${
        JSON.stringify(path)
      } (${(e as Error).name})`,
    );
  }
}

/**
 * Starts the nodes of `role` from `cfg`.
 *
 * @throws {ConfigError | Error} with one line naming the key on a bad file or a busy port.
 */
export async function startNodes(
  cfg: Config,
  role: Role,
  logger: Logger,
): Promise<RunningNodes> {
  const addr = resolveAddresses(cfg);
  const secret = repairSecret(cfg, role, logger);
  if (role === "edge" && !addr.cloudQuic) {
    throw new ConfigError(
      `key "edge.cloud_quic_addr": expected the cloud's QUIC host:port in the edge role, got ""`,
    );
  }
  // Freed per-packet buffers back to the system every 2 s (lib/net).
  const stopTrim = startMemoryTrim();
  const nodes: RunningNodes = {
    async stop() {
      stopTrim();
      await Promise.allSettled([nodes.edge?.stop(), nodes.cloud?.stop()]);
    },
    async reloadTls() {
      const jobs: [string, string, string, string, (p: TlsPair) => unknown][] =
        [];
      if (nodes.cloud && addr.rtmps && cfg.tls_cert) {
        jobs.push([
          "tls_cert",
          cfg.tls_cert,
          "tls_key",
          cfg.tls_key,
          (p) => nodes.cloud!.reloadTls(p.certPem, p.keyPem),
        ]);
      }
      if (nodes.edge && addr.edgeHttps && cfg.edge.tls_cert) {
        jobs.push([
          "edge.tls_cert",
          cfg.edge.tls_cert,
          "edge.tls_key",
          cfg.edge.tls_key,
          (p) => nodes.edge!.reloadTls(p.certPem, p.keyPem),
        ]);
      }
      for (const [ck, cp, kk, kp, apply] of jobs) {
        try {
          const pair = await readPemPair(ck, cp, kk, kp);
          await apply(pair);
          logger.info("TLS certificate reloaded", {
            key: ck,
            fingerprint: await fingerprintOf(pair.certPem),
          });
        } catch (e) {
          logger.error("TLS certificate not reloaded; the old one stays", {
            key: ck,
            error: (e as Error).message,
          });
        }
      }
    },
  };
  try {
    if (role !== "edge") {
      let tls;
      if (cfg.quic_cert) {
        const certPem = await readFileFor("quic_cert", cfg.quic_cert);
        const keyPem = await readFileFor("quic_key", cfg.quic_key);
        try {
          await fingerprintOf(certPem);
        } catch (e) {
          throw new ConfigError(
            `key "quic_cert": expected a PEM certificate, got ${
              JSON.stringify(cfg.quic_cert)
            } (${(e as Error).message})`,
          );
        }
        if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(keyPem)) {
          throw new ConfigError(
            `key "quic_key": expected a PEM PRIVATE KEY block, got none in ${
              JSON.stringify(cfg.quic_key)
            }`,
          );
        }
        tls = { certPem, keyPem };
        try {
          pinTarget(pemBlocks(certPem, "CERTIFICATE")[0]);
        } catch (e) {
          logger.child("cloud").warn(
            "quic_cert: edges on Deno's QUIC (quic_impl: native) cannot pin this certificate; edge.cloud_ca with the CA that signed it still works",
            { reason: (e as Error).message },
          );
        }
      } else {
        let made;
        try {
          made = await loadOrCreateCertificate({
            dir: cfg.state_dir,
            name: "quic",
          });
        } catch (e) {
          throw new ConfigError(
            `key "quic_cert" is empty and ${(e as Error).message}`,
          );
        }
        logger.child("cloud").info(
          made.created
            ? "QUIC certificate made and kept in state_dir"
            : "QUIC certificate loaded from state_dir",
          { fingerprint: made.fingerprint, file: made.path },
        );
        tls = { certPem: made.certPem, keyPem: made.keyPem };
      }
      nodes.cloud = new CloudNode({
        rtmp: addr.rtmp,
        api: addr.api,
        quic: addr.quic,
        rtpLocal: { hostname: "0.0.0.0", port: cfg.rtp_port },
        destinations: addr.clients,
        multicastTtl: cfg.multicast_ttl,
        payloadSize: cfg.rtp_payload_size,
        cachePackets: cfg.rtp_cache_size,
        cacheBytes: cfg.rtp_cache_bytes,
        fecBlock: cfg.fec_block,
        debug: cfg.debug,
        enableRecord: cfg.enable_record,
        recordDir: cfg.record_dir,
        quicSecret: secret,
        tls,
        quicImpl: cfg.quic_impl,
        srtp: cfg.srtp,
        udpSendBuffer: cfg.udp_sndbuf,
        logger: logger.child("cloud"),
        auth: cfg.auth,
        hooks: cfg.hooks,
        maxConnections: cfg.limits.max_connections,
        maxStreams: cfg.limits.max_streams,
        maxMessageBytes: cfg.limits.max_message_bytes,
        rtmps: addr.rtmps && {
          address: addr.rtmps,
          ...await tlsPairFor(cfg, "tls_cert", "rtmps", logger.child("cloud")),
        },
        apiToken: cfg.api_token,
      });
      await nodes.cloud.start();
      if (!cfg.srtp) {
        logger.child("cloud").warn(
          "srtp is false: RTP/RTCP go to edges in the clear and unauthenticated (debugging only); edges need edge.srtp: false",
        );
      }
    }
    if (role !== "cloud") {
      const e = cfg.edge;
      let fingerprint = e.cloud_fingerprint || undefined;
      let cloudQuic = addr.cloudQuic
        ? { host: addr.cloudQuic.hostname, port: addr.cloudQuic.port }
        : undefined;
      if (role === "both" && nodes.cloud) {
        // One process: the edge pins the certificate of its own cloud.
        fingerprint ??= nodes.cloud.fingerprint;
        cloudQuic ??= { host: "127.0.0.1", port: nodes.cloud.ports.quic };
      }
      const caPem = e.cloud_ca
        ? await readFileFor("edge.cloud_ca", e.cloud_ca)
        : undefined;
      if (!fingerprint && !caPem && !e.insecure_skip_verify) {
        throw new ConfigError(
          'key "edge.cloud_fingerprint": expected the cloud\'s SHA-256 fingerprint (or edge.cloud_ca, or edge.insecure_skip_verify: true), got ""',
        );
      }
      nodes.edge = new EdgeNode({
        udp: {
          hostname: addr.edgeUdp.hostname,
          port: addr.edgeUdp.port,
          group: addr.edgeUdp.group,
          multicastInterface: e.multicast_interface || undefined,
        },
        flv: addr.edgeFlv,
        api: addr.edgeApi,
        cloudQuic,
        quicPort: addr.quic.port || 4242,
        secret,
        fingerprint,
        caPem,
        insecureSkipVerify: e.insecure_skip_verify,
        quicImpl: cfg.quic_impl,
        srtp: e.srtp,
        latencyMs: e.latency_ms,
        packLoss: e.pack_loss,
        enableRecord: e.enable_record,
        recordDir: cfg.record_dir,
        streamTimeoutMs: e.stream_timeout_ms,
        maxRepairPerSecond: e.repair_max_pps,
        udpReceiveBuffer: e.udp_rcvbuf,
        hls: e.enable_hls
          ? {
            addr: addr.edgeHls,
            partMs: e.hls_part_ms,
            segments: e.hls_segments,
          }
          : false,
        repairAnswers: e.repair_answers,
        repairUdpPort: e.repair_udp_port,
        logger: logger.child("edge"),
        auth: cfg.auth,
        hooks: cfg.hooks,
        maxPlayers: e.max_players,
        maxPlayersPerIp: e.max_connections_per_ip,
        playerBufferBytes: e.player_buffer_bytes,
        https: addr.edgeHttps && {
          address: addr.edgeHttps,
          ...await tlsPairFor(
            cfg,
            "edge.tls_cert",
            "https",
            logger.child("edge"),
          ),
        },
        apiToken: cfg.api_token,
      });
      await nodes.edge.start();
      if (!e.srtp) {
        logger.child("edge").warn(
          "edge.srtp is false: plain RTP is accepted unauthenticated; anyone who can send to the UDP port can forge streams",
        );
      }
      // The helper could not set the buffer (not Linux, no FFI, or turned
      // off): warn when the kernel default is small.
      if ((nodes.edge.receiveBuffer?.method ?? "default") === "default") {
        warnSmallReceiveBuffer(logger);
      }
    }
  } catch (err) {
    await nodes.stop();
    throw err;
  }
  return nodes;
}

/**
 * The repair link's shared secret: `quic_secret`; required in the `cloud`
 * and `edge` roles unless `allow_insecure_repair` (then warned). With no
 * subcommand an empty secret becomes a random one known only to this
 * process's two roles.
 *
 * @throws {ConfigError} naming `quic_secret` when it is empty in a role.
 */
function repairSecret(cfg: Config, role: Role, logger: Logger): string {
  if (cfg.quic_secret !== "") return cfg.quic_secret;
  if (role === "both") {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    return btoa(String.fromCharCode(...bytes));
  }
  if (!cfg.allow_insecure_repair) {
    throw new ConfigError(
      `key "quic_secret": expected a shared secret in the ${role} role (or allow_insecure_repair: true), got ""`,
    );
  }
  logger.warn(
    "quic_secret is empty and allow_insecure_repair is true: anyone who reaches the QUIC port may ask for repairs",
  );
  return "";
}

/**
 * Without the libc helper (lib/net), the edge gets the kernel's default
 * receive buffer; at 212,992 bytes (a common default) about 90 RTP
 * packets fit, a few milliseconds of many streams. Say so once at startup.
 */
function warnSmallReceiveBuffer(logger: Logger): void {
  let size: number;
  try {
    size = Number(
      Deno.readTextFileSync("/proc/sys/net/core/rmem_default").trim(),
    );
  } catch {
    return; // not Linux, or not readable
  }
  if (Number.isFinite(size) && size < 1 << 20) {
    logger.warn(
      "net.core.rmem_default is small: the kernel drops RTP bursts the edge cannot read at once; raise it on edge hosts",
      { bytes: size, fix: "sysctl -w net.core.rmem_default=4194304" },
    );
  }
}
