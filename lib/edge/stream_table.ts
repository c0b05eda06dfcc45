/**
 * The edge receiver's table of live streams, by stream key and by SSRC, and
 * the final snapshots of the last streams that ended. Naming an SSRC (RTCP
 * SDES or a `KEYS` answer) opens a stream (bounded by `maxStreams`, refusals
 * counted and logged once per interval) or, for a key already live under
 * another SSRC, hands the key over (republish: nothing of the old publish
 * reaches the new players). Pure: no sockets, no timers.
 *
 * @module
 */
import type { StreamHub } from "../hub/mod.ts";
import { type Logger, RateLimitedLog } from "../log/mod.ts";
import type { EndedStreamInfo } from "./edge_api.ts";
import { JitterBuffer } from "./jitter_buffer.ts";
import type { ReceiverStream } from "./receiver_stream.ts";
import type {
  BudgetBasis,
  EdgeNodeStats,
  PeerAddress,
} from "./receiver_types.ts";

/** What a {@linkcode StreamTable} needs from its receiver. */
export interface StreamTableOptions {
  /** Where each stream's tags go. */
  hub: StreamHub;
  /** Stream starts, republishes, refusals and ends are logged here. */
  log: Logger;
  /** The budget of a stream whose link says nothing (ms). */
  latencyMs: number;
  /** Live streams at most (more are refused). */
  maxStreams: number;
  wall: () => number;
  /** The receiver's counters (`streamsTotal`, `republishes`,
   * `streamsRefused` grow here). */
  stats: EdgeNodeStats;
  /** A new stream's budget and first round-trip guess, from its link. */
  streamStart: (
    source: PeerAddress,
  ) => { budgetMs?: number; rttMs?: number; basis?: BudgetBasis };
  /** A stream was opened (not called on a republish). */
  onStream: (key: string, source: PeerAddress) => void;
}

/** Ended streams whose final counters the API keeps. */
const MAX_ENDED = 32;
/** Refusal and loss lines: at most one per stream per interval (ms). */
const LOG_INTERVAL_MS = 10_000;

/**
 * Live streams by key and SSRC, plus the last ended ones.
 *
 * @example Usage
 * ```ts ignore
 * const table = new StreamTable({ hub, log, latencyMs: 200, maxStreams: 10, ... });
 * const s = table.open(0x1234, "live/a", from, now); // undefined: refused
 * table.close(s!); // then table.recordEnded({ ...snapshot })
 * ```
 */
export class StreamTable {
  #o: StreamTableOptions;
  #byKey = new Map<string, ReceiverStream>();
  #bySsrc = new Map<number, ReceiverStream>();
  #ended: EndedStreamInfo[] = [];
  #refusalLog: RateLimitedLog;

  /** An empty table. */
  constructor(options: StreamTableOptions) {
    this.#o = options;
    this.#refusalLog = new RateLimitedLog(options.log, {
      intervalMs: LOG_INTERVAL_MS,
    });
  }

  /** Live streams. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The live streams (a snapshot: closing one while iterating is safe). */
  list(): ReceiverStream[] {
    return [...this.#byKey.values()];
  }

  /** The live stream of `key`. */
  get(key: string): ReceiverStream | undefined {
    return this.#byKey.get(key);
  }

  /** The live stream `ssrc` was named into (it may have been republished
   * under another SSRC since: compare `ssrc`). */
  ofSsrc(ssrc: number): ReceiverStream | undefined {
    return this.#bySsrc.get(ssrc);
  }

  /**
   * Names `ssrc` (not named yet) as stream `key` from `from`: a new stream,
   * or the key taken over from its old SSRC (republish). `undefined` when
   * refused (too many streams).
   */
  open(
    ssrc: number,
    key: string,
    from: PeerAddress,
    now: number,
  ): ReceiverStream | undefined {
    const o = this.#o;
    let stream = this.#byKey.get(key);
    if (stream) {
      // Republish: a new SSRC takes the key over. Players of the old
      // publish get the end of their body and reconnect to the new one.
      o.log.info("stream republished", { key, oldSsrc: stream.ssrc, ssrc });
      o.stats.republishes++;
      stream.ssrc = ssrc;
      stream.source = from;
      stream.endAt = undefined;
      stream.lastPacketAt = now;
      stream.delayMs = null;
      // Nothing of the old publish may reach the new players.
      stream.jb.reset();
      stream.hub = o.hub.open(key);
    } else {
      if (this.#byKey.size >= o.maxStreams) {
        o.stats.streamsRefused++;
        this.#refusalLog.log(now, "stream refused: too many streams", {
          key,
          ssrc,
          maxStreams: o.maxStreams,
        });
        return undefined;
      }
      const start = o.streamStart(from);
      stream = {
        key,
        ssrc,
        source: from,
        jb: new JitterBuffer({
          latencyMs: start.budgetMs ?? o.latencyMs,
          initialRttMs: start.rttMs,
        }),
        budgetBasis: start.basis,
        hub: o.hub.open(key),
        startedAt: new Date(o.wall()),
        lastPacketAt: now,
        bytesIn: 0,
        delayMs: null,
        endAt: undefined,
        loggedUnrecoverable: 0,
        lossLog: new RateLimitedLog(o.log, { intervalMs: LOG_INTERVAL_MS }),
      };
      this.#byKey.set(key, stream);
      o.stats.streamsTotal++;
      o.log.info("stream started", {
        key,
        ssrc,
        source: `${from.hostname}:${from.port}`,
      });
      o.onStream(key, from);
    }
    this.#bySsrc.set(ssrc, stream);
    return stream;
  }

  /** Takes `s` out of the table; false when it was not live. */
  close(s: ReceiverStream): boolean {
    if (this.#byKey.get(s.key) !== s) return false;
    this.#byKey.delete(s.key);
    for (const [ssrc, st] of this.#bySsrc) {
      if (st === s) this.#bySsrc.delete(ssrc);
    }
    return true;
  }

  /** Keeps an ended stream's final counters (the last 32) for the API and
   * logs them. */
  recordEnded(info: EndedStreamInfo): void {
    this.#o.log.info("stream ended", {
      key: info.key,
      ssrc: info.ssrc,
      reason: info.end_reason,
      received: info.packets_received,
      recovered: info.recovered,
      unrecoverable: info.unrecoverable,
      tagsOut: info.tags_out,
      tagsDropped: info.tags_dropped,
    });
    this.#ended.push(info);
    if (this.#ended.length > MAX_ENDED) this.#ended.shift();
  }

  /** Final snapshots of the last streams that ended, oldest first. */
  ended(): EndedStreamInfo[] {
    return [...this.#ended];
  }
}
