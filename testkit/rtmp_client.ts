/**
 * The one RTMP client of tests and the bench, speaking through lib/rtmp's own
 * handshake, chunk encoder/decoder and AMF0: {@linkcode RtmpClient} is the raw
 * client (tests drive it message by message, also with hostile bytes), and
 * {@linkcode RtmpPublisher} is a publish session on top of it (connect,
 * createStream, publish, then one `sendTag` per FLV tag) — much lighter than
 * an ffmpeg process per stream, and it knows the exact time each tag was
 * handed to the socket.
 *
 * @module
 */
import type { FlvTag } from "../lib/flv/mod.ts";
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
  setChunkSizeMessage,
  windowAckSizeMessage,
} from "../lib/rtmp/mod.ts";

/** A raw RTMP client speaking through the library's own encoder/decoder. */
export class RtmpClient {
  /** The TCP connection. */
  conn: Deno.TcpConn;
  /** Encodes what {@linkcode send} writes. */
  enc: ChunkEncoder = new ChunkEncoder();
  /** Decodes what {@linkcode next} reads. */
  dec: ChunkDecoder = new ChunkDecoder({
    maxMessageSize: 16 * 1024 * 1024 - 2,
  });
  #buf = new Uint8Array(65536);
  #pending: ChunkMessage[] = [];
  #eof = false;
  #writeChain: Promise<void> = Promise.resolve();

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Opens a TCP connection to the server (default host 127.0.0.1). */
  static async open(port: number, hostname = "127.0.0.1"): Promise<RtmpClient> {
    return new RtmpClient(await Deno.connect({ hostname, port }));
  }

  /**
   * Writes raw bytes; concurrent writes go out one after the other. Rejects
   * when the server has closed the connection.
   */
  write(b: Uint8Array): Promise<void> {
    const next = this.#writeChain.then(async () => {
      let off = 0;
      while (off < b.length) off += await this.conn.write(b.subarray(off));
    });
    this.#writeChain = next.catch(() => {});
    return next;
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

  /**
   * connect + createStream; returns the stream id.
   *
   * @throws {Error} when the server does not answer
   * `NetConnection.Connect.Success`.
   */
  async connectAndCreate(
    app: string,
    tcUrl = `rtmp://127.0.0.1/${app}`,
  ): Promise<number> {
    await this.command(0, "connect", 1, { app, tcUrl, flashVer: "FMLE/3.0" });
    const r = await this.until("_result", "_error");
    const code = (r[3] as Record<string, unknown> | undefined)?.code;
    if (r[0] !== "_result" || code !== "NetConnection.Connect.Success") {
      throw new Error(`connect failed: ${JSON.stringify(r)}`);
    }
    await this.command(0, "createStream", 2, null);
    const cs = await this.until("_result");
    return cs[3] as number;
  }

  /** Publishes `app/name`; returns the onStatus code. */
  async publish(app: string, name: string): Promise<string> {
    return (await this.publishOn(app, name)).code;
  }

  /**
   * Publishes `app/name` (connect, createStream, publish); returns the
   * stream id and the onStatus code.
   */
  async publishOn(
    app: string,
    name: string,
    tcUrl?: string,
  ): Promise<{ streamId: number; code: string }> {
    const streamId = await this.connectAndCreate(app, tcUrl);
    await this.command(streamId, "publish", 0, null, name, "live");
    const st = await this.until("onStatus");
    const code = (st[3] as Record<string, unknown>).code as string;
    return { streamId, code };
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

/** Chunk size the publisher announces (few chunks per video frame). */
const PUBLISH_CHUNK_SIZE = 60_000;

/** A publishing RTMP connection (see {@linkcode RtmpPublisher.publish}). */
export class RtmpPublisher {
  #client: RtmpClient;
  #streamId: number;
  #closed = false;
  #reading: Promise<void>;

  private constructor(client: RtmpClient, streamId: number) {
    this.#client = client;
    this.#streamId = streamId;
    // Drain what the server sends (acks, pings) until it closes.
    this.#reading = (async () => {
      try {
        while (await client.next() !== null) {
          // nothing to answer
        }
      } catch {
        // closed or reset
      }
      this.#closed = true;
    })();
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
    const c = await RtmpClient.open(Number(u.port || 1935), u.hostname);
    c.conn.setNoDelay(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(
            `publish ${url}: expected NetStream.Publish.Start within 10000 ms, received nothing`,
          ),
        );
      }, 10_000);
    });
    try {
      const published = (async () => {
        await c.handshake();
        await c.send(windowAckSizeMessage(5_000_000));
        await c.send(setChunkSizeMessage(PUBLISH_CHUNK_SIZE));
        c.enc.setChunkSize(PUBLISH_CHUNK_SIZE);
        return await c.publishOn(app, name, `rtmp://${u.host}/${app}`);
      })();
      const { streamId, code } = await Promise.race([published, late]);
      if (code !== "NetStream.Publish.Start") {
        throw new Error(
          `publish ${url}: expected NetStream.Publish.Start, received ${
            JSON.stringify(code)
          }`,
        );
      }
      return new RtmpPublisher(c, streamId);
    } catch (e) {
      c.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
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
    return this.#client.send({
      csid,
      type: tag.type,
      streamId: this.#streamId,
      timestamp,
      data,
    });
  }

  /** Closes the connection (idempotent). */
  close(): void {
    this.#closed = true;
    this.#client.close();
  }

  /** Closes and waits for the read loop to end. */
  async dispose(): Promise<void> {
    this.close();
    await this.#reading;
  }
}
