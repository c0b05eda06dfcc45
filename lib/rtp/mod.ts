/**
 * RTP data plane (SPEC §5–§6): packet parse/build, FLV tag packetizing and
 * reassembly, the per-stream retransmission cache, sequence arithmetic and
 * random identifiers. Pure bytes, no I/O.
 *
 * @module
 */
export {
  DEFAULT_RTP_PAYLOAD_SIZE,
  encodeRtp,
  isRtcp,
  parseRtp,
  randomSequence,
  randomSsrc,
  RTP_CLOCK_RATE,
  RTP_HEADER_SIZE,
  RTP_PAYLOAD_TYPE,
  RTP_VERSION,
  type RtpPacket,
  rtpSequence,
  rtpSsrc,
  rtpTimestampFromMs,
  seqAdd,
  seqDiff,
  writeRtpHeader,
} from "./packet.ts";
export {
  MAX_RTP_PAYLOAD_SIZE,
  RtpPacketizer,
  type RtpPacketizerOptions,
} from "./packetizer.ts";
export { assembleTag, looksLikeTagStart } from "./assembler.ts";
export {
  buildParity,
  FEC_PAYLOAD_TYPE,
  FecDecoder,
  type FecDecoderStats,
  FecEncoder,
  MAX_FEC_BLOCK,
  type Parity,
  parseParity,
  recoverPacket,
} from "./fec.ts";
export {
  MAX_RTP_CACHE_PACKETS,
  RtpCache,
  type RtpCacheOptions,
} from "./cache.ts";
