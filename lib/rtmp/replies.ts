/**
 * The messages a server session sends about commands and streams (pure):
 * the settings announced on `connect`, `_result`/`_error` answers,
 * `onStatus` events, `|RtmpSampleAccess` and media on its chunk stream.
 *
 * @module
 */
import { type AmfObject, type AmfValue, encodeAmf0 } from "./amf0.ts";
import {
  type OutgoingMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  windowAckSizeMessage,
} from "./chunk_encoder.ts";
import {
  CSID_AUDIO,
  CSID_COMMAND,
  CSID_DATA,
  CSID_VIDEO,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_DATA_AMF0,
  MSG_VIDEO,
} from "./protocol.ts";
import type { RtmpMessage } from "./types.ts";

/** An `onStatus` event on one message stream. */
export interface StreamStatus {
  /** Message stream the event is about. */
  streamId: number;
  /** `status` or `error`. */
  level: "status" | "error";
  /** Event code, e.g. `NetStream.Publish.Start`. */
  code: string;
  /** Human-readable description. */
  description: string;
  /** The stream name, when the event names one. */
  details?: string;
  /** Server-unique connection number, sent as `clientid`. */
  clientId: number;
}

/**
 * What the server announces on `connect`, in order: Window Acknowledgement
 * Size, Set Peer Bandwidth (dynamic) of the same size, and Set Chunk Size.
 */
export function connectSettings(
  windowAckSize: number,
  chunkSize: number,
): OutgoingMessage[] {
  return [
    windowAckSizeMessage(windowAckSize),
    setPeerBandwidthMessage(windowAckSize, 2),
    setChunkSizeMessage(chunkSize),
  ];
}

/** An AMF0 command message of `values` on chunk stream `csid`. */
export function commandMessage(
  csid: number,
  streamId: number,
  ...values: AmfValue[]
): OutgoingMessage {
  return {
    csid,
    type: MSG_COMMAND_AMF0,
    streamId,
    timestamp: 0,
    data: encodeAmf0(...values),
  };
}

/** The `_result` answer to transaction `txn`. */
export function resultMessage(
  txn: number,
  ...values: AmfValue[]
): OutgoingMessage {
  return commandMessage(CSID_COMMAND, 0, "_result", txn, ...values);
}

/** An `onStatus` command carrying `status`. */
export function statusMessage(status: StreamStatus): OutgoingMessage {
  const { streamId, level, code, description, details } = status;
  const info: AmfObject = { level, code, description };
  if (details !== undefined) info.details = details;
  info.clientid = status.clientId;
  return commandMessage(CSID_DATA, streamId, "onStatus", 0, null, info);
}

/** `|RtmpSampleAccess` (audio and video sample access granted). */
export function sampleAccessMessage(streamId: number): OutgoingMessage {
  return {
    csid: CSID_DATA,
    type: MSG_DATA_AMF0,
    streamId,
    timestamp: 0,
    data: encodeAmf0("|RtmpSampleAccess", true, true),
  };
}

/** A media or script message to a player, on its type's chunk stream. */
export function mediaMessage(
  msg: RtmpMessage,
  streamId: number,
): OutgoingMessage {
  const csid = msg.type === MSG_AUDIO
    ? CSID_AUDIO
    : msg.type === MSG_VIDEO
    ? CSID_VIDEO
    : CSID_DATA;
  return {
    csid,
    type: msg.type,
    streamId,
    timestamp: msg.timestamp,
    data: msg.data,
  };
}
