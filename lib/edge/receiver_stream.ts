/**
 * One live stream in the edge's receiver core and its API snapshot.
 *
 * @module
 */
import type { FecDecoder } from "../rtp/mod.ts";
import type { HubStream } from "../hub/mod.ts";
import type { RateLimitedLog } from "../log/mod.ts";
import type { EdgeStreamInfo } from "./edge_api.ts";
import type { JitterBuffer } from "./jitter_buffer.ts";
import type {
  BudgetBasis,
  LinkRepairInfo,
  PeerAddress,
} from "./receiver_types.ts";

/** One live stream at the edge (by key). */
export interface ReceiverStream {
  key: string;
  ssrc: number;
  source: PeerAddress;
  jb: JitterBuffer;
  hub: HubStream;
  startedAt: Date;
  lastPacketAt: number;
  bytesIn: number;
  delayMs: number | null;
  endAt: number | undefined;
  loggedUnrecoverable: number;
  lossLog: RateLimitedLog;
  /** What the budget in force was derived from (`latency_ms: auto`). */
  budgetBasis?: BudgetBasis;
  /** FEC decoder, made when the first parity packet arrives. */
  fec?: FecDecoder;
}

/** The API snapshot of one stream (`recording` is the shell's to fill). */
export function streamInfo(
  s: ReceiverStream,
  link: LinkRepairInfo,
  srtp: { authFailures: number; replays: number } = {
    authFailures: 0,
    replays: 0,
  },
): EdgeStreamInfo {
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
    video_codec: h.videoCodec ?? null,
    audio_codec: h.audioCodec ?? null,
    players: h.players,
    slow_players: h.slowPlayers,
    one_way_delay_ms: s.delayMs === null
      ? null
      : Math.round(s.delayMs * 10) / 10,
    rtt_ms: Math.round(s.jb.rttMs * 10) / 10,
    budget_ms: s.jb.latencyMs,
    budget_basis: s.budgetBasis && {
      rtt_ms: s.budgetBasis.rttMs,
      loss_rate: s.budgetBasis.lossRate,
    },
    repair_mode: link.mode,
    repair_copies: link.copies,
    loss_rate: Math.round(link.lossRate * 10_000) / 10_000,
    fec_recovered: s.fec?.stats.recovered ?? 0,
    repair_success: j.lost === 0
      ? null
      : Math.round(Math.min(1, j.recovered / j.lost) * 10_000) / 10_000,
    buffered_packets: s.jb.bufferedPackets,
    pending_repair: s.jb.pending,
    srtp_auth_failures: srtp.authFailures,
    srtp_replays: srtp.replays,
    recording: null,
  };
}

/** Logs `s`'s packets given up since the last line (once per interval),
 * with the repair link's facts. */
export function logLoss(
  s: ReceiverStream,
  now: number,
  linkState: (source: PeerAddress) => Record<string, unknown>,
): void {
  const lost = s.jb.stats.unrecoverable;
  if (lost === s.loggedUnrecoverable) return;
  const logged = s.lossLog.log(
    now,
    "packets could not be repaired; incomplete tags dropped",
    {
      key: s.key,
      unrecoverable: lost - s.loggedUnrecoverable,
      tagsDropped: s.jb.stats.tagsDropped,
      ...linkState(s.source),
    },
  );
  if (logged) s.loggedUnrecoverable = lost;
}
