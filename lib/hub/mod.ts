/**
 * The tag bus both roles share: {@linkcode StreamHub} (live streams by key,
 * GOP cache for late joiners, fan-out to subscribers) and
 * {@linkcode HubRecorder} (recording as a hub subscriber).
 *
 * @module
 */
export {
  HubStream,
  type HubStreamInfo,
  type HubSubscriber,
  type HubSubscription,
  StreamHub,
  type StreamHubOptions,
} from "./stream_hub.ts";
export { HubRecorder, type HubRecorderOptions } from "./recorder.ts";
