/**
 * Test helpers for the RTMP tests: a recording relay handler with a small
 * start-tag buffer and a capturing logger. The RTMP client itself is
 * testkit's `RtmpClient`; processes and ffmpeg arguments are
 * `testkit/media.ts`.
 *
 * @module
 */
import { GopCache } from "../lib/flv/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import {
  type PlaySubscription,
  type PublishInfo,
  type RtmpHandler,
  type RtmpMessage,
  RtmpServer,
  type RtmpServerOptions,
} from "../lib/rtmp/mod.ts";

/** A logger that keeps every line (level + message + fields). */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const make = (component: string): Logger => {
    const at =
      (level: string) => (msg: string, fields?: Record<string, unknown>) => {
        lines.push(
          `${level} [${component}] ${msg} ${JSON.stringify(fields ?? {})}`,
        );
      };
    return {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      child: (c) => make(component ? `${component}/${c}` : c),
    };
  };
  return Object.assign(make(""), { lines });
}

/** One stream in the test relay. */
export interface RelayStream {
  info: PublishInfo;
  messages: RtmpMessage[];
  closeReasons: string[];
  players: Set<{ send: (m: RtmpMessage) => void; end: () => void }>;
  meta?: RtmpMessage;
  videoHeader?: RtmpMessage;
  audioHeader?: RtmpMessage;
  cache: GopCache;
}

/**
 * A tiny relay: records every published message and serves players with
 * `GopCache` start tags (metadata, sequence headers, the GOP since the last
 * keyframe), then live messages.
 */
export class TestRelay implements RtmpHandler {
  /** Live streams by key. */
  live = new Map<string, RelayStream>();
  /** Every stream ever published, in order. */
  all: RelayStream[] = [];
  /** Refusals returned (key → reason). */
  refused: string[] = [];

  publish(info: PublishInfo) {
    if (this.live.has(info.key)) {
      const reason = `${info.key} is already being published`;
      this.refused.push(info.key);
      return reason;
    }
    const s: RelayStream = {
      info,
      messages: [],
      closeReasons: [],
      players: new Set(),
      cache: new GopCache(),
    };
    this.live.set(info.key, s);
    this.all.push(s);
    return {
      onMessage: (m: RtmpMessage) => {
        s.messages.push(m);
        if (m.type === 18) s.meta = m;
        else if (m.type === 9 && m.data[1] === 0 && (m.data[0] & 0x0f) === 7) {
          s.videoHeader = m;
        } else if (m.type === 8 && m.data[0] >> 4 === 10 && m.data[1] === 0) {
          s.audioHeader = m;
        }
        s.cache.push(m);
        for (const p of s.players) p.send(m);
      },
      onClose: (reason: string) => {
        s.closeReasons.push(reason);
        if (this.live.get(info.key) === s) this.live.delete(info.key);
        for (const p of s.players) p.end();
      },
    };
  }

  play(
    info: { key: string },
    send: (m: RtmpMessage) => void,
    end: () => void,
  ): PlaySubscription | null {
    const s = this.live.get(info.key);
    if (!s) return null;
    const p = { send, end };
    s.players.add(p);
    return {
      startTags: s.cache.startTags(),
      unsubscribe: () => s.players.delete(p),
    };
  }
}

/** A started test RTMP server, its relay and its captured log. */
export interface TestServer {
  /** The server, listening on 127.0.0.1 (any port). */
  server: RtmpServer;
  /** The handler when none was given in the options (else a spare one). */
  relay: TestRelay;
  /** Every line the server logged. */
  log: ReturnType<typeof captureLogger>;
}

/**
 * Starts an RTMP server on 127.0.0.1 (any port) with a {@linkcode TestRelay}
 * handler and a capturing logger; `opts` override any option.
 */
export async function startTestServer(
  opts: Partial<RtmpServerOptions> = {},
): Promise<TestServer> {
  const relay = new TestRelay();
  const log = captureLogger();
  const server = new RtmpServer({
    hostname: "127.0.0.1",
    port: 0,
    handler: relay,
    logger: log,
    ...opts,
  });
  await server.start();
  return { server, relay, log };
}
