/**
 * Codec-level inspection of FLV tag bodies (pure bytes): keyframes, sequence
 * headers and codec names for legacy FLV video (AVC = 7, HEVC = 12, …),
 * Enhanced RTMP video (`IsExHeader`, FourCC `avc1` `hvc1` `av01` `vp09`),
 * legacy audio (AAC = 10, …), Enhanced RTMP audio (sound format 9) and
 * `onMetaData` script tags.
 *
 * @module
 */

import { type FlvTag, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from "./tag.ts";

/** Legacy video codec id: AVC / H.264. */
export const VIDEO_CODEC_AVC = 7;
/** Legacy video codec id: HEVC / H.265 (the widespread CDN extension). */
export const VIDEO_CODEC_HEVC = 12;
/** Video frame type: keyframe. */
export const FRAME_TYPE_KEY = 1;
/** Video frame type: inter frame. */
export const FRAME_TYPE_INTER = 2;
/** Legacy AVCPacketType: sequence header (decoder configuration record). */
export const AVC_SEQUENCE_HEADER = 0;
/** Legacy AVCPacketType: NAL units. */
export const AVC_NALU = 1;
/** Legacy AVCPacketType: end of sequence. */
export const AVC_END_OF_SEQUENCE = 2;

/** Enhanced RTMP video packet types (low nibble of the first byte). */
export const ExVideoPacketType = {
  SequenceStart: 0,
  CodedFrames: 1,
  SequenceEnd: 2,
  CodedFramesX: 3,
  Metadata: 4,
  MPEG2TSSequenceStart: 5,
  Multitrack: 6,
  ModEx: 7,
} as const;

/** Sound format (high nibble of an audio tag's first byte): AAC. */
export const SOUND_FORMAT_AAC = 10;
/** Sound format 9: Enhanced RTMP audio ExHeader. */
export const SOUND_FORMAT_EX_HEADER = 9;
/** AACPacketType 0: AudioSpecificConfig. */
export const AAC_SEQUENCE_HEADER = 0;

/** Enhanced RTMP audio packet types (low nibble of the first byte). */
export const ExAudioPacketType = {
  SequenceStart: 0,
  CodedFrames: 1,
  SequenceEnd: 2,
  MultichannelConfig: 4,
  Multitrack: 5,
  ModEx: 7,
} as const;

/** What the first bytes of a video tag body say. */
export interface VideoTagInfo {
  /** Enhanced RTMP (IsExHeader bit 0x80 set). */
  exHeader: boolean;
  /** Frame type: 1 key, 2 inter, 3 disposable, 4 generated key, 5 command. */
  frameType: number;
  /** Legacy codec id (low nibble), only when `exHeader` is false. */
  codecId?: number;
  /** Enhanced RTMP FourCC (e.g. `hvc1`), only when `exHeader` is true. */
  fourCC?: string;
  /**
   * Legacy AVC/HEVC AVCPacketType (0 seq header, 1 NALU, 2 end), or the
   * Enhanced RTMP PacketType (see {@linkcode ExVideoPacketType}); undefined for
   * legacy codecs without one.
   */
  packetType?: number;
  /** Normalized codec name: `avc`, `hevc`, `av1`, `vp9`, `vp8`, `h263`, … */
  codec?: string;
  /** Enhanced RTMP multitrack packet. */
  multitrack: boolean;
  /**
   * Offset of the bytes after the codec header: after the AVCPacketType for
   * legacy AVC/HEVC (so the 24-bit composition time comes next), after the
   * FourCC for Enhanced RTMP, 1 for other legacy codecs; undefined for an
   * Enhanced RTMP command frame.
   */
  payloadOffset?: number;
}

/** What the first bytes of an audio tag body say. */
export interface AudioTagInfo {
  /** Enhanced RTMP audio (sound format 9). */
  exHeader: boolean;
  /** Sound format (high nibble). */
  soundFormat: number;
  /** Enhanced RTMP FourCC (e.g. `Opus`), only when `exHeader` is true. */
  fourCC?: string;
  /**
   * AACPacketType for AAC (0 AudioSpecificConfig, 1 raw), or the Enhanced
   * RTMP AudioPacketType (see {@linkcode ExAudioPacketType}).
   */
  packetType?: number;
  /** Normalized codec name: `aac`, `mp3`, `opus`, `flac`, `ac3`, … */
  codec?: string;
  /** Enhanced RTMP multitrack packet. */
  multitrack: boolean;
  /**
   * Offset of the bytes after the codec header: after the AACPacketType for
   * AAC (the raw frame or AudioSpecificConfig), after the FourCC for
   * Enhanced RTMP, 1 for other legacy formats.
   */
  payloadOffset: number;
}

const LEGACY_VIDEO_NAMES: Record<number, string> = {
  1: "jpeg",
  2: "h263",
  3: "screen",
  4: "vp6",
  5: "vp6a",
  6: "screen2",
  7: "avc",
  12: "hevc",
};

const EX_VIDEO_NAMES: Record<string, string> = {
  avc1: "avc",
  hvc1: "hevc",
  av01: "av1",
  vp09: "vp9",
  vp08: "vp8",
};

const LEGACY_AUDIO_NAMES: Record<number, string> = {
  0: "pcm",
  1: "adpcm",
  2: "mp3",
  3: "pcm",
  4: "nellymoser",
  5: "nellymoser",
  6: "nellymoser",
  7: "g711a",
  8: "g711u",
  10: "aac",
  11: "speex",
  14: "mp3",
  15: "device",
};

const EX_AUDIO_NAMES: Record<string, string> = {
  "Opus": "opus",
  "fLaC": "flac",
  "ac-3": "ac3",
  "ec-3": "eac3",
  ".mp3": "mp3",
  "mp4a": "aac",
};

function fourCCAt(d: Uint8Array, o: number): string | undefined {
  if (d.length < o + 4) return undefined;
  return String.fromCharCode(d[o], d[o + 1], d[o + 2], d[o + 3]);
}

/**
 * Skips Enhanced RTMP ModEx prefixes starting at `o` (just after the first
 * byte); returns the effective packet type and the offset of what follows,
 * or undefined when truncated.
 */
function skipModEx(
  d: Uint8Array,
  packetType: number,
  modEx: number,
  o: number,
): { packetType: number; offset: number } | undefined {
  let pt = packetType;
  let guard = 0;
  while (pt === modEx) {
    if (++guard > 16 || d.length < o + 1) return undefined;
    let size = d[o] + 1;
    o += 1;
    if (size === 256) {
      if (d.length < o + 2) return undefined;
      size = ((d[o] << 8) | d[o + 1]) + 1;
      o += 2;
    }
    o += size;
    if (d.length < o + 1) return undefined;
    pt = d[o] & 0x0f;
    o += 1;
  }
  return { packetType: pt, offset: o };
}

/** Parses the codec header of a video tag body; undefined if empty/truncated. */
export function parseVideoTag(data: Uint8Array): VideoTagInfo | undefined {
  if (data.length < 1) return undefined;
  const b0 = data[0];
  if ((b0 & 0x80) === 0) {
    const frameType = (b0 >> 4) & 0x0f;
    const codecId = b0 & 0x0f;
    const info: VideoTagInfo = {
      exHeader: false,
      frameType,
      codecId,
      codec: LEGACY_VIDEO_NAMES[codecId],
      multitrack: false,
      payloadOffset: 1,
    };
    if (codecId === VIDEO_CODEC_AVC || codecId === VIDEO_CODEC_HEVC) {
      if (data.length < 2) return undefined;
      info.packetType = data[1];
      info.payloadOffset = 2;
    }
    return info;
  }
  const frameType = (b0 >> 4) & 0x07;
  const skipped = skipModEx(
    data,
    b0 & 0x0f,
    ExVideoPacketType.ModEx,
    1,
  );
  if (skipped === undefined) return undefined;
  const { packetType, offset } = skipped;
  if (frameType === 5 && packetType !== ExVideoPacketType.Metadata) {
    // Command frame: a VideoCommand byte follows instead of a FourCC.
    return { exHeader: true, frameType, packetType, multitrack: false };
  }
  const track = trackAndFourCC(
    data,
    packetType,
    offset,
    ExVideoPacketType.Multitrack,
  );
  if (track === undefined) return undefined;
  return {
    exHeader: true,
    frameType,
    fourCC: track.fourCC,
    packetType: track.packetType,
    codec: EX_VIDEO_NAMES[track.fourCC] ?? track.fourCC,
    multitrack: track.multitrack,
    payloadOffset: track.offset,
  };
}

/**
 * After an Enhanced RTMP ExHeader's packet type: the multitrack wrapper (its
 * byte carries the real packet type) and the FourCC; undefined if truncated.
 */
function trackAndFourCC(
  data: Uint8Array,
  packetType: number,
  offset: number,
  multitrackType: number,
):
  | { packetType: number; multitrack: boolean; fourCC: string; offset: number }
  | undefined {
  let multitrack = false;
  if (packetType === multitrackType) {
    if (data.length < offset + 1) return undefined;
    multitrack = true;
    packetType = data[offset] & 0x0f;
    offset += 1;
  }
  const fourCC = fourCCAt(data, offset);
  if (fourCC === undefined) return undefined;
  return { packetType, multitrack, fourCC, offset: offset + 4 };
}

/** Parses the codec header of an audio tag body; undefined if empty/truncated. */
export function parseAudioTag(data: Uint8Array): AudioTagInfo | undefined {
  if (data.length < 1) return undefined;
  const b0 = data[0];
  const soundFormat = b0 >> 4;
  if (soundFormat !== SOUND_FORMAT_EX_HEADER) {
    const info: AudioTagInfo = {
      exHeader: false,
      soundFormat,
      codec: LEGACY_AUDIO_NAMES[soundFormat],
      multitrack: false,
      payloadOffset: 1,
    };
    if (soundFormat === SOUND_FORMAT_AAC) {
      if (data.length < 2) return undefined;
      info.packetType = data[1];
      info.payloadOffset = 2;
    }
    return info;
  }
  const skipped = skipModEx(data, b0 & 0x0f, ExAudioPacketType.ModEx, 1);
  if (skipped === undefined) return undefined;
  const track = trackAndFourCC(
    data,
    skipped.packetType,
    skipped.offset,
    ExAudioPacketType.Multitrack,
  );
  if (track === undefined) return undefined;
  return {
    exHeader: true,
    soundFormat,
    fourCC: track.fourCC,
    packetType: track.packetType,
    codec: EX_AUDIO_NAMES[track.fourCC] ?? track.fourCC,
    multitrack: track.multitrack,
    payloadOffset: track.offset,
  };
}

/**
 * True for a video tag that is a keyframe carrying coded picture data:
 * frame type 1 and, for AVC/HEVC, AVCPacketType 1 (NALU); for Enhanced RTMP,
 * PacketType CodedFrames (1) or CodedFramesX (3). Sequence headers, sequence
 * ends and metadata are not keyframes (see {@linkcode isSequenceHeader}).
 * Legacy codecs without a packet type (VP6, H.263, …) count on frame type alone.
 */
export function isKeyframe(tag: FlvTag): boolean {
  if (tag.type !== TAG_VIDEO) return false;
  const info = parseVideoTag(tag.data);
  if (info === undefined || info.frameType !== FRAME_TYPE_KEY) return false;
  if (info.exHeader) {
    return info.packetType === ExVideoPacketType.CodedFrames ||
      info.packetType === ExVideoPacketType.CodedFramesX;
  }
  if (info.packetType === undefined) return true;
  return info.packetType === AVC_NALU;
}

/**
 * True for a decoder configuration a late joiner needs first: AVC/HEVC
 * sequence header (legacy AVCPacketType 0), Enhanced RTMP video
 * SequenceStart (0) or MPEG2TSSequenceStart (5), AAC AudioSpecificConfig
 * (AACPacketType 0) and Enhanced RTMP audio SequenceStart (0).
 */
export function isSequenceHeader(tag: FlvTag): boolean {
  if (tag.type === TAG_VIDEO) {
    const info = parseVideoTag(tag.data);
    if (info === undefined) return false;
    if (info.exHeader) {
      return info.packetType === ExVideoPacketType.SequenceStart ||
        info.packetType === ExVideoPacketType.MPEG2TSSequenceStart;
    }
    return (info.codecId === VIDEO_CODEC_AVC ||
      info.codecId === VIDEO_CODEC_HEVC) &&
      info.packetType === AVC_SEQUENCE_HEADER;
  }
  if (tag.type === TAG_AUDIO) {
    const info = parseAudioTag(tag.data);
    if (info === undefined) return false;
    if (info.exHeader) {
      return info.packetType === ExAudioPacketType.SequenceStart;
    }
    return info.soundFormat === SOUND_FORMAT_AAC &&
      info.packetType === AAC_SEQUENCE_HEADER;
  }
  return false;
}

/**
 * True for an end-of-sequence marker: legacy AVC/HEVC AVCPacketType 2,
 * Enhanced RTMP video/audio SequenceEnd (2).
 */
export function isSequenceEnd(tag: FlvTag): boolean {
  if (tag.type === TAG_VIDEO) {
    const info = parseVideoTag(tag.data);
    if (info === undefined) return false;
    if (info.exHeader) return info.packetType === ExVideoPacketType.SequenceEnd;
    return (info.codecId === VIDEO_CODEC_AVC ||
      info.codecId === VIDEO_CODEC_HEVC) &&
      info.packetType === AVC_END_OF_SEQUENCE;
  }
  if (tag.type === TAG_AUDIO) {
    const info = parseAudioTag(tag.data);
    return info?.exHeader === true &&
      info.packetType === ExAudioPacketType.SequenceEnd;
  }
  return false;
}

/**
 * Normalized video codec name of a video tag (`avc`, `hevc`, `av1`, `vp9`,
 * `vp8`, `h263`, `vp6`, …; an unknown Enhanced RTMP FourCC is returned as
 * is); undefined for non-video or unparsable tags.
 */
export function videoCodecName(tag: FlvTag): string | undefined {
  if (tag.type !== TAG_VIDEO) return undefined;
  return parseVideoTag(tag.data)?.codec;
}

/**
 * Normalized audio codec name of an audio tag (`aac`, `mp3`, `opus`,
 * `flac`, `ac3`, `eac3`, `pcm`, `g711a`, …); undefined for non-audio or
 * unparsable tags.
 */
export function audioCodecName(tag: FlvTag): string | undefined {
  if (tag.type !== TAG_AUDIO) return undefined;
  return parseAudioTag(tag.data)?.codec;
}

/**
 * The name of a script tag: its first AMF0 string (e.g. `onMetaData`); when
 * that is `@setDataFrame`, the second one. Undefined if not a script tag or
 * the body does not start with an AMF0 string.
 */
export function scriptName(tag: FlvTag): string | undefined {
  if (tag.type !== TAG_SCRIPT) return undefined;
  const d = tag.data;
  const read = (o: number): [string, number] | undefined => {
    if (d.length < o + 3 || d[o] !== 0x02) return undefined;
    const len = (d[o + 1] << 8) | d[o + 2];
    if (d.length < o + 3 + len) return undefined;
    let s = "";
    for (let i = o + 3; i < o + 3 + len; i++) s += String.fromCharCode(d[i]);
    return [s, o + 3 + len];
  };
  const first = read(0);
  if (first === undefined) return undefined;
  if (first[0] === "@setDataFrame") return read(first[1])?.[0];
  return first[0];
}

/** True for an `onMetaData` script tag (optionally `@setDataFrame`-wrapped). */
export function isMetadata(tag: FlvTag): boolean {
  return scriptName(tag) === "onMetaData";
}
