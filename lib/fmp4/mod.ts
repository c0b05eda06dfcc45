/**
 * fMP4 / CMAF packaging (pure bytes, no I/O): the initialization segment
 * (`ftyp` + `moov`), media fragments (`moof` + `mdat`), what FLV tags mean
 * to them ({@linkcode readFlvMedia}), and a box walker.
 *
 * @module
 */
export {
  box,
  type BoxView,
  ByteWriter,
  CHILD_OFFSETS,
  concatBytes,
  findBox,
  fullBox,
  readBoxes,
} from "./box.ts";
export {
  type AacConfig,
  av1ConfigSize,
  avcSpsSize,
  hevcSpsSize,
  parseAacConfig,
  parseAvcConfig,
  parseHevcConfig,
  type PictureSize,
} from "./codec_config.ts";
export {
  type AudioTrack,
  ftyp,
  initSegment,
  type Track,
  type VideoTrack,
} from "./init.ts";
export {
  mediaFragment,
  NON_SYNC_SAMPLE_FLAGS,
  type Sample,
  SYNC_SAMPLE_FLAGS,
  type TrackRun,
} from "./fragment.ts";
export {
  type AudioConfig,
  type FlvMedia,
  readFlvMedia,
  type VideoConfig,
} from "./flv_media.ts";
export {
  type AddResult,
  AUDIO_TRACK_ID,
  FlvFragmenter,
  VIDEO_TIMESCALE,
  VIDEO_TRACK_ID,
} from "./fragmenter.ts";
