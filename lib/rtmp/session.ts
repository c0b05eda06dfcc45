/**
 * One RTMP connection (I/O): reads the socket through the handshake and
 * the chunk stream, answers protocol control messages, hands commands to
 * the {@linkcode CommandHandler} and media to the {@linkcode SessionStream},
 * queues replies, and closes on a protocol error, a stall or a slow peer.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Refusals } from "../limits/mod.ts";
import { ChunkDecoder, type ChunkMessage } from "./chunk_decoder.ts";
import {
  ackMessage,
  ChunkEncoder,
  type OutgoingMessage,
  userControlMessage,
} from "./chunk_encoder.ts";
import { CommandHandler } from "./commands.ts";
import { errorText, RtmpProtocolError } from "./errors.ts";
import { HandshakeReader } from "./handshake_reader.ts";
import { aggregateParts, scriptDataBody } from "./inbound_media.ts";
import {
  MSG_ABORT,
  MSG_ACK,
  MSG_AGGREGATE,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_SHARED_OBJECT_AMF0,
  MSG_SHARED_OBJECT_AMF3,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  MSG_WINDOW_ACK_SIZE,
  UC_PING_REQUEST,
  UC_PING_RESPONSE,
} from "./protocol.ts";
import { SessionStream } from "./session_stream.ts";
import type { RtmpHandler } from "./types.ts";
import { WriteQueue } from "./writer.ts";

/** Settings of one session (the server passes its own). */
export interface SessionOptions {
  /** The accepted connection (TCP, or TLS for RTMPS). */
  conn: Deno.Conn;
  /** Server-unique connection number. */
  connId: number;
  /** Application callbacks. */
  handler: RtmpHandler;
  /** Logger for this session's events. */
  logger: Logger;
  /** Outgoing chunk size announced after `connect`. */
  chunkSize: number;
  /**
   * Close a client that makes no progress for this long: progress is a
   * completed handshake phase or a completed message (a trickled byte is
   * not). A player with nothing half-sent is exempt. A connection that is
   * neither publishing nor playing this long after it was accepted is
   * closed too.
   */
  idleTimeoutMs: number;
  /** Largest incoming message. */
  maxMessageSize: number;
  /** Most bytes queued to the peer before it is dropped (slow player). */
  maxQueueBytes: number;
  /** Window Acknowledgement Size announced to the client. */
  windowAckSize: number;
  /** Counts (and logs once per interval) closes that are the peer's fault. */
  refusals?: Refusals;
}

const READ_SIZE = 64 * 1024;
const FLUSH_GRACE_MS = 2000;
/** An idle check this late means the process, not the peer, stalled. */
const IDLE_LATE_MS = 50;

function u32(b: Uint8Array, p = 0): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function remoteOf(conn: Deno.Conn): string {
  const a = conn.remoteAddr as Deno.NetAddr;
  return a.hostname !== undefined ? `${a.hostname}:${a.port}` : "unknown";
}

/**
 * One client connection. {@linkcode RtmpSession.run} resolves when it is
 * closed; {@linkcode RtmpSession.close} ends it from outside.
 */
export class RtmpSession {
  #o: SessionOptions;
  #log: Logger;
  #remote: string;
  #dec: ChunkDecoder;
  #enc = new ChunkEncoder();
  #out: WriteQueue;
  #hs: HandshakeReader;
  #stream: SessionStream;
  #commands: CommandHandler;
  #closed = false;
  #closing = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #idleDue = 0;
  #idleDeferred = false;
  #lastProgress = performance.now();
  #acceptedAt = performance.now();
  #peerWindow = 0;
  #lastAck = 0;

