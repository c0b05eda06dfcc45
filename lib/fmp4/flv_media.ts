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
  AVC_END_OF_SEQUENCE,
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
import {
  av1ConfigSize,
  avcSpsSize,
  hevcSpsSize,
  parseAacConfig,
  parseAvcConfig,
  parseHevcConfig,
  type PictureSize,
} from "./codec_config.ts";

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
): PictureSize {
  try {
    if (codec === "avc") {
      const sps = parseAvcConfig(config).sps[0];
      if (sps) return avcSpsSize(sps);
    } else if (codec === "hevc") {
      const sps = parseHevcConfig(config).nalus.get(33)?.[0];
      if (sps) return hevcSpsSize(sps);
    } else {
      const size = av1ConfigSize(config);
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
  if (codec === "avc") parseAvcConfig(config);
  else if (codec === "hevc") parseHevcConfig(config);
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
  if (!info.exHeader) {
    if (info.packetType === AVC_SEQUENCE_HEADER) {
      return {
        kind: "video-config",
        config: videoConfig(codec, d.subarray(at + 3)),
      };
    }
    if (info.packetType === AVC_END_OF_SEQUENCE) return undefined;
    if (info.packetType !== AVC_NALU) return undefined;
    const cts = si24(d, at);
    return {
      kind: "video",
      dts: tag.timestamp,
      cts,
      sync,
      data: d.subarray(at + 3),
    };
  }
  switch (info.packetType) {
    case ExVideoPacketType.SequenceStart:
      return {
        kind: "video-config",
        config: videoConfig(codec, d.subarray(at)),
      };
    case ExVideoPacketType.CodedFrames: {
      if (codec === "av1") {
        return {
          kind: "video",
          dts: tag.timestamp,
          cts: 0,
          sync,
          data: d.subarray(at),
        };
      }
      const cts = si24(d, at);
      return {
        kind: "video",
        dts: tag.timestamp,
        cts,
        sync,
        data: d.subarray(at + 3),
      };
    }
    case ExVideoPacketType.CodedFramesX:
      return {
        kind: "video",
        dts: tag.timestamp,
        cts: 0,
        sync,
        data: d.subarray(at),
      };
    default:
      return undefined;
  }
}

function audioConfig(config: Uint8Array): AudioConfig {
  const c = parseAacConfig(config);
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
