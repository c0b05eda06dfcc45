/**
 * Test helpers for the HTTP-FLV / edge tests: synthetic FLV tags and players
 * that read an HTTP-FLV body or a WebSocket-FLV stream.
 *
 * @module
 */
import { FlvDemuxer, type FlvTag } from "../lib/flv/mod.ts";

function body(head: number[], size: number, fill: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (fill + i * 7) & 0xff;
  b.set(head);
  return b;
}

/** onMetaData script tag. */
export const META: FlvTag = {
  type: 18,
  timestamp: 0,
  data: body(
    [0x02, 0x00, 0x0a, ...new TextEncoder().encode("onMetaData"), 0x08],
    60,
    5,
  ),
};
/** AVC sequence header. */
export const AVC_SEQ: FlvTag = {
  type: 9,
  timestamp: 0,
  data: body([0x17, 0x00, 0, 0, 0, 1, 0x64], 40, 7),
};
/** AAC AudioSpecificConfig. */
export const AAC_SEQ: FlvTag = {
  type: 8,
  timestamp: 0,
  data: new Uint8Array([0xaf, 0x00, 0x12, 0x10]),
};

/** AVC keyframe of `size` body bytes. */
export function keyframe(ts: number, size = 3000): FlvTag {
  return {
    type: 9,
    timestamp: ts,
    data: body([0x17, 0x01, 0, 0, 0], size, ts),
  };
}
/** AVC inter frame of `size` body bytes. */
export function interframe(ts: number, size = 800): FlvTag {
  return {
    type: 9,
    timestamp: ts,
    data: body([0x27, 0x01, 0, 0, 0], size, ts),
  };
}
/** AAC raw frame. */
export function audioFrame(ts: number, size = 200): FlvTag {
  return { type: 8, timestamp: ts, data: body([0xaf, 0x01], size, ts) };
}

/** Seq headers then `gops` GOPs of `frames` video frames with audio. */
export function syntheticStream(
  opts: { gops?: number; frames?: number; t0?: number } = {},
): FlvTag[] {
  const tags: FlvTag[] = [META, AVC_SEQ, AAC_SEQ];
  let ts = opts.t0 ?? 0;
  for (let g = 0; g < (opts.gops ?? 2); g++) {
    for (let f = 0; f < (opts.frames ?? 5); f++) {
      tags.push(f === 0 ? keyframe(ts) : interframe(ts));
      tags.push(audioFrame(ts + 3));
      ts += 40;
    }
  }
  return tags;
}

/** A short, comparable description of a tag (type, time, size, checksum). */
export function describe(t: FlvTag): string {
  let sum = 0;
  for (const b of t.data) sum = (sum * 31 + b) >>> 0;
  return `${t.type}@${t.timestamp}:${t.data.length}:${sum}`;
}

/** Collects tags from an FLV byte stream and lets a test wait for a count. */
export class TagCollector {
  readonly tags: FlvTag[] = [];
  #demux = new FlvDemuxer();
  #waiters: { n: number; resolve: () => void }[] = [];
  #ended = false;
  /** Bytes fed. */
  bytes = 0;

  /** Feeds a chunk of the FLV stream. */
  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.tags.push(...this.#demux.push(chunk));
    this.#check();
  }

  /** The stream ended: waiters for more tags are released. */
  end(): void {
    this.#ended = true;
    this.#check();
  }

  /** Resolves once `n` tags arrived (or the stream ended); rejects after
   * `timeoutMs`. */
  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    if (this.tags.length >= n || this.#ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `expected ${n} tags within ${timeoutMs} ms, got ${this.tags.length}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (this.tags.length >= w.n || this.#ended) {
        w.resolve();
        return false;
      }
      return true;
    });
  }
}

/** An HTTP-FLV player reading `url` with fetch. */
export class HttpPlayer extends TagCollector {
  /** The response (status, headers). */
  response!: Response;
  /** Resolves when the body ends ("end") or fails ("error"). */
  done!: Promise<"end" | "error">;
  #reader!: ReadableStreamDefaultReader<Uint8Array>;

  /** Connects and starts reading; resolves once the headers are in. */
  static async open(url: string): Promise<HttpPlayer> {
    const p = new HttpPlayer();
    p.response = await fetch(url);
    if (p.response.body === null) throw new Error("no body");
    p.#reader = p.response.body.getReader();
    p.done = p.#pump();
    return p;
  }

  async #pump(): Promise<"end" | "error"> {
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) return "end";
        this.push(value);
      }
    } catch {
      return "error";
    } finally {
      this.end();
    }
  }

  /** Stops reading and releases the connection. */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.done;
  }
}

/** A WebSocket-FLV player. */
export class WsPlayer extends TagCollector {
  /** The socket. */
  socket!: WebSocket;
  /** Resolves with the close event's code. */
  closed!: Promise<number>;
  /** Binary messages received. */
  messages = 0;

  /** Connects; resolves once open (rejects if the connection fails). */
  static open(url: string): Promise<WsPlayer> {
    const p = new WsPlayer();
    p.socket = new WebSocket(url);
    p.socket.binaryType = "arraybuffer";
    p.closed = new Promise((resolve) => {
      p.socket.onclose = (e) => {
        p.end();
        resolve(e.code);
      };
    });
    p.socket.onmessage = (e) => {
      p.messages++;
      p.push(new Uint8Array(e.data as ArrayBuffer));
    };
    return new Promise((resolve, reject) => {
      p.socket.onopen = () => resolve(p);
      p.socket.onerror = (e) =>
        reject(new Error(`websocket error: ${(e as ErrorEvent).message}`));
    });
  }

  /** Closes the socket and waits for the close. */
  async close(): Promise<void> {
    if (this.socket.readyState < WebSocket.CLOSING) this.socket.close();
    await this.closed;
  }
}
