/**
 * A minimal RTMP publisher for the bench, built on lib/rtmp's handshake,
 * chunk encoder/decoder and AMF0: connect, createStream, publish, then one
 * `sendTag` per FLV tag. Much lighter than an ffmpeg process per stream, and
 * it knows the exact time each tag was handed to the socket.
 *
 * @module
 */
import type { FlvTag } from "../../lib/flv/mod.ts";
import {
  ChunkDecoder,
  ChunkEncoder,
  createClientHandshake,
  decodeAmf0,
  encodeAmf0,
  HANDSHAKE_SIZE,
  setChunkSizeMessage,
  windowAckSizeMessage,
} from "../../lib/rtmp/mod.ts";

const CHUNK_SIZE = 60_000;

/** A publishing RTMP connection. */
export class RtmpPublisher {
  #conn: Deno.TcpConn;
  #enc = new ChunkEncoder();
  #dec = new ChunkDecoder({ maxMessageSize: 16 * 1024 * 1024 - 2 });
  #streamId = 1;
  #closed = false;
  #waiters: ((name: string, values: unknown[]) => boolean)[] = [];
  #reading: Promise<void>;
  #writeChain: Promise<void> = Promise.resolve();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reading = Promise.resolve();
  }

  /**
   * Connects and publishes to `rtmp://host:port/app/name`.
   *
   * @throws {Error} when the server refuses or does not answer in 10 s.
   */
  static async publish(url: string): Promise<RtmpPublisher> {
    const u = new URL(url);
    const [app, ...rest] = u.pathname.replace(/^\//, "").split("/");
    const name = rest.join("/");
    const conn = await Deno.connect({
      hostname: u.hostname,
      port: Number(u.port || 1935),
    });
    conn.setNoDelay(true);
    const p = new RtmpPublisher(conn);
    try {
      await p.#handshake();
      p.#reading = p.#readLoop();
      await p.#write(p.#enc.encode(windowAckSizeMessage(5_000_000)));
      await p.#write(p.#enc.encode(setChunkSizeMessage(CHUNK_SIZE)));
      p.#enc.setChunkSize(CHUNK_SIZE);
      const tcUrl = `rtmp://${u.host}/${app}`;
      const connected = p.#await("_result", 1);
      await p.#command(0, "connect", 1, {
        app,
        type: "nonprivate",
        flashVer: "FMLE/3.0 (compatible; flvcast-bench)",
        tcUrl,
      });
      await withTimeout(connected, 10_000, "connect _result");
      await p.#command(0, "releaseStream", 2, null, name);
      await p.#command(0, "FCPublish", 3, null, name);
      const created = p.#await("_result", 4);
      await p.#command(0, "createStream", 4, null);
      const cs = await withTimeout(created, 10_000, "createStream _result");
      p.#streamId = typeof cs[3] === "number" ? cs[3] : 1;
      const started = p.#await("onStatus");
      await p.#command(p.#streamId, "publish", 5, null, name, "live");
      const st = await withTimeout(started, 10_000, "publish onStatus");
      const info = st[3] as Record<string, unknown> | undefined;
      if (info?.code !== "NetStream.Publish.Start") {
        throw new Error(
          `publish ${url}: expected NetStream.Publish.Start, received ${
            JSON.stringify(info?.code)
          }`,
        );
      }
      return p;
    } catch (e) {
      p.close();
      throw e;
    }
  }

  async #handshake(): Promise<void> {
    await this.#write(createClientHandshake());
    const s = await this.#readExact(1 + 2 * HANDSHAKE_SIZE);
    await this.#write(s.subarray(1, 1 + HANDSHAKE_SIZE));
  }

  async #readExact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const got = await this.#conn.read(out.subarray(off));
      if (got === null) {
        throw new Error(`EOF after ${off}/${n} handshake bytes`);
      }
      off += got;
    }
    return out;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        for (const m of this.#dec.push(buf.subarray(0, n))) {
          if (m.type !== 20) continue;
          const v = decodeAmf0(m.data);
          const name = v[0] as string;
          this.#waiters = this.#waiters.filter((w) => !w(name, v));
        }
      }
    } catch {
      // closed or reset
    }
    this.#closed = true;
  }

  #await(name: string, txn?: number): Promise<unknown[]> {
    return new Promise((resolve) => {
      this.#waiters.push((n, v) => {
        if (n !== name && !(name === "_result" && n === "_error")) return false;
        if (txn !== undefined && v[1] !== txn) return false;
        resolve(v);
        return true;
      });
    });
  }

  #command(streamId: number, ...values: unknown[]): Promise<void> {
    return this.#write(this.#enc.encode({
      csid: 3,
      type: 20,
      streamId,
      timestamp: 0,
      data: encodeAmf0(...(values as Parameters<typeof encodeAmf0>)),
    }));
  }

  #write(bytes: Uint8Array): Promise<void> {
    const next = this.#writeChain.then(async () => {
      let off = 0;
      while (off < bytes.length) {
        off += await this.#conn.write(bytes.subarray(off));
      }
    });
    this.#writeChain = next.catch(() => {});
    return next;
  }

  /** True once the connection is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one FLV tag (script tags get `@setDataFrame` prepended). Resolves
   * when the bytes are handed to the socket.
   */
  sendTag(tag: FlvTag, timestamp = tag.timestamp): Promise<void> {
    let data = tag.data;
    if (tag.type === 18) {
      const prefix = encodeAmf0("@setDataFrame");
      data = new Uint8Array(prefix.length + tag.data.length);
      data.set(prefix);
      data.set(tag.data, prefix.length);
    }
    const csid = tag.type === 8 ? 4 : tag.type === 9 ? 6 : 5;
    return this.#write(this.#enc.encode({
      csid,
      type: tag.type,
      streamId: this.#streamId,
      timestamp,
      data,
    }));
  }

  /** Closes the connection (idempotent). */
  close(): void {
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Closes and waits for the read loop to end. */
  async dispose(): Promise<void> {
    this.close();
    await this.#reading;
  }
}

async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(
          () =>
            reject(
              new Error(`expected ${what} within ${ms} ms, received nothing`),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}
