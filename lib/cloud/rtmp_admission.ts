/**
 * Who may publish and play at the cloud over RTMP: a publish is refused
 * for a key too long for SDES, a bad signature, a key already live, the
 * stream limit or its hook; a play is refused for a bad signature or its
 * hook, and an accepted player is a subscriber of the stream's hub stream.
 *
 * @module
 */
import type { AccessControl, AccessRequest } from "../auth/mod.ts";
import type { StreamHub } from "../hub/mod.ts";
import type { Refusals } from "../limits/mod.ts";
import type { Logger } from "../log/mod.ts";
import type {
  PublishSink,
  RtmpHandler,
  RtmpMessage,
  StreamRequestInfo,
} from "../rtmp/mod.ts";
import { hostOf } from "./addresses.ts";

/** Longest stream key an SDES PRIV item carries: 255 − 1 − "key".length. */
const MAX_STREAM_KEY_BYTES = 251;
const utf8 = new TextEncoder();

/** What the cloud's RTMP handler decides with. */
export interface RtmpAdmissionOptions {
  /** Signatures and hooks. */
  access: AccessControl;
  /** The tag bus players subscribe to. */
  hub: StreamHub;
  /** Whether `key` is being published now. */
  isLive(key: string): boolean;
  /** How many streams are live now. */
  liveCount(): number;
  /** Most live streams (`limits.max_streams`). */
  maxStreams: number;
  /** Counts and logs refusals by limit. */
  refusals: Refusals;
  /** Logger. */
  logger: Logger;
  /** Called for every refused publish (the node's total). */
  onRefused(): void;
  /** Starts an admitted publish; throws if it cannot. */
  startStream(key: string, remoteAddr: string, req: AccessRequest): PublishSink;
}

function accessRequest(info: StreamRequestInfo): AccessRequest {
  return {
    key: info.key,
    query: info.query,
    clientIp: hostOf(info.remoteAddr),
    remote: info.remoteAddr,
    clientId: info.connId,
    proto: "rtmp",
  };
}

/** The cloud's {@linkcode RtmpHandler}: publish and play admission. */
export function rtmpAdmission(o: RtmpAdmissionOptions): RtmpHandler {
  const { access, hub, logger: log } = o;
  return {
    publish: (info) => {
      const keyBytes = utf8.encode(info.key).length;
      if (keyBytes > MAX_STREAM_KEY_BYTES) {
        o.onRefused();
        log.warn("publish refused: key too long", {
          remote: info.remoteAddr,
          bytes: keyBytes,
        });
        return `stream key: expected at most ${MAX_STREAM_KEY_BYTES} bytes of UTF-8, got ${keyBytes}`;
      }
      const req = accessRequest(info);
      const signed = access.checkSignOnly("publish", req);
      if (signed !== undefined) {
        o.onRefused();
        return signed;
      }
      const blocked = (): string | undefined => {
        if (o.isLive(info.key)) {
          o.onRefused();
          log.warn("publish refused: key is live", {
            key: info.key,
            remote: info.remoteAddr,
          });
          return `stream ${info.key} is already being published`;
        }
        const max = o.maxStreams;
        if (o.liveCount() >= max) {
          o.onRefused();
          o.refusals.refuse(
            "max_streams",
            "publish refused: limits.max_streams reached",
            { key: info.key, remote: info.remoteAddr, limit: max },
          );
          return `limits.max_streams (${max}) reached`;
        }
        return undefined;
      };
      const admit = (): PublishSink | string =>
        blocked() ?? o.startStream(info.key, info.remoteAddr, req);
      // Refuse before asking a hook when the answer cannot matter.
      const early = blocked();
      if (early !== undefined) return early;
      if (!access.needsHook("publish")) return admit();
      return access.checkPublish(req).then((why) => {
        if (why === undefined) return admit();
        o.onRefused();
        return why;
      });
    },
    play: (info, send, end) => {
      const req = accessRequest(info);
      const signed = access.checkSignOnly("play", req);
      if (signed !== undefined) return signed;
      const subscribe = () => {
        const stream = hub.get(info.key);
        if (!stream) return null;
        const started = performance.now();
        let bytes = 0;
        const sub = stream.subscribe({
          onTag: (tag) => {
            bytes += tag.data.length;
            send(tag as RtmpMessage);
          },
          onEnd: () => end(),
        });
        log.info("rtmp player joined", {
          key: info.key,
          remote: info.remoteAddr,
        });
        return {
          startTags: sub.startTags as RtmpMessage[],
          unsubscribe: () => {
            sub.unsubscribe();
            access.ended("play", req, {
              durationMs: performance.now() - started,
              bytes,
            });
          },
        };
      };
      if (!access.needsHook("play")) return subscribe();
      if (!hub.get(info.key)) return null; // no hook for nothing
      return access.checkPlay(req).then((why) => why ?? subscribe());
    },
  };
}
