/**
 * HLS and Low-Latency HLS (RFC 8216bis) from FLV tags: the pure segmenter
 * and playlist renderer ({@linkcode HlsSegmenter}, {@linkcode renderPlaylist}).
 *
 * @module
 */
export {
  type HlsPart,
  type HlsSegment,
  HlsSegmenter,
  type HlsSegmenterOptions,
  type HlsSegmenterStats,
  MAX_PART_BYTES,
  MAX_SEGMENT_BYTES,
  type PlaylistModel,
  type RenderOptions,
  renderPlaylist,
} from "./segmenter.ts";
export {
  type HlsRoute,
  HlsService,
  type HlsServiceOptions,
  type HlsStats,
  MAX_CARRIED_QUERY,
  parseHlsPath,
} from "./service.ts";
