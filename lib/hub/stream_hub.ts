/**
 * The tag bus of both roles: a registry of live streams by key, each with its
 * start-up cache ({@linkcode GopCache}) and its subscribers. The producer (the
 * cloud's RTMP publish, the edge's receiver) calls {@linkcode HubStream.push};
 * every consumer — RTMP players at the cloud, HTTP-FLV / WebSocket-FLV
 * players at the edge, recording in both roles — subscribes and gets the
 * start tags plus every live tag after them. Tags are shared by reference,
 * never copied. Pure in-memory fan-out: no I/O, no timers.
 *
 * @module
 */
import {
  audioCodecName,
  type FlvTag,
  GopCache,
  type GopCacheOptions,
  TAG_AUDIO,
  TAG_VIDEO,
  videoCodecName,
} from "../flv/mod.ts";

/** What a player gives the hub: called for every live tag and once at end. */
export interface HubSubscriber {
  /** Called synchronously for each live tag, in order. Must not block; a
   * subscriber that cannot keep up unsubscribes itself. */
  onTag(tag: FlvTag): void;
  /** Called once when the stream ends (publisher gone or replaced). */
  onEnd(reason: string): void;
}

/** Returned by {@linkcode HubStream.subscribe}. */
export interface HubSubscription {
  /** What the player must get first: onMetaData, sequence headers, the cached
   * GOP from its last keyframe ({@linkcode GopCache.startTags}). */
  startTags: FlvTag[];
  /** Stops delivery; `onEnd` is not called afterwards. Idempotent. */
  unsubscribe(): void;
}

/** A snapshot of one stream's counters. */
export interface HubStreamInfo {
  /** Stream key, e.g. `live/movie`. */
  key: string;
  /** When the stream was opened. */
  startedAt: Date;
  /** Tags pushed. */
  tagsIn: number;
  /** Tag bytes pushed (11-byte header + body each). */
  bytesIn: number;
  /** Players subscribed now. */
  players: number;
  /** Players subscribed since the stream opened. */
  playersTotal: number;
  /** Players cut off for being too slow. */
  slowPlayers: number;
  /** Video codec of the first video tag (`avc`, `hevc`, `av1`, …). */
  videoCodec?: string;
  /** Audio codec of the first audio tag (`aac`, `mp3`, `opus`, …). */
  audioCodec?: string;
}

/** One live stream: its GOP cache and its subscribers. */
export class HubStream {
  /** The stream key, e.g. `live/movie`. */
  readonly key: string;
  /** When the stream was opened. */
  readonly startedAt: Date = new Date();
  /** The start-up cache (read-only use). */
  readonly gop: GopCache;
  #subs = new Set<HubSubscriber>();
  #ended: string | undefined;
  #tagsIn = 0;
  #bytesIn = 0;
  #videoCodec?: string;
  #audioCodec?: string;
  #playersTotal = 0;
  #slowPlayers = 0;
  #onEnd: (stream: HubStream) => void;

  /** Use {@linkcode StreamHub.open}; exported for typing. */
  constructor(
    key: string,
    gop: GopCacheOptions | undefined,
    onEnd: (stream: HubStream) => void,
  ) {
    this.key = key;
    this.gop = new GopCache(gop);
    this.#onEnd = onEnd;
  }

  /** Players subscribed now. */
  get players(): number {
    return this.#subs.size;
  }

  /** Whether {@linkcode end} was called; the reason if so. */
  get ended(): string | undefined {
    return this.#ended;
  }

  /** Counters of this stream. */
  info(): HubStreamInfo {
    return {
      key: this.key,
      startedAt: this.startedAt,
      tagsIn: this.#tagsIn,
      bytesIn: this.#bytesIn,
      players: this.#subs.size,
      playersTotal: this.#playersTotal,
      slowPlayers: this.#slowPlayers,
      videoCodec: this.#videoCodec,
      audioCodec: this.#audioCodec,
    };
  }

