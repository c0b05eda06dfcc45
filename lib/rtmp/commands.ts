/**
 * NetConnection commands of one server session: `connect` (answered with
 * the window, bandwidth and chunk size settings), `createStream`, the
 * publish/play commands handed to the {@linkcode SessionStream}, and
 * `_error` for any method it does not know.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { Amf0Reader, type AmfValue } from "./amf0.ts";
import type { ChunkMessage } from "./chunk_decoder.ts";
import { type OutgoingMessage, userControlMessage } from "./chunk_encoder.ts";
import { RtmpProtocolError } from "./errors.ts";
import { CSID_COMMAND, MSG_COMMAND_AMF3, UC_STREAM_BEGIN } from "./protocol.ts";
import { commandMessage, connectSettings, resultMessage } from "./replies.ts";
import type { SessionStream } from "./session_stream.ts";
import {
  type ConnectParams,
  parseConnect,
  streamTarget,
} from "./stream_names.ts";

/** What a {@linkcode CommandHandler} needs from its session. */
export interface CommandHandlerOptions {
  /** Server-unique connection number. */
  connId: number;
  /** The peer's `host:port`. */
  remoteAddr: string;
  /** Logger for this session's events. */
  logger: Logger;
  /** Outgoing chunk size announced after `connect`. */
  chunkSize: number;
  /** Window Acknowledgement Size announced after `connect`. */
  windowAckSize: number;
  /** The connection's publish or play. */
  stream: SessionStream;
  /** Queues one message to the peer. */
  send(msg: OutgoingMessage): void;
  /** Encodes every later message in chunks of `size`. */
  setChunkSize(size: number): void;
}

/** Answers one connection's command messages (types 20 and 17). */
export class CommandHandler {
  #o: CommandHandlerOptions;
  #connect: ConnectParams | undefined;
  #nextStreamId = 1;

  /** Waits for `connect`. */
  constructor(options: CommandHandlerOptions) {
    this.#o = options;
  }

  /**
   * Handles one command message; throws {@linkcode RtmpProtocolError} for
   * one without name and transaction id, or anything before `connect`.
   */
  handle(m: ChunkMessage): void {
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
    this.#o.logger.debug("command", { conn: this.#o.connId, name, txn });
    const connected = this.#connect;
    if (name === "connect") return this.#onConnect(txn, args[2]);
    if (!connected) {
      throw new RtmpProtocolError(
        `command: expected connect first, received ${name}`,
      );
    }
    const stream = this.#o.stream;
    switch (name) {
      case "createStream":
        this.#o.send(resultMessage(txn, null, this.#nextStreamId++));
        return;
      case "releaseStream":
      case "FCPublish":
        this.#o.send(resultMessage(txn, null, undefined));
        return;
      case "publish":
        return stream.publish(m.streamId, streamTarget(connected, args[3]));
      case "play":
        return stream.play(m.streamId, streamTarget(connected, args[3]));
      case "getStreamLength":
        this.#o.send(resultMessage(txn, null, 0));
        return;
      case "FCUnpublish":
        if (txn !== 0) this.#o.send(resultMessage(txn, null, undefined));
        stream.endPublish("unpublished (FCUnpublish)");
        return;
      case "deleteStream":
      case "closeStream":
        return stream.closeStream(
          typeof args[3] === "number" ? args[3] : m.streamId,
          name,
        );
      case "_checkbw":
      case "_result":
      case "_error":
      case "onBWDone":
        return;
      default:
        if (txn !== 0) {
          this.#o.send(commandMessage(CSID_COMMAND, 0, "_error", txn, null, {
            level: "error",
            code: "NetConnection.Call.Failed",
            description: `Method not found (${name}).`,
          }));
        }
    }
  }

  #onConnect(txn: number, cmd: AmfValue): void {
    if (this.#connect) {
      throw new RtmpProtocolError("command: connect received twice");
    }
    const c = parseConnect(cmd);
    this.#connect = c;
    const o = this.#o;
    o.logger.info("rtmp connect", {
      conn: o.connId,
      remote: o.remoteAddr,
      app: c.app,
      flashVer: c.flashVer,
      tcUrl: c.tcUrl,
    });
    for (const msg of connectSettings(o.windowAckSize, o.chunkSize)) {
      o.send(msg);
    }
    o.setChunkSize(o.chunkSize);
    o.send(userControlMessage(UC_STREAM_BEGIN, 0));
    o.send(resultMessage(
      txn,
      { fmsVer: "FMS/3,0,1,123", capabilities: 31 },
      {
        level: "status",
        code: "NetConnection.Connect.Success",
        description: "Connection succeeded.",
        objectEncoding: c.objectEncoding,
      },
    ));
  }
}
