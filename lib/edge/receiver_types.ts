/**
 * The options, counters and repair requests of the edge's
 * `EdgeReceiver` core.
 *
 * @module
 */
import type { StreamHub } from "../hub/mod.ts";
import type { Logger } from "../log/mod.ts";

/** Where a datagram came from. */
export interface PeerAddress {
  /** IP address. */
  hostname: string;
  /** UDP port. */
  port: number;
}

/** Packets a stream wants repaired, handed to the shell. */
export interface RepairRequest {
  /** Stream key. */
  key: string;
  /** The SSRC the packets belong to. */
  ssrc: number;
  /** Where the stream's RTP comes from (its cloud, by default). */
  source: PeerAddress;
  /** Sequence numbers to ask for. */
  seqs: number[];
  /** `now` when the request was made. */
  sentAt: number;
  /** The stream's repair budget in force (ms): the answers' deadline. */
  budgetMs: number;
}

/** A budget set from the link's measurements (`latency_ms: auto`) and the
 * round trip and loss rate it was derived from. */
export interface BudgetBasis {
  /** The budget (ms). */
  budgetMs: number;
  /** The link's round-trip estimate it came from (ms). */
  rttMs: number;
  /** The link's loss estimate it came from (0..1). */
  lossRate: number;
}

/** The repair link's facts a stream shows in the API. */
export interface LinkRepairInfo {
  /** Where answers come: `udp` (asked with `RMOD`) or `stream`. */
  mode: "udp" | "stream";
  /** Copies of each answer asked for now. */
  copies: number;
  /** Loss rate measured on the link (0..1). */
  lossRate: number;
}

/** Node-wide counters of the receiver. */
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
  /** SRTP/SRTCP datagrams that failed authentication (dropped). */
  srtpAuthFailures: number;
  /** SRTP/SRTCP datagrams refused as replays (dropped). */
  srtpReplays: number;
  /** Datagrams too short to be SRTP/SRTCP (dropped). */
  srtpMalformed: number;
  /** Datagrams held for an SSRC without keys that were discarded. */
  srtpHeldDropped: number;
  /** `KEYS` requests sent. */
  keysRequested: number;
  /** `KEYS` answers with keys. */
  keysReceived: number;
  /** `KEYS` answers: not a live stream. */
  keysUnknown: number;
  /** `KEYS` answers for plain RTP, refused by an SRTP edge. */
  keysRefused: number;
  /** Times the process was found stalled past `stallMs` (deadlines moved). */
  stalls: number;
}

/** All-zero {@linkcode EdgeNodeStats}. */
export function emptyNodeStats(): EdgeNodeStats {
  return {
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
    srtpAuthFailures: 0,
    srtpReplays: 0,
    srtpMalformed: 0,
    srtpHeldDropped: 0,
    keysRequested: 0,
    keysReceived: 0,
    keysUnknown: 0,
    keysRefused: 0,
    stalls: 0,
  };
}

/** Options for {@linkcode EdgeReceiver}. */
export interface EdgeReceiverOptions {
  /** Where each stream's tags go (one `HubStream` per stream). */
  hub: StreamHub;
  /** Reorder + repair budget in ms. Default 200. */
  latencyMs?: number;
  /** A stream silent this long is ended (ms). Default 5000. */
  streamTimeoutMs?: number;
  /** Simulated random loss of incoming RTP packets (0..1), for demos. */
  packLoss?: number;
  /** Random numbers in [0, 1) for `packLoss`. Default `Math.random`. */
  random?: () => number;
  /** Wall clock (ms since the epoch) for the one-way delay. Default
   * `Date.now`. */
  wallClock?: () => number;
  /** Packets held per SSRC not yet named by SDES. Default 512. */
  maxHeldPackets?: number;
  /** SSRCs not yet named that are held at once. Default 16. */
  maxHeldSsrcs?: number;
  /** Most streams at once; SDES naming more is refused. Default 1000. */
  maxStreams?: number;
  /** Most packets asked for repair per second over all streams (one second
   * of burst); past it missing packets are given up at once, so a loss storm
   * cannot become a repair storm. Default `DEFAULT_REPAIR_MAX_PPS` (5,000). */
  maxRepairPerSecond?: number;
  /** Logger. */
  logger?: Logger;
  /** Asks the cloud for packets; answers come back through
   * `EdgeReceiver.repaired`. */
  onRepair?: (request: RepairRequest) => void;
  /** A stream was learned from `source` (e.g. open its repair link now). */
  onStream?: (key: string, source: PeerAddress) => void;
  /**
   * SRTP/SRTCP only (`edge.srtp`): every datagram must authenticate with
   * the keys the cloud hands out (`KEYS`); plain RTP is refused. Default
   * false: plain RTP/RTCP, named by SDES.
   */
  srtp?: boolean;
  /**
   * A call this much later (ms) than {@linkcode EdgeReceiver.nextEventAt}
   * said (the process was not scheduled: a loaded machine) moves every
   * waiting gap's deadline by the delay, since the edge could not take in
   * answers meanwhile. Default 0: off (fake-time callers jump on purpose).
   */
  stallMs?: number;
  /** Ask the cloud behind `source` for the keys of `ssrc`; the answer goes
   * to `EdgeReceiver.keys`. */
  onKeys?: (ssrc: number, source: PeerAddress) => void;
  /** Facts about the repair link of `source` for the loss log line. */
  linkState?: (source: PeerAddress) => Record<string, unknown>;
  /** The repair link's mode, copies and loss rate for the API. */
  linkRepair?: (source: PeerAddress) => LinkRepairInfo;
  /** A new stream's budget and first round-trip guess, from its link
   * (`latency_ms: auto`, a link that has measured); default: `latencyMs`
   * and the jitter buffer's own guess. */
  streamStart?: (
    source: PeerAddress,
  ) => { budgetMs?: number; rttMs?: number; basis?: BudgetBasis };
}
