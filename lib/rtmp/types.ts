/**
 * The contract between the RTMP server and the application that owns the
 * streams (the cloud): what a publisher delivers and how a player is fed.
 *
 * @module
 */

/**
 * One audio, video or script message, shaped like an FLV tag (`FlvTag` of
 * `lib/flv`). Type 18 carries the AMF0 body without `@setDataFrame`, e.g.
 * `["onMetaData", {...}]`.
 */
export interface RtmpMessage {
  /** 8 audio, 9 video, 18 script data (AMF0). */
  type: 8 | 9 | 18;
  /** Absolute timestamp in ms, u32. */
  timestamp: number;
  /** The message body (FLV tag body). Owned by the receiver; never reused. */
  data: Uint8Array;
}

/** Receives one publisher's messages. */
export interface PublishSink {
  /** Called for every audio, video and script message, in order. */
  onMessage(msg: RtmpMessage): void;
  /**
   * Called exactly once when the publish ends: clean unpublish
   * (`FCUnpublish`, `closeStream`, `deleteStream`), socket loss, a protocol
   * error or server stop. `reason` says which.
   */
  onClose(reason: string): void;
}

/** Who wants to publish or play: a stream request of one connection. */
export interface StreamRequestInfo {
  /** Stream key `app/name` (query strings stripped), e.g. `live/movie`. */
  key: string;
  /** Application from `connect` (query stripped), e.g. `live`. */
  app: string;
  /** Stream name from `publish` / `play` (query stripped), e.g. `movie`. */
  name: string;
  /**
   * The query string without `?` (e.g. `sign=1767225600-abc…`): from the
   * stream name, else from `connect`'s `app`/`tcUrl`; `""` when none.
   */
  query: string;
  /** Publisher's or player's address `host:port`. */
  remoteAddr: string;
  /** Server-unique connection number. */
  connId: number;
}

/** Who wants to publish. */
export type PublishInfo = StreamRequestInfo;

/** Who wants to play. */
export type PlayInfo = StreamRequestInfo;

/** What the handler returns to accept a player. */
export interface PlaySubscription {
  /**
   * Sent first, in order: onMetaData, sequence headers, the cached GOP from
   * its last keyframe — what a late joiner needs to start decoding.
   */
  startTags: RtmpMessage[];
  /**
   * Called exactly once when the session stops playing, for any reason
   * (player left, `closeStream`/`deleteStream`, player too slow, after
   * `end()`, server stop). The handler must stop calling `send` then
   * (further calls are ignored anyway).
   */
  unsubscribe(): void;
}

/** The application side of the RTMP server. */
export interface RtmpHandler {
  /**
   * A client asks to publish `info.key`. Return a sink to accept, or a
   * string reason to refuse (the client gets `NetStream.Publish.BadName` with
   * that description and is disconnected) — or a promise of either (an
   * HTTP hook deciding; a rejection refuses). The connection takes no other
   * publish/play meanwhile and media sent before the answer is dropped.
   */
  publish(
    info: PublishInfo,
  ): PublishSink | string | Promise<PublishSink | string>;
  /**
   * A client asks to play `info.key`. Return `null` for an unknown key (the
   * client gets `NetStream.Play.StreamNotFound`), else the start tags and an
   * unsubscribe callback. The handler then calls `send(msg)` for every live
   * message (synchronously, never blocking: the session queues a bounded
   * amount and disconnects a player that cannot keep up) and `end()` when
   * the stream is over (the player gets `NetStream.Play.UnpublishNotify` and
   * `NetStream.Play.Stop`, then the connection is closed once flushed).
   * Calls to `send` made before `play` returns are delivered after
   * `startTags`. A string refuses (the client gets `NetStream.Play.Failed`
   * with it and is disconnected); a promise of any of these is awaited (a
   * rejection refuses).
   */
  play(
    info: PlayInfo,
    send: (msg: RtmpMessage) => void,
    end: () => void,
  ):
    | PlaySubscription
    | null
    | string
    | Promise<PlaySubscription | null | string>;
}
