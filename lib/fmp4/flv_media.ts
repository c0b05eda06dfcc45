/**
 * FLV tag → fMP4 media (pure bytes): decoder configurations from sequence
 * headers (legacy AVC/HEVC, Enhanced RTMP `avc1`/`hvc1`/`av01`, AAC legacy
 * and Enhanced RTMP `mp4a`) and samples from coded frames, with the FLV
 * composition time offset kept. The sample bytes are subarrays of the tag
 * (AVCC/HVCC NAL units stay length-prefixed, as MP4 wants them).
 *
 * @module
 */
import {
  AAC_SEQUENCE_HEADER,
  AVC_NALU,
  AVC_SEQUENCE_HEADER,
  ExAudioPacketType,
  ExVideoPacketType,
  type FlvTag,
  FRAME_TYPE_KEY,
  parseAudioTag,
  parseVideoTag,
  TAG_AUDIO,
  TAG_VIDEO,
} from "../flv/mod.ts";
import * as codecs from "./codec_config.ts";

/** A video decoder configuration from a sequence header. */
export interface VideoConfig {
  /** Codec. */
  codec: "avc" | "hevc" | "av1";
  /** avcC / hvcC / av1C payload. */
  config: Uint8Array;
  /** Picture width (0 when the configuration does not say). */
  width: number;
  /** Picture height (0 when the configuration does not say). */
  height: number;
}

/** An audio decoder configuration from a sequence header. */
export interface AudioConfig {
  /** Codec. */
  codec: "aac";
  /** The AudioSpecificConfig. */
  config: Uint8Array;
  /** Sampling rate in Hz. */
  sampleRate: number;
  /** Channels (at least 1). */
  channels: number;
  /** Samples per AAC frame (1024 or 960). */
  frameLength: number;
}

/** What one FLV tag means to the fMP4 muxer. */
export type FlvMedia =
  | { kind: "video-config"; config: VideoConfig }
  | { kind: "audio-config"; config: AudioConfig }
  | {
    kind: "video";
    /** Decode time in ms (the tag timestamp). */
    dts: number;
    /** Composition offset in ms (PTS − DTS). */
    cts: number;
    /** Keyframe. */
    sync: boolean;
    /** The coded frame. */
    data: Uint8Array;
  }
  | {
    kind: "audio";
    /** Decode time in ms (the tag timestamp). */
    dts: number;
    /** The raw AAC frame. */
    data: Uint8Array;
  };

const VIDEO_CODECS: Record<string, VideoConfig["codec"]> = {
  avc: "avc",
  hevc: "hevc",
  av1: "av1",
};

function si24(d: Uint8Array, o: number): number {
  if (d.length < o + 3) {
    throw new RangeError(
      `FLV video: expected a 24-bit composition time at ${o}, body has ${d.length} bytes`,
    );
  }
  return (((d[o] << 16) | (d[o + 1] << 8) | d[o + 2]) << 8) >> 8;
}

function pictureSize(
  codec: VideoConfig["codec"],
  config: Uint8Array,
): codecs.PictureSize {
  try {
    if (codec === "avc") {
      const sps = codecs.parseAvcConfig(config).sps[0];
      if (sps) return codecs.avcSpsSize(sps);
    } else if (codec === "hevc") {
      const sps = codecs.parseHevcConfig(config).nalus.get(33)?.[0];
      if (sps) return codecs.hevcSpsSize(sps);
    } else {
      const size = codecs.av1ConfigSize(config);
      if (size) return size;
    }
  } catch {
    // a size we cannot read is not fatal: decoders take it from the stream
  }
  return { width: 0, height: 0 };
}

function videoConfig(
  codec: VideoConfig["codec"],
  config: Uint8Array,
): VideoConfig {
  if (codec === "avc") codecs.parseAvcConfig(config);
  else if (codec === "hevc") codecs.parseHevcConfig(config);
  else if (config.length < 4 || config[0] !== 0x81) {
    throw new RangeError(
      `av1C: expected marker/version 0x81 and 4 bytes, got ${config.length} bytes`,
    );
  }
  return { codec, config, ...pictureSize(codec, config) };
}

function readVideo(tag: FlvTag): FlvMedia | undefined {
  const d = tag.data;
  const info = parseVideoTag(d);
  if (info === undefined || info.multitrack || info.codec === undefined) {
    return undefined;
  }
  const codec = VIDEO_CODECS[info.codec];
  const at = info.payloadOffset;
  if (codec === undefined || at === undefined) return undefined;
  const sync = info.frameType === FRAME_TYPE_KEY;
  /** A frame whose data starts at `from` (after a 24-bit CTS when `withCts`). */
  const frame = (withCts: boolean): FlvMedia => ({
    kind: "video",
    dts: tag.timestamp,
    cts: withCts ? si24(d, at) : 0,
    sync,
    data: d.subarray(withCts ? at + 3 : at),
  });
  if (!info.exHeader) {
    if (info.packetType === AVC_SEQUENCE_HEADER) {
      return {
        kind: "video-config",
        config: videoConfig(codec, d.subarray(at + 3)),
      };
    }
    return info.packetType === AVC_NALU ? frame(true) : undefined;
  }
  switch (info.packetType) {
    case ExVideoPacketType.SequenceStart:
      return {
        kind: "video-config",
        config: videoConfig(codec, d.subarray(at)),
      };
    case ExVideoPacketType.CodedFrames:
      // AV1 frames carry no composition time offset.
      return frame(codec !== "av1");
    case ExVideoPacketType.CodedFramesX:
      return frame(false);
    default:
      return undefined;
  }
}

function audioConfig(config: Uint8Array): AudioConfig {
  const c = codecs.parseAacConfig(config);
  return {
    codec: "aac",
    config,
    sampleRate: c.sampleRate,
    channels: Math.max(1, c.channels),
    frameLength: c.frameLength,
  };
}

function readAudio(tag: FlvTag): FlvMedia | undefined {
  const d = tag.data;
  const info = parseAudioTag(d);
  if (info === undefined || info.multitrack || info.codec !== "aac") {
    return undefined;
  }
  const at = info.payloadOffset;
  const seq = info.exHeader
    ? info.packetType === ExAudioPacketType.SequenceStart
    : info.packetType === AAC_SEQUENCE_HEADER;
  if (seq) return { kind: "audio-config", config: audioConfig(d.subarray(at)) };
  const coded = info.exHeader
    ? info.packetType === ExAudioPacketType.CodedFrames
    : info.packetType === 1;
  if (!coded || d.length <= at) return undefined;
  return { kind: "audio", dts: tag.timestamp, data: d.subarray(at) };
}

/**
 * What `tag` carries for fMP4: a decoder configuration, a video sample or
 * an AAC frame; undefined for what fMP4 output does not carry (script tags,
 * sequence ends, other codecs, multitrack). Throws a RangeError naming the
 * problem for a malformed sequence header or a truncated frame.
 *
 * @example Usage
 * ```ts ignore
 * const media = readFlvMedia(tag);
 * if (media?.kind === "video") console.log(media.dts, media.cts, media.sync);
 * ```
 */
export function readFlvMedia(tag: FlvTag): FlvMedia | undefined {
  if (tag.type === TAG_VIDEO) return readVideo(tag);
  if (tag.type === TAG_AUDIO) return readAudio(tag);
  return undefined;
}
