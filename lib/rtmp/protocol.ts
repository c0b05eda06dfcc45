/**
 * RTMP 1.0 constants: message type ids, user control event types, default
 * sizes and limits.
 *
 * @module
 */

/** Message type 1: Set Chunk Size (protocol control). */
export const MSG_SET_CHUNK_SIZE = 1;
/** Message type 2: Abort Message (protocol control). */
export const MSG_ABORT = 2;
/** Message type 3: Acknowledgement (protocol control). */
export const MSG_ACK = 3;
/** Message type 4: User Control Message. */
export const MSG_USER_CONTROL = 4;
/** Message type 5: Window Acknowledgement Size (protocol control). */
export const MSG_WINDOW_ACK_SIZE = 5;
/** Message type 6: Set Peer Bandwidth (protocol control). */
export const MSG_SET_PEER_BANDWIDTH = 6;
/** Message type 8: audio data. */
export const MSG_AUDIO = 8;
/** Message type 9: video data. */
export const MSG_VIDEO = 9;
/** Message type 15: data message, AMF3 wrapped. */
export const MSG_DATA_AMF3 = 15;
/** Message type 16: shared object, AMF3. */
export const MSG_SHARED_OBJECT_AMF3 = 16;
/** Message type 17: command message, AMF3 wrapped. */
export const MSG_COMMAND_AMF3 = 17;
/** Message type 18: data message, AMF0 (`@setDataFrame`, `onMetaData`). */
export const MSG_DATA_AMF0 = 18;
/** Message type 19: shared object, AMF0. */
export const MSG_SHARED_OBJECT_AMF0 = 19;
/** Message type 20: command message, AMF0. */
export const MSG_COMMAND_AMF0 = 20;
/** Message type 22: aggregate message (FLV tags back to back). */
export const MSG_AGGREGATE = 22;

/** User control event 0: Stream Begin. */
export const UC_STREAM_BEGIN = 0;
/** User control event 1: Stream EOF. */
export const UC_STREAM_EOF = 1;
/** User control event 2: Stream Dry. */
export const UC_STREAM_DRY = 2;
/** User control event 3: Set Buffer Length. */
export const UC_SET_BUFFER_LENGTH = 3;
/** User control event 4: Stream Is Recorded. */
export const UC_STREAM_IS_RECORDED = 4;
/** User control event 6: Ping Request. */
export const UC_PING_REQUEST = 6;
/** User control event 7: Ping Response. */
export const UC_PING_RESPONSE = 7;

/** The chunk size both sides start with (RTMP 1.0 §5.4.1). */
export const DEFAULT_CHUNK_SIZE = 128;
/**
 * Largest chunk size this implementation accepts from a peer (16 MiB). The
 * spec allows up to 0x7FFFFFFF; nothing real uses more than a few KiB.
 */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** Largest message length the 3-byte header field can express (16 MiB − 1). */
export const MAX_MESSAGE_LENGTH_FIELD = 0xffffff;
/** Default largest message accepted from a peer (8 MiB). */
export const DEFAULT_MAX_MESSAGE_SIZE = 8 * 1024 * 1024;
/** Chunk stream id for protocol control messages. */
export const CSID_PROTOCOL = 2;
/** Chunk stream id this server uses for commands. */
export const CSID_COMMAND = 3;
/** Chunk stream id this server uses for audio. */
export const CSID_AUDIO = 4;
/** Chunk stream id this server uses for data (metadata) messages. */
export const CSID_DATA = 5;
/** Chunk stream id this server uses for video. */
export const CSID_VIDEO = 6;