  /** Feeds the next tag: caches it for late joiners and hands it to every
   * subscriber. Ignored after {@linkcode end}. */
  push(tag: FlvTag): void {
    if (this.#ended !== undefined) return;
    this.#tagsIn++;
    this.#bytesIn += 11 + tag.data.length;
    if (tag.type === TAG_VIDEO) this.#videoCodec ??= videoCodecName(tag);
    else if (tag.type === TAG_AUDIO) this.#audioCodec ??= audioCodecName(tag);
    this.gop.push(tag);
    for (const sub of this.#subs) sub.onTag(tag);
  }

  /**
   * Adds a player. Its first tags are `startTags`; every tag pushed after this
   * call goes to `sub.onTag`. Throws if the stream has ended.
   */
  subscribe(sub: HubSubscriber): HubSubscription {
    if (this.#ended !== undefined) {
      throw new Error(
        `stream "${this.key}": expected a live stream to subscribe to, it ended (${this.#ended})`,
      );
    }
    this.#subs.add(sub);
    this.#playersTotal++;
    return {
      startTags: this.gop.startTags(),
      unsubscribe: () => {
        this.#subs.delete(sub);
      },
    };
  }

  /** Counts a player cut off for being too slow. */
  recordSlowPlayer(): void {
    this.#slowPlayers++;
  }

  /** Ends the stream: every subscriber gets `onEnd(reason)`, the hub forgets
   * the stream. Idempotent. */
  end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    const subs = [...this.#subs];
    this.#subs.clear();
    this.gop.clear(); // nothing joins an ended stream
    this.#onEnd(this);
    for (const sub of subs) {
      try {
        sub.onEnd(reason);
      } catch {
        // One player's failure to close must not keep the others open.
      }
    }
  }
}

/** Options for {@linkcode StreamHub}. */
export interface StreamHubOptions {
  /** Bounds of each stream's {@linkcode GopCache}. */
  gop?: GopCacheOptions;
}

/**
 * Live streams by key, shared by whatever produces tags and the players.
 *
 * @example Usage
 * ```ts
 * import { StreamHub } from "./stream_hub.ts";
 * const hub = new StreamHub();
 * const stream = hub.open("live/movie");
 * const seen: number[] = [];
 * const sub = hub.get("live/movie")!.subscribe({
 *   onTag: (t) => seen.push(t.timestamp),
 *   onEnd: () => {},
 * });
 * stream.push({ type: 8, timestamp: 40, data: new Uint8Array([0xaf, 1]) });
 * sub.unsubscribe();
 * stream.end("publisher left");
 * ```
 */
export class StreamHub {
  #streams = new Map<string, HubStream>();
  #gop: GopCacheOptions | undefined;
  #openListeners: ((stream: HubStream) => void)[] = [];

  /** Creates an empty hub. */
  constructor(options: StreamHubOptions = {}) {
    this.#gop = options.gop;
  }

  /** The live stream with this key, if any. */
  get(key: string): HubStream | undefined {
    return this.#streams.get(key);
  }

  /** Opens a stream; a live stream with the same key is ended first
   * (`"replaced"`), so its players reconnect to the new one. */
  open(key: string): HubStream {
    this.#streams.get(key)?.end("replaced");
    const stream = new HubStream(key, this.#gop, (s) => {
      if (this.#streams.get(s.key) === s) this.#streams.delete(s.key);
    });
    this.#streams.set(key, stream);
    for (const listener of this.#openListeners) listener(stream);
    return stream;
  }

  /** Calls `listener` with every stream opened from now on, before its first
   * tag (how a recorder follows every stream). */
  onOpen(listener: (stream: HubStream) => void): void {
    this.#openListeners.push(listener);
  }

  /** Ends the stream with this key, if live. */
  end(key: string, reason: string): void {
    this.#streams.get(key)?.end(reason);
  }

  /** Ends every stream. */
  endAll(reason: string): void {
    for (const s of [...this.#streams.values()]) s.end(reason);
  }

  /** Number of live streams. */
  get size(): number {
    return this.#streams.size;
  }

  /** The live streams. */
  streams(): HubStream[] {
    return [...this.#streams.values()];
  }
}
