/**
 * The one stream an RTMP connection publishes or plays: asks the handler
 * (now, or when its hook answers), answers the client with the `onStatus`
 * events, feeds the publish sink or writes the play subscription's tags,
 * and releases the sink or subscription exactly once.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { type OutgoingMessage, userControlMessage } from "./chunk_encoder.ts";
import { errorText } from "./errors.ts";
import { UC_STREAM_BEGIN, UC_STREAM_EOF } from "./protocol.ts";
import {
  mediaMessage,
  sampleAccessMessage,
  statusMessage,
  type StreamStatus,
} from "./replies.ts";
import type { StreamTarget } from "./stream_names.ts";
import type {
  PlaySubscription,
  PublishSink,
  RtmpHandler,
  RtmpMessage,
} from "./types.ts";

/** What a {@linkcode SessionStream} needs from its session. */
export interface SessionStreamOptions {
  /** Server-unique connection number. */
  connId: number;
  /** The peer's `host:port`. */
  remoteAddr: string;
  /** Application callbacks. */
  handler: RtmpHandler;
  /** Logger for this session's events. */
  logger: Logger;
  /** True while the session is neither closed nor closing. */
  isOpen(): boolean;
  /** Queues one message to the peer. */
  send(msg: OutgoingMessage): void;
  /** Stops reading, flushes what is queued, then closes with `reason`. */
  closeAfterFlush(reason: string): void;
}

/** Most tags a player's handler may pass before its play is accepted. */
const EARLY_TAGS = 4096;

/** The publish or play of one connection (at most one of them). */
export class SessionStream {
  #o: SessionStreamOptions;
  #log: Logger;
  #key: string | undefined;
  #publishStreamId = 0;
  #sink: PublishSink | undefined;
  #play: PlaySubscription | undefined;
  #playStreamId = 0;
  #playing = false;
  #pending = false; // a publish/play decision (hook) is in flight

