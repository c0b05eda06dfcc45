/**
 * RTCP (RFC 3550, RFC 4585 Generic NACK) builders and a strict parser, plus
 * the flvcast APP messages `AUTH`, `NAVL` and `RMOD` and NTP helpers. Pure bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeCompound, encodeSdes, encodeSenderReport, ntpFromDate, parseRtcp } from "./mod.ts";
 * const { ntpSec, ntpFrac } = ntpFromDate();
 * const bytes = encodeCompound([
 *   encodeSenderReport({ ssrc: 1, ntpSec, ntpFrac, rtpTimestamp: 0, packetCount: 0, octetCount: 0 }),
 *   encodeSdes(1, { cname: "cloud", key: "live/movie" }),
 * ]);
 * parseRtcp(bytes); // [{ type: "sr", ... }, { type: "sdes", chunks: [...] }]
 * ```
 *
 * @module
 */
export {
  encodeApp,
  encodeAuth,
  encodeBye,
  encodeCompound,
  encodeNack,
  encodeNavl,
  encodeSdes,
  encodeSenderReport,
} from "./build.ts";
export { parseAuth, parseNavl, parseRtcp } from "./parse.ts";
export {
  APP_KEYS,
  encodeKeysAnswer,
  encodeKeysRequest,
  encodeKeysUnknown,
  type FecStreamPosition,
  KEYS_PROFILE,
  type KeysAnswer,
  MAX_KEYS_STATE_BYTES,
  parseKeysAnswer,
  parseKeysRequest,
} from "./keys.ts";
export { type NackFci, orderSeqs, packNack, unpackNack } from "./nack.ts";
export {
  APP_RMOD,
  encodeRepairMode,
  MAX_REPAIR_COPIES,
  parseRepairMode,
  type RepairMode,
} from "./repair_mode.ts";
export {
  NTP_UNIX_OFFSET_SECONDS,
  ntpFromDate,
  ntpMiddle32,
  type NtpTimestamp,
  ntpToUnixMs,
} from "./ntp.ts";
export {
  APP_AUTH,
  APP_NAVL,
  MAX_NACK_FCI,
  MAX_NAVL_SEQS,
  NACK_FMT,
  type ReportBlock,
  RTCP_APP,
  RTCP_BYE,
  RTCP_RR,
  RTCP_RTPFB,
  RTCP_SDES,
  RTCP_SR,
  type RtcpApp,
  type RtcpBye,
  type RtcpNack,
  type RtcpPacket,
  type RtcpReceiverReport,
  type RtcpSdes,
  type RtcpSenderReport,
  type RtcpUnknown,
  SDES_CNAME,
  SDES_KEY_PREFIX,
  SDES_PRIV,
  type SdesChunk,
  type SenderReport,
} from "./types.ts";