  /** Prepares a session for an accepted connection. */
  constructor(options: SessionOptions) {
    this.#o = options;
    this.#remote = remoteOf(options.conn);
    this.#log = options.logger;
    this.#dec = new ChunkDecoder({ maxMessageSize: options.maxMessageSize });
    this.#out = new WriteQueue(options.conn, (err) => {
      this.close(`write failed: ${errorText(err)}`, "info");
    });
    this.#hs = new HandshakeReader({
      onPhase: (answer) => {
        this.#lastProgress = performance.now();
        if (!answer) return;
        this.#log.debug("handshake", {
          conn: options.connId,
          mode: answer.mode,
          schema: answer.schema,
        });
        this.#out.push(answer.response);
      },
    });
    const peer = {
      connId: options.connId,
      remoteAddr: this.#remote,
      logger: options.logger,
      send: (msg: OutgoingMessage) => this.#send(msg),
    };
    this.#stream = new SessionStream({
      ...peer,
      handler: options.handler,
      isOpen: () => !this.#closed && !this.#closing,
      closeAfterFlush: (reason) => this.#closeAfterFlush(reason),
    });
    this.#commands = new CommandHandler({
      ...peer,
      chunkSize: options.chunkSize,
      windowAckSize: options.windowAckSize,
      stream: this.#stream,
      setChunkSize: (size) => this.#enc.setChunkSize(size),
    });
  }

  /** The peer's `host:port`. */
  get remoteAddr(): string {
    return this.#remote;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs the connection until it closes; never rejects. */
  async run(): Promise<void> {
    try {
      (this.#o.conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
    } catch {
      // not fatal
    }
    this.#armIdle(this.#o.idleTimeoutMs);
    const buf = new Uint8Array(READ_SIZE);
    try {
      while (!this.#closed) {
        const n = await this.#o.conn.read(buf);
        if (n === null) {
          this.close(
            this.#dec.midMessage
              ? "client closed the connection mid-message"
              : "client closed the connection",
            "info",
          );
          break;
        }
        if (this.#closing) continue;
        this.#onBytes(buf.subarray(0, n));
      }
    } catch (err) {
      if (!this.#closed) {
        if (err instanceof RtmpProtocolError) {
          this.close(err.message, "warn", err.refusal);
        } else if (err instanceof Deno.errors.BadResource) {
          this.close("connection closed", "info");
        } else this.close(`error: ${errorText(err)}`, "warn");
      }
    }
  }

  /**
   * Closes the connection (idempotent): ends the publish (sink.onClose) or
   * the play (unsubscribe), closes the socket and logs `reason` once.
   */
  close(
    reason: string,
    level: "info" | "warn" = "info",
    refusal?: string,
  ): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const fields = {
      conn: this.#o.connId,
      remote: this.#remote,
      key: this.#stream.key,
      reason,
    };
    // The peer's fault: counted, and warned once per interval (a flood of
    // bad connections is not a flood of lines); each close still at debug.
    const counted = refusal !== undefined && this.#o.refusals !== undefined;
    if (counted) this.#o.refusals!.refuse(refusal, "rtmp peer cut off", fields);
    this.#log[counted ? "debug" : level]("rtmp connection closed", fields);
    this.#stream.endPublish(reason);
    this.#stream.endPlay();
    try {
      this.#o.conn.close();
    } catch {
      // already closed
    }
  }

  // ---- timers ----

  #armIdle(ms: number): void {
    this.#idleDue = performance.now() + ms;
    this.#idleTimer = setTimeout(() => this.#checkIdle(), ms);
  }

  #checkIdle(): void {
    this.#idleTimer = undefined;
    if (this.#closed) return;
    const limit = this.#o.idleTimeoutMs;
    const now = performance.now();
    // Fired late: this process was busy, and the peer's bytes may be
    // waiting unread. Let the reads run, then judge (once per check).
    if (now - this.#idleDue > IDLE_LATE_MS && !this.#idleDeferred) {
      this.#idleDeferred = true;
      this.#armIdle(Math.min(IDLE_LATE_MS, limit));
      return;
    }
    this.#idleDeferred = false;
    const idle = now - this.#lastProgress;
    const exempt = this.#stream.playing && !this.#dec.midMessage;
    const where = !this.#hs.done
      ? " during the handshake"
      : this.#dec.midMessage
      ? " mid-message"
      : "";
    // Never bound is judged first: a client that has neither published nor
    // played for the whole limit is "unbound" whether or not its bytes also
    // stalled (one reason per connection, the same however late this runs).
    if (!this.#stream.bound && now - this.#acceptedAt >= limit) {
      this.close(
        `idle timeout: neither publishing nor playing ${
          Math.round(now - this.#acceptedAt)
        } ms after connecting${where}`,
        "warn",
        "rtmp_unbound",
      );
      return;
    }
    if (idle >= limit && !exempt) {
      this.close(
        `idle timeout: no progress for ${Math.round(idle)} ms${where}`,
        "warn",
        "rtmp_stalled",
      );
      return;
    }
    this.#armIdle(idle >= limit ? limit : limit - idle);
  }

  // ---- input ----

  #onBytes(bytes: Uint8Array): void {
    if (!this.#hs.done) {
      bytes = this.#hs.push(bytes);
      if (bytes.length === 0) return;
    }
    const msgs = this.#dec.push(bytes);
    if (msgs.length > 0) this.#lastProgress = performance.now();
    for (const m of msgs) {
      if (this.#closed || this.#closing) return;
      this.#onMessage(m);
    }
    if (this.#peerWindow > 0) {
      const inBytes = this.#dec.bytesIn;
      if (inBytes - this.#lastAck >= this.#peerWindow) {
        this.#lastAck = inBytes;
        this.#send(ackMessage(inBytes));
      }
    }
  }

  #onMessage(m: ChunkMessage): void {
    switch (m.type) {
      case MSG_SET_CHUNK_SIZE:
      case MSG_ABORT:
      case MSG_ACK:
      case MSG_SET_PEER_BANDWIDTH:
        return;
      case MSG_WINDOW_ACK_SIZE:
        if (m.data.length < 4) {
          throw new RtmpProtocolError(
            `Window Acknowledgement Size: expected 4 bytes, received ${m.data.length}`,
          );
        }
        this.#peerWindow = u32(m.data);
        return;
      case MSG_USER_CONTROL:
        return this.#onUserControl(m);
      case MSG_AUDIO:
      case MSG_VIDEO:
        return this.#stream.deliver({
          type: m.type,
          timestamp: m.timestamp,
          data: m.data,
        });
      case MSG_DATA_AMF0:
      case MSG_DATA_AMF3:
        return this.#onData(m);
      case MSG_COMMAND_AMF0:
      case MSG_COMMAND_AMF3:
        return this.#commands.handle(m);
      case MSG_SHARED_OBJECT_AMF0:
      case MSG_SHARED_OBJECT_AMF3:
        this.#log.debug("shared object message ignored", {
          conn: this.#o.connId,
        });
        return;
      case MSG_AGGREGATE:
        return this.#onAggregate(m);
      default:
        throw new RtmpProtocolError(
          `expected a known message type, received ${m.type} (chunk stream ${m.csid}, ${m.data.length} bytes)`,
        );
    }
  }

  #onUserControl(m: ChunkMessage): void {
    if (m.data.length < 2) {
      throw new RtmpProtocolError(
        `User Control: expected at least 2 bytes, received ${m.data.length}`,
      );
    }
    const event = (m.data[0] << 8) | m.data[1];
    if (event === UC_PING_REQUEST && m.data.length >= 6) {
      this.#send(userControlMessage(UC_PING_RESPONSE, u32(m.data, 2)));
    }
  }

  #onData(m: ChunkMessage): void {
    const data = scriptDataBody(m, (reason) => {
      this.#log.warn("AMF3 data message dropped", {
        conn: this.#o.connId,
        reason,
      });
    });
    if (data) this.#stream.deliver({ type: 18, timestamp: m.timestamp, data });
  }

  #onAggregate(m: ChunkMessage): void {
    for (const { type, timestamp, data } of aggregateParts(m)) {
      if (type === MSG_AUDIO || type === MSG_VIDEO) {
        this.#stream.deliver({ type, timestamp, data });
      } else if (type === MSG_DATA_AMF0) {
        this.#onData({ ...m, type, timestamp, data });
      }
    }
  }

  // ---- output ----

  /** Queues one message; a peer that lets the queue pass the cap is dropped. */
  #send(msg: OutgoingMessage): void {
    if (this.#closed) return;
    this.#out.push(this.#enc.encode(msg));
    if (this.#out.bytes > this.#o.maxQueueBytes) {
      this.close(
        `${
          this.#stream.playing
            ? "player too slow"
            : "peer does not read its replies"
        }: ${this.#out.bytes} bytes queued (limit ${this.#o.maxQueueBytes})`,
        "warn",
        "rtmp_slow_peer",
      );
    }
  }

  /** Stops reading, flushes what is queued (bounded wait), then closes. */
  #closeAfterFlush(reason: string): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((r) => {
      timer = setTimeout(r, FLUSH_GRACE_MS);
    });
    Promise.race([this.#out.drained(), grace]).then(() => {
      clearTimeout(timer);
      this.close(reason, "info");
    });
  }
}
