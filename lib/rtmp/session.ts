/**
 * One RTMP connection (I/O): handshake, chunk stream, commands, publishing
 * into a {@linkcode PublishSink} and playing from a handler subscription.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import {
  Amf0Reader,
  type AmfObject,
  type AmfValue,
  encodeAmf0,
} from "./amf0.ts";
import { ChunkDecoder, type ChunkMessage } from "./chunk_decoder.ts";
import {
  ackMessage,
  ChunkEncoder,
  type OutgoingMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "./chunk_encoder.ts";
import { RtmpProtocolError } from "./errors.ts";
import { createServerHandshake, HANDSHAKE_SIZE } from "./handshake.ts";
import {
  CSID_AUDIO,
  CSID_COMMAND,
  CSID_DATA,
  CSID_VIDEO,
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
  UC_STREAM_BEGIN,
  UC_STREAM_EOF,
} from "./protocol.ts";
import type {
  PlaySubscription,
  PublishSink,
  RtmpHandler,
  RtmpMessage,
} from "./types.ts";
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
}

const READ_SIZE = 64 * 1024;
const FLUSH_GRACE_MS = 2000;

function str(v: AmfValue): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function stripQuery(s: string): string {
  const q = s.indexOf("?");
  return q < 0 ? s : s.slice(0, q);
}

function queryOf(s: string): string {
  const q = s.indexOf("?");
  return q < 0 ? "" : s.slice(q + 1);
}

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
  #closed = false;
  #closing = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lastProgress = performance.now();
  #acceptedAt = performance.now();
  #phase: "c0c1" | "c2" | "chunks" = "c0c1";
  #hs = new Uint8Array(1 + HANDSHAKE_SIZE);
  #hsLen = 0;
  #peerWindow = 0;
  #lastAck = 0;
  #connected = false;
  #app = "";
  #appQuery = "";
  #objectEncoding = 0;
  #nextStreamId = 1;
  #publishKey: string | undefined;
  #publishStreamId = 0;
  #sink: PublishSink | undefined;
  #play: PlaySubscription | undefined;
  #playStreamId = 0;
  #playing = false;
  #pending = false; // a publish/play decision (hook) is in flight

  /** Prepares a session for an accepted connection. */
  constructor(options: SessionOptions) {
    this.#o = options;
    this.#remote = remoteOf(options.conn);
    this.#log = options.logger;
    this.#dec = new ChunkDecoder({ maxMessageSize: options.maxMessageSize });
    this.#out = new WriteQueue(options.conn, (err) => {
      this.close(`write failed: ${errText(err)}`, "info");
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
        if (err instanceof RtmpProtocolError) this.close(err.message, "warn");
        else if (err instanceof Deno.errors.BadResource) {
          this.close("connection closed", "info");
        } else this.close(`error: ${errText(err)}`, "warn");
      }
    }
  }

  /**
   * Closes the connection (idempotent): ends the publish (sink.onClose) or
   * the play (unsubscribe), closes the socket and logs `reason` once.
   */
  close(reason: string, level: "info" | "warn" = "info"): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#log[level]("rtmp connection closed", {
      conn: this.#o.connId,
      remote: this.#remote,
      key: this.#publishKey,
      reason,
    });
    this.#endPublish(reason);
    this.#endPlay();
    try {
      this.#o.conn.close();
    } catch {
      // already closed
    }
  }

  // ---- timers ----

  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(() => this.#checkIdle(), ms);
  }

  #checkIdle(): void {
    this.#idleTimer = undefined;
    if (this.#closed) return;
    const limit = this.#o.idleTimeoutMs;
    const now = performance.now();
    const idle = now - this.#lastProgress;
    const exempt = this.#playing && !this.#dec.midMessage;
    const where = this.#phase !== "chunks"
      ? " during the handshake"
      : this.#dec.midMessage
      ? " mid-message"
      : "";
    if (idle >= limit && !exempt) {
      this.close(
        `idle timeout: no progress for ${Math.round(idle)} ms${where}`,
        "warn",
      );
      return;
    }
    const bound = this.#sink !== undefined || this.#play !== undefined ||
      this.#pending;
    if (!bound && now - this.#acceptedAt >= limit) {
      this.close(
        `idle timeout: neither publishing nor playing ${
          Math.round(now - this.#acceptedAt)
        } ms after connecting${where}`,
        "warn",
      );
      return;
    }
    this.#armIdle(idle >= limit ? limit : limit - idle);
  }

  // ---- input ----

  #onBytes(bytes: Uint8Array): void {
    if (this.#phase !== "chunks") {
      bytes = this.#handshake(bytes);
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

  /** Consumes handshake bytes; returns what is left for the chunk stream. */
  #handshake(bytes: Uint8Array): Uint8Array {
    const want = this.#phase === "c0c1" ? 1 + HANDSHAKE_SIZE : HANDSHAKE_SIZE;
    if (this.#phase === "c0c1" && this.#hsLen === 0 && bytes[0] !== 3) {
      throw new RtmpProtocolError(
        `handshake: expected RTMP version 3 in C0, received ${bytes[0]}`,
      );
    }
    const take = Math.min(want - this.#hsLen, bytes.length);
    this.#hs.set(bytes.subarray(0, take), this.#hsLen);
    this.#hsLen += take;
    const rest = bytes.subarray(take);
    if (this.#hsLen < want) return rest;
    this.#hsLen = 0;
    this.#lastProgress = performance.now();
    if (this.#phase === "c0c1") {
      const hs = createServerHandshake(this.#hs, {
        time: Math.floor(performance.now()),
      });
      this.#log.debug("handshake", {
        conn: this.#o.connId,
        mode: hs.mode,
        schema: hs.schema,
      });
      this.#out.push(hs.response);
      this.#phase = "c2";
      return rest.length > 0 ? this.#handshake(rest) : rest;
    }
    this.#phase = "chunks";
    return rest;
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
        return this.#deliver({
          type: m.type,
          timestamp: m.timestamp,
          data: m.data,
        });
      case MSG_DATA_AMF0:
      case MSG_DATA_AMF3:
        return this.#onData(m);
      case MSG_COMMAND_AMF0:
      case MSG_COMMAND_AMF3:
        return this.#onCommand(m);
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

  #deliver(msg: RtmpMessage): void {
    if (!this.#sink) {
      this.#log.debug("media before publish ignored", {
        conn: this.#o.connId,
        type: msg.type,
      });
      return;
    }
    this.#sink.onMessage(msg);
  }

  #onData(m: ChunkMessage): void {
    let body = m.data;
    if (m.type === MSG_DATA_AMF3 && body.length > 0 && body[0] === 0) {
      body = body.subarray(1);
    }
    const r = new Amf0Reader(body);
    const first = r.read();
    if (typeof first !== "string") {
      throw new RtmpProtocolError(
        `data message: expected a string handler name first, received ${typeof first}`,
      );
    }
    if (first === "@setDataFrame") body = body.subarray(r.offset);
    const values = new Amf0Reader(body).readAll();
    if (m.type === MSG_DATA_AMF3) {
      try {
        body = encodeAmf0(...values);
      } catch (err) {
        this.#log.warn("AMF3 data message dropped", {
          conn: this.#o.connId,
          reason: errText(err),
        });
        return;
      }
    }
    this.#deliver({ type: 18, timestamp: m.timestamp, data: body });
  }

  #onAggregate(m: ChunkMessage): void {
    const d = m.data;
    let p = 0;
    let base = -1;
    while (p < d.length) {
      if (d.length - p < 11) {
        throw new RtmpProtocolError(
          `aggregate: expected an 11-byte sub-message header at ${p}, ${
            d.length - p
          } bytes left`,
        );
      }
      const type = d[p];
      const size = (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3];
      const ts = ((d[p + 7] << 24) | (d[p + 4] << 16) | (d[p + 5] << 8) |
        d[p + 6]) >>> 0;
      p += 11;
      if (d.length - p < size) {
        throw new RtmpProtocolError(
          `aggregate: sub-message of ${size} bytes exceeds the ${
            d.length - p
          } left`,
        );
      }
      if (base < 0) base = ts;
      const data = d.subarray(p, p + size);
      p += size + 4; // back pointer
      const timestamp = (m.timestamp + ts - base) >>> 0;
      if (type === MSG_AUDIO || type === MSG_VIDEO) {
        this.#deliver({ type, timestamp, data });
      } else if (type === MSG_DATA_AMF0) {
        this.#onData({ ...m, type, timestamp, data });
      }
    }
  }

  // ---- commands ----

  #onCommand(m: ChunkMessage): void {
    let body = m.data;
    if (m.type === MSG_COMMAND_AMF3 && body.length > 0 && body[0] === 0) {
      body = body.subarray(1);
    }
    const args = new Amf0Reader(body).readAll();
    const name = args[0];
    const txn = args[1];
    if (typeof name !== "string" || typeof txn !== "number") {
      throw new RtmpProtocolError(
        `command: expected name (string) and transaction id (number), received ${typeof name} and ${typeof txn}`,
      );
    }
    this.#log.debug("command", { conn: this.#o.connId, name, txn });
    if (name !== "connect" && !this.#connected) {
      throw new RtmpProtocolError(
        `command: expected connect first, received ${name}`,
      );
    }
    switch (name) {
      case "connect":
        return this.#onConnect(txn, args[2]);
      case "createStream":
        this.#result(txn, null, this.#nextStreamId++);
        return;
      case "releaseStream":
      case "FCPublish":
        this.#result(txn, null, undefined);
        return;
      case "publish":
        return this.#onPublish(m.streamId, args);
      case "play":
        return this.#onPlay(m.streamId, args);
      case "getStreamLength":
        this.#result(txn, null, 0);
        return;
      case "FCUnpublish":
        if (txn !== 0) this.#result(txn, null, undefined);
        this.#endPublish("unpublished (FCUnpublish)");
        return;
      case "deleteStream":
      case "closeStream": {
        const sid = typeof args[3] === "number" ? args[3] : m.streamId;
        if (this.#sink && (sid === this.#publishStreamId || sid === 0)) {
          this.#endPublish(`unpublished (${name})`);
        }
        if (this.#play && (sid === this.#playStreamId || sid === 0)) {
          this.#endPlay();
        }
        return;
      }
      case "_checkbw":
      case "_result":
      case "_error":
      case "onBWDone":
        return;
      default:
        if (txn !== 0) {
          this.#command(CSID_COMMAND, 0, "_error", txn, null, {
            level: "error",
            code: "NetConnection.Call.Failed",
            description: `Method not found (${name}).`,
          });
        }
    }
  }

  #onConnect(txn: number, cmd: AmfValue): void {
    if (this.#connected) {
      throw new RtmpProtocolError("command: connect received twice");
    }
    const obj = (cmd && typeof cmd === "object" && !Array.isArray(cmd) &&
        !(cmd instanceof Map) && !(cmd instanceof Date) &&
        !(cmd instanceof Uint8Array))
      ? cmd as AmfObject
      : {};
    this.#app = stripQuery(str(obj.app) ?? "").replace(/^\/+|\/+$/g, "");
    this.#appQuery = queryOf(str(obj.app) ?? "") ||
      queryOf(str(obj.tcUrl) ?? "");
    this.#objectEncoding = typeof obj.objectEncoding === "number"
      ? obj.objectEncoding
      : 0;
    this.#connected = true;
    this.#log.info("rtmp connect", {
      conn: this.#o.connId,
      remote: this.#remote,
      app: this.#app,
      flashVer: str(obj.flashVer),
      tcUrl: str(obj.tcUrl),
    });
    this.#send(windowAckSizeMessage(this.#o.windowAckSize));
    this.#send(setPeerBandwidthMessage(this.#o.windowAckSize, 2));
    this.#send(setChunkSizeMessage(this.#o.chunkSize));
    this.#enc.setChunkSize(this.#o.chunkSize);
    this.#send(userControlMessage(UC_STREAM_BEGIN, 0));
    this.#result(
      txn,
      { fmsVer: "FMS/3,0,1,123", capabilities: 31 },
      {
        level: "status",
        code: "NetConnection.Connect.Success",
        description: "Connection succeeded.",
        objectEncoding: this.#objectEncoding,
      },
    );
  }

  #key(
    nameArg: AmfValue,
  ): { name: string; key: string; query: string } | undefined {
    const raw = str(nameArg);
    if (raw === undefined) return undefined;
    const name = stripQuery(raw).replace(/^\/+|\/+$/g, "");
    if (!name) return undefined;
    return {
      name,
      key: `${this.#app}/${name}`,
      query: queryOf(raw) || this.#appQuery,
    };
  }

  #onPublish(streamId: number, args: AmfValue[]): void {
    const k = this.#key(args[3]);
    const refuse = (reason: string) => {
      this.#status(streamId, "error", "NetStream.Publish.BadName", reason);
      this.#closeAfterFlush(`publish refused: ${reason}`);
    };
    if (!k) return refuse("publish: expected a stream name");
    if (this.#sink || this.#play || this.#pending) {
      return refuse("this connection already publishes or plays a stream");
    }
    const info = {
      key: k.key,
      app: this.#app,
      name: k.name,
      query: k.query,
      remoteAddr: this.#remote,
      connId: this.#o.connId,
    };
    const accept = (answer: PublishSink | string) => {
      if (typeof answer === "string") {
        this.#log.warn("publish refused", {
          conn: this.#o.connId,
          remote: this.#remote,
          key: k.key,
          reason: answer,
        });
        this.#publishKey = k.key;
        return refuse(answer);
      }
      if (this.#closed || this.#closing) {
        // The client left while the decision was pending.
        try {
          answer.onClose("client left before the publish was accepted");
        } catch { /* the sink's own problem */ }
        return;
      }
      this.#sink = answer;
      this.#publishKey = k.key;
      this.#publishStreamId = streamId;
      this.#streamBegins("publish", k.key, streamId);
      this.#status(
        streamId,
        "status",
        "NetStream.Publish.Start",
        `${k.key} is now published.`,
        k.name,
      );
    };
    this.#decide<PublishSink>(
      this.#o.handler.publish(info),
      accept,
      "publish",
    );
  }

  /**
   * Applies a handler's answer now, or when its promise settles (a hook);
   * meanwhile the connection counts as bound and takes no other
   * publish/play. A rejected promise refuses.
   */
  #decide<T>(
    answer: T | string | Promise<T | string>,
    apply: (a: T | string) => void,
    what: string,
  ): void {
    if (!(answer instanceof Promise)) return apply(answer);
    this.#pending = true;
    answer.then(
      (a) => {
        this.#pending = false;
        apply(a); // also when closed meanwhile: apply releases what it got
      },
      (err) => {
        this.#pending = false;
        apply(`${what} refused: ${errText(err)}`);
      },
    );
  }

  /** Logs the start of a publish or play and sends User Control StreamBegin. */
  #streamBegins(kind: "publish" | "play", key: string, streamId: number): void {
    this.#log.info(`${kind} started`, {
      conn: this.#o.connId,
      remote: this.#remote,
      key,
    });
    this.#send(userControlMessage(UC_STREAM_BEGIN, streamId));
  }

  #onPlay(streamId: number, args: AmfValue[]): void {
    const k = this.#key(args[3]);
    if (!k) {
      this.#status(
        streamId,
        "error",
        "NetStream.Play.StreamNotFound",
        "play: expected a stream name",
      );
      return;
    }
    if (this.#sink || this.#play || this.#pending) {
      this.#status(
        streamId,
        "error",
        "NetStream.Play.Failed",
        "this connection already publishes or plays a stream",
      );
      return;
    }
    const early: RtmpMessage[] = [];
    let ready = false;
    let ended = false;
    const send = (msg: RtmpMessage) => {
      if (this.#closed || this.#closing || !this.#playing && ready) return;
      if (!ready) {
        if (early.length < 4096) early.push(msg);
        return;
      }
      this.#sendMedia(msg);
    };
    const end = () => {
      if (!ready) {
        ended = true;
        return;
      }
      this.#onPlayEnd();
    };
    const info = {
      key: k.key,
      app: this.#app,
      name: k.name,
      query: k.query,
      remoteAddr: this.#remote,
      connId: this.#o.connId,
    };
    const apply = (sub: PlaySubscription | null | string) => {
      if (sub && typeof sub === "object" && (this.#closed || this.#closing)) {
        this.#unsubscribe(sub); // the client left while a hook decided
        return;
      }
      if (typeof sub === "string") {
        this.#log.warn("play refused", {
          conn: this.#o.connId,
          remote: this.#remote,
          key: k.key,
          reason: sub,
        });
        this.#status(streamId, "error", "NetStream.Play.Failed", sub, k.name);
        this.#closeAfterFlush(`play refused: ${sub}`);
        return;
      }
      if (!sub) {
        this.#log.info("play of unknown stream", {
          conn: this.#o.connId,
          key: k.key,
        });
        this.#status(
          streamId,
          "error",
          "NetStream.Play.StreamNotFound",
          `${k.key} is not being published.`,
          k.name,
        );
        return;
      }
      this.#playing = true;
      this.#play = sub;
      this.#playStreamId = streamId;
      this.#publishKey = k.key;
      this.#streamBegins("play", k.key, streamId);
      this.#status(
        streamId,
        "status",
        "NetStream.Play.Reset",
        `Playing and resetting ${k.key}.`,
        k.name,
      );
      this.#status(
        streamId,
        "status",
        "NetStream.Play.Start",
        `Started playing ${k.key}.`,
        k.name,
      );
      this.#send({
        csid: CSID_DATA,
        type: MSG_DATA_AMF0,
        streamId,
        timestamp: 0,
        data: encodeAmf0("|RtmpSampleAccess", true, true),
      });
      ready = true;
      for (const t of sub.startTags) this.#sendMedia(t);
      for (const t of early) this.#sendMedia(t);
      early.length = 0;
      if (ended) this.#onPlayEnd();
    };
    this.#decide<PlaySubscription | null>(
      this.#o.handler.play(info, send, end),
      apply,
      "play",
    );
  }

  #sendMedia(msg: RtmpMessage): void {
    if (!this.#playing || this.#closed || this.#closing) return;
    const csid = msg.type === MSG_AUDIO
      ? CSID_AUDIO
      : msg.type === MSG_VIDEO
      ? CSID_VIDEO
      : CSID_DATA;
    this.#send({
      csid,
      type: msg.type,
      streamId: this.#playStreamId,
      timestamp: msg.timestamp,
      data: msg.data,
    });
  }

  #onPlayEnd(): void {
    if (!this.#playing || this.#closed || this.#closing) return;
    const sid = this.#playStreamId;
    this.#send(userControlMessage(UC_STREAM_EOF, sid));
    this.#status(
      sid,
      "status",
      "NetStream.Play.UnpublishNotify",
      `${this.#publishKey} is now unpublished.`,
    );
    this.#status(
      sid,
      "status",
      "NetStream.Play.Stop",
      `Stopped playing ${this.#publishKey}.`,
    );
    this.#closeAfterFlush("stream ended");
  }

  #endPublish(reason: string): void {
    const sink = this.#sink;
    if (!sink) return;
    this.#sink = undefined;
    this.#log.info("publish ended", {
      conn: this.#o.connId,
      key: this.#publishKey,
      reason,
    });
    try {
      sink.onClose(reason);
    } catch (err) {
      this.#log.error("publish sink onClose threw", {
        conn: this.#o.connId,
        error: errText(err),
      });
    }
  }

  #endPlay(): void {
    const sub = this.#play;
    this.#playing = false;
    if (!sub) return;
    this.#play = undefined;
    this.#unsubscribe(sub);
  }

  #unsubscribe(sub: PlaySubscription): void {
    try {
      sub.unsubscribe();
    } catch (err) {
      this.#log.error("play unsubscribe threw", {
        conn: this.#o.connId,
        error: errText(err),
      });
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
          this.#playing ? "player too slow" : "peer does not read its replies"
        }: ${this.#out.bytes} bytes queued (limit ${this.#o.maxQueueBytes})`,
        "warn",
      );
    }
  }

  #command(
    csid: number,
    streamId: number,
    ...values: AmfValue[]
  ): void {
    this.#send({
      csid,
      type: MSG_COMMAND_AMF0,
      streamId,
      timestamp: 0,
      data: encodeAmf0(...values),
    });
  }

  #result(txn: number, ...values: AmfValue[]): void {
    this.#command(CSID_COMMAND, 0, "_result", txn, ...values);
  }

  #status(
    streamId: number,
    level: "status" | "error",
    code: string,
    description: string,
    details?: string,
  ): void {
    const info: AmfObject = { level, code, description };
    if (details !== undefined) info.details = details;
    info.clientid = this.#o.connId;
    this.#command(CSID_DATA, streamId, "onStatus", 0, null, info);
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

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
