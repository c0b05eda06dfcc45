/**
 * Test helpers for the RTMP tests: a raw RTMP test client, a recording relay
 * handler with a small start-tag buffer, a capturing logger and process
 * helpers.
 *
 * @module
 */
import { GopCache } from "../lib/flv/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import {
  type AmfValue,
  ChunkDecoder,
  ChunkEncoder,
  type ChunkMessage,
  createClientHandshake,
  decodeAmf0,
  type DigestSchema,
  encodeAmf0,
  HANDSHAKE_SIZE,
  type OutgoingMessage,
  type PlaySubscription,
  type PublishInfo,
  type RtmpHandler,
  type RtmpMessage,
} from "../lib/rtmp/mod.ts";

/** Deterministic pseudo-random bytes (xorshift32). */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

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

/** Resolves when `cond()` is true (polled each 10 ms), rejects after `ms`. */
export async function waitFor(
  cond: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
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

/** A raw RTMP client speaking through the library's own encoder/decoder. */
export class TestClient {
  conn: Deno.TcpConn;
  enc = new ChunkEncoder();
  dec = new ChunkDecoder({ maxMessageSize: 16 * 1024 * 1024 - 2 });
  #buf = new Uint8Array(65536);
  #pending: ChunkMessage[] = [];
  #eof = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Opens a TCP connection to the server. */
  static async open(port: number): Promise<TestClient> {
    return new TestClient(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
  }

  /** Writes raw bytes (errors ignored: the server may have closed). */
  async write(b: Uint8Array): Promise<void> {
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** Reads exactly `n` bytes. */
  async readExact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const got = await this.conn.read(out.subarray(off));
      if (got === null) throw new Error(`EOF after ${off}/${n} bytes`);
      off += got;
    }
    return out;
  }

  /** Plain or digest handshake; returns S0+S1+S2. */
  async handshake(digest?: DigestSchema): Promise<Uint8Array> {
    const c0c1 = createClientHandshake({ digest });
    await this.write(c0c1);
    const s = await this.readExact(1 + 2 * HANDSHAKE_SIZE);
    await this.write(s.subarray(1, 1 + HANDSHAKE_SIZE)); // C2 = S1
    return s;
  }

  /** Encodes and writes a message. */
  async send(msg: OutgoingMessage): Promise<void> {
    await this.write(this.enc.encode(msg));
  }

  /** Sends an AMF0 command on chunk stream 3. */
  async command(streamId: number, ...values: AmfValue[]): Promise<void> {
    await this.send({
      csid: 3,
      type: 20,
      streamId,
      timestamp: 0,
      data: encodeAmf0(...values),
    });
  }

  /** Reads the next message (null on EOF). */
  async next(): Promise<ChunkMessage | null> {
    while (this.#pending.length === 0) {
      if (this.#eof) return null;
      const n = await this.conn.read(this.#buf);
      if (n === null) {
        this.#eof = true;
        return null;
      }
      this.#pending.push(...this.dec.push(this.#buf.subarray(0, n)));
    }
    return this.#pending.shift()!;
  }

  /** Reads until a command named `name` arrives; returns its AMF values. */
  async until(...names: string[]): Promise<AmfValue[]> {
    while (true) {
      const m = await this.next();
      if (!m) throw new Error(`EOF while waiting for ${names.join("/")}`);
      if (m.type !== 20 && m.type !== 18) continue;
      const v = decodeAmf0(m.data);
      if (names.includes(v[0] as string)) return v;
    }
  }

  /** connect + createStream; returns the stream id. */
  async connectAndCreate(app: string): Promise<number> {
    await this.command(0, "connect", 1, {
      app,
      tcUrl: `rtmp://127.0.0.1/${app}`,
      flashVer: "FMLE/3.0",
    });
    const r = await this.until("_result");
    if (
      (r[3] as Record<string, unknown>).code !== "NetConnection.Connect.Success"
    ) {
      throw new Error(`connect failed: ${JSON.stringify(r)}`);
    }
    await this.command(0, "createStream", 2, null);
    const cs = await this.until("_result");
    return cs[3] as number;
  }

  /** Publishes `app/name`; returns the onStatus code. */
  async publish(app: string, name: string): Promise<string> {
    const sid = await this.connectAndCreate(app);
    await this.command(sid, "publish", 0, null, name, "live");
    const st = await this.until("onStatus");
    return (st[3] as Record<string, unknown>).code as string;
  }

  /** Resolves true when the server closes the connection (EOF or reset). */
  async closedByServer(): Promise<boolean> {
    try {
      while (await this.conn.read(this.#buf) !== null) {
        // drain
      }
    } catch {
      // reset counts as closed
    }
    return true;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** Runs a command, collecting stderr; `kill()` ends it by PID. */
export function spawn(cmd: string, args: string[]): {
  child: Deno.ChildProcess;
  done: Promise<{ code: number; stderr: string }>;
  kill: () => void;
} {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const done = (async () => {
    const [status, err] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    return { code: status.code, stderr: err };
  })();
  return {
    child,
    done,
    kill: () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    },
  };
}

/** ffmpeg arguments publishing a 5 s lavfi clip to `url`. */
export function ffmpegPublishArgs(url: string, realtime: boolean): string[] {
  const re = realtime ? ["-re"] : [];
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    ...re,
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=25",
    ...re,
    "-f",
    "lavfi",
    "-i",
    "sine",
    "-c:v",
    "libx264",
    "-g",
    "25",
    "-c:a",
    "aac",
    "-t",
    "5",
    "-f",
    "flv",
    url,
  ];
}