  /** Holds no stream yet. */
  constructor(options: SessionStreamOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  /** Key of the stream published, played or refused last. */
  get key(): string | undefined {
    return this.#key;
  }

  /** True while a play is accepted and not ended. */
  get playing(): boolean {
    return this.#playing;
  }

  /** True while publishing, playing or waiting for the handler's answer. */
  get bound(): boolean {
    return this.#sink !== undefined || this.#play !== undefined ||
      this.#pending;
  }

  /** Hands a publisher's message to the sink (dropped before publish). */
  deliver(msg: RtmpMessage): void {
    if (!this.#sink) {
      this.#log.debug("media before publish ignored", {
        conn: this.#o.connId,
        type: msg.type,
      });
      return;
    }
    this.#sink.onMessage(msg);
  }

  /** Handles `publish` of `target` (undefined: no usable name) on `streamId`. */
  publish(streamId: number, target: StreamTarget | undefined): void {
    const refuse = (reason: string) => {
      this.#status(streamId, "error", "NetStream.Publish.BadName", reason);
      this.#o.closeAfterFlush(`publish refused: ${reason}`);
    };
    if (!target) return refuse("publish: expected a stream name");
    if (this.bound) {
      return refuse("this connection already publishes or plays a stream");
    }
    const k = target;
    const accept = (answer: PublishSink | string) => {
      if (typeof answer === "string") {
        this.#logRefused("publish", k.key, answer);
        this.#key = k.key;
        return refuse(answer);
      }
      if (!this.#o.isOpen()) {
        // The client left while the decision was pending.
        try {
          answer.onClose("client left before the publish was accepted");
        } catch { /* the sink's own problem */ }
        return;
      }
      this.#sink = answer;
      this.#key = k.key;
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
      this.#o.handler.publish(this.#info(k)),
      accept,
      "publish",
    );
  }

  /** Handles `play` of `target` (undefined: no usable name) on `streamId`. */
  play(streamId: number, target: StreamTarget | undefined): void {
    if (!target) {
      this.#status(
        streamId,
        "error",
        "NetStream.Play.StreamNotFound",
        "play: expected a stream name",
      );
      return;
    }
    if (this.bound) {
      this.#status(
        streamId,
        "error",
        "NetStream.Play.Failed",
        "this connection already publishes or plays a stream",
      );
      return;
    }
    const k = target;
    const early: RtmpMessage[] = [];
    let ready = false;
    let ended = false;
    const send = (msg: RtmpMessage) => {
      if (!this.#o.isOpen() || !this.#playing && ready) return;
      if (!ready) {
        if (early.length < EARLY_TAGS) early.push(msg);
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
    const apply = (sub: PlaySubscription | null | string) => {
      if (sub && typeof sub === "object" && !this.#o.isOpen()) {
        this.#unsubscribe(sub); // the client left while a hook decided
        return;
      }
      if (typeof sub === "string") {
        this.#logRefused("play", k.key, sub);
        this.#status(streamId, "error", "NetStream.Play.Failed", sub, k.name);
        this.#o.closeAfterFlush(`play refused: ${sub}`);
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
      this.#key = k.key;
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
      this.#o.send(sampleAccessMessage(streamId));
      ready = true;
      for (const t of sub.startTags) this.#sendMedia(t);
      for (const t of early) this.#sendMedia(t);
      early.length = 0;
      if (ended) this.#onPlayEnd();
    };
    this.#decide<PlaySubscription | null>(
      this.#o.handler.play(this.#info(k), send, end),
      apply,
      "play",
    );
  }

  /**
   * Handles `deleteStream`/`closeStream` (`command`) of message stream
   * `streamId` (0: whichever the connection holds).
   */
  closeStream(streamId: number, command: string): void {
    if (this.#sink && (streamId === this.#publishStreamId || streamId === 0)) {
      this.endPublish(`unpublished (${command})`);
    }
    if (this.#play && (streamId === this.#playStreamId || streamId === 0)) {
      this.endPlay();
    }
  }

  /** Ends the publish, if any: the sink's `onClose(reason)`, once. */
  endPublish(reason: string): void {
    const sink = this.#sink;
    if (!sink) return;
    this.#sink = undefined;
    this.#log.info("publish ended", {
      conn: this.#o.connId,
      key: this.#key,
      reason,
    });
    try {
      sink.onClose(reason);
    } catch (err) {
      this.#log.error("publish sink onClose threw", {
        conn: this.#o.connId,
        error: errorText(err),
      });
    }
  }

  /** Ends the play, if any: the subscription's `unsubscribe()`, once. */
  endPlay(): void {
    const sub = this.#play;
    this.#playing = false;
    if (!sub) return;
    this.#play = undefined;
    this.#unsubscribe(sub);
  }

  #info(k: StreamTarget) {
    return {
      key: k.key,
      app: k.app,
      name: k.name,
      query: k.query,
      remoteAddr: this.#o.remoteAddr,
      connId: this.#o.connId,
    };
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
        apply(`${what} refused: ${errorText(err)}`);
      },
    );
  }

  /** Logs a refused publish or play. */
  #logRefused(kind: "publish" | "play", key: string, reason: string): void {
    this.#log.warn(`${kind} refused`, {
      conn: this.#o.connId,
      remote: this.#o.remoteAddr,
      key,
      reason,
    });
  }

  /** Logs the start of a publish or play and sends User Control StreamBegin. */
  #streamBegins(kind: "publish" | "play", key: string, streamId: number): void {
    this.#log.info(`${kind} started`, {
      conn: this.#o.connId,
      remote: this.#o.remoteAddr,
      key,
    });
    this.#o.send(userControlMessage(UC_STREAM_BEGIN, streamId));
  }

  #sendMedia(msg: RtmpMessage): void {
    if (!this.#playing || !this.#o.isOpen()) return;
    this.#o.send(mediaMessage(msg, this.#playStreamId));
  }

  #onPlayEnd(): void {
    if (!this.#playing || !this.#o.isOpen()) return;
    const sid = this.#playStreamId;
    this.#o.send(userControlMessage(UC_STREAM_EOF, sid));
    this.#status(
      sid,
      "status",
      "NetStream.Play.UnpublishNotify",
      `${this.#key} is now unpublished.`,
    );
    this.#status(
      sid,
      "status",
      "NetStream.Play.Stop",
      `Stopped playing ${this.#key}.`,
    );
    this.#o.closeAfterFlush("stream ended");
  }

  #unsubscribe(sub: PlaySubscription): void {
    try {
      sub.unsubscribe();
    } catch (err) {
      this.#log.error("play unsubscribe threw", {
        conn: this.#o.connId,
        error: errorText(err),
      });
    }
  }

  #status(
    streamId: number,
    level: StreamStatus["level"],
    code: string,
    description: string,
    details?: string,
  ): void {
    this.#o.send(statusMessage({
      streamId,
      level,
      code,
      description,
      details,
      clientId: this.#o.connId,
    }));
  }
}
