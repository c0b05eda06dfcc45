/**
 * RTMP 1.0 server for flvcast: publishers (ffmpeg, OBS, GStreamer) push
 * streams into a {@linkcode PublishSink}, players pull them from an
 * {@linkcode RtmpHandler} subscription.
 *
 * Stream key = `app/name` with any `?query` stripped (`live/movie`).
 *
 * Publish: `handler.publish(info)` returns a sink (accept → client gets
 * `NetStream.Publish.Start`) or a string (refuse → `NetStream.Publish.BadName`
 * with that description, then the connection is closed). The sink gets every
 * audio (8), video (9) and script (18, `@setDataFrame` stripped so the body is
 * `["onMetaData", {...}]`; AMF3 data messages are converted to AMF0) message,
 * then `onClose(reason)` exactly once.
 *
 * Play: `handler.play(info, send, end)` returns `null` (client gets
 * `NetStream.Play.StreamNotFound`) or `{ startTags, unsubscribe }`. The session
 * writes Stream Begin, `NetStream.Play.Reset`, `NetStream.Play.Start`,
 * `|RtmpSampleAccess`, the start tags, then whatever the handler passes to
 * `send(msg)`. Writes are queued up to `maxQueueBytes`; past it the player
 * is disconnected (logged). `end()` sends Stream EOF,
 * `NetStream.Play.UnpublishNotify` and `NetStream.Play.Stop`, then closes the
 * connection once flushed. `unsubscribe()` is called exactly once when the
 * play stops for any reason.
 *
 * Every malformed input (bad handshake version, chunk size 0 or > 16 MiB or
 * ≥ 2^31, a message longer than `maxMessageSize`, unknown message type, AMF
 * that does not parse, a client stalling longer than `idleTimeoutMs`) closes
 * that connection only, logged once as `rtmp connection closed … reason=…`.
 *
 * @example Usage
 * ```ts ignore
 * import { RtmpServer } from "./mod.ts";
 * const server = new RtmpServer({
 *   port: 0,
 *   handler: {
 *     publish: (info) => ({
 *       onMessage: (msg) => console.log(info.key, msg.type, msg.timestamp),
 *       onClose: (reason) => console.log(info.key, "ended:", reason),
 *     }),
 *     play: () => null,
 *   },
 * });
 * await server.start();
 * console.log(`rtmp://127.0.0.1:${server.port}/live/test`);
 * await server.stop();
 * ```
 *
 * @module
 */
export {
  RtmpServer,
  type RtmpServerOptions,
  type RtmpTlsOptions,
} from "./server.ts";
export type {
  PlayInfo,
  PlaySubscription,
  PublishInfo,
  PublishSink,
  RtmpHandler,
  RtmpMessage,
  StreamRequestInfo,
} from "./types.ts";
export { RtmpProtocolError } from "./errors.ts";
export { Amf3Reader } from "./amf3.ts";
export {
  Amf0Reader,
  type AmfObject,
  AmfTypedObject,
  type AmfValue,
  AmfXmlDocument,
  decodeAmf0,
  encodeAmf0,
} from "./amf0.ts";
export {
  checkChunkSize,
  ChunkDecoder,
  type ChunkDecoderOptions,
  type ChunkMessage,
} from "./chunk_decoder.ts";
export {
  abortMessage,
  ackMessage,
  ChunkEncoder,
  type OutgoingMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "./chunk_encoder.ts";
export {
  type ClientHandshakeOptions,
  createClientHandshake,
  createServerHandshake,
  digestOffset,
  type DigestSchema,
  findDigest,
  FLASH_MEDIA_SERVER_KEY,
  FLASH_PLAYER_KEY,
  HANDSHAKE_SIZE,
  hmacSha256,
  RTMP_VERSION,
  type ServerHandshake,
  type ServerHandshakeOptions,
} from "./handshake.ts";
export * from "./protocol.ts";
