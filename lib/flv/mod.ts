/**
 * FLV: tags, the file header, an incremental demuxer, codec inspection
 * (keyframes, sequence headers, codec names incl. Enhanced RTMP), the
 * late-joiner {@linkcode GopCache} and the {@linkcode FlvFileWriter} used for
 * recording. Everything except `FlvFileWriter` is pure bytes without I/O.
 *
 * @module
 */
export {
  decodeFileTag,
  decodeTag,
  decodeTagHeader,
  encodeFileTag,
  encodeFlvHeader,
  encodeTag,
  fileTagBytes,
  FLV_HEADER_SIZE,
  type FlvFileHeader,
  type FlvTag,
  type FlvTagHeader,
  type FlvTagType,
  isFlvTagType,
  MAX_TAG_DATA_SIZE,
  parseFlvHeader,
  PREVIOUS_TAG_SIZE_SIZE,
  TAG_AUDIO,
  TAG_HEADER_SIZE,
  TAG_SCRIPT,
  TAG_VIDEO,
  tagSize,
  writeTagHeader,
} from "./tag.ts";
export {
  AAC_SEQUENCE_HEADER,
  audioCodecName,
  type AudioTagInfo,
  AVC_END_OF_SEQUENCE,
  AVC_NALU,
  AVC_SEQUENCE_HEADER,
  ExAudioPacketType,
  ExVideoPacketType,
  FRAME_TYPE_INTER,
  FRAME_TYPE_KEY,
  isKeyframe,
  isMetadata,
  isSequenceEnd,
  isSequenceHeader,
  parseAudioTag,
  parseVideoTag,
  scriptName,
  SOUND_FORMAT_AAC,
  SOUND_FORMAT_EX_HEADER,
  VIDEO_CODEC_AVC,
  VIDEO_CODEC_HEVC,
  videoCodecName,
  type VideoTagInfo,
} from "./codec.ts";
export { demuxFlv, FlvDemuxer, type FlvDemuxerOptions } from "./demuxer.ts";
export { GopCache, type GopCacheOptions } from "./gop_cache.ts";
export {
  FlvFileWriter,
  type FlvFileWriterCreateOptions,
  type FlvFileWriterOptions,
  recordFileName,
} from "./file_writer.ts";
