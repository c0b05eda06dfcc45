/**
 * RTCP constants and packet shapes shared by the encoders and the parser.
 *
 * @module
 */

/** RTCP packet type: Sender Report (RFC 3550 §6.4.1). */
export const RTCP_SR = 200;
/** RTCP packet type: Receiver Report (RFC 3550 §6.4.2). */
export const RTCP_RR = 201;
/** RTCP packet type: Source Description (RFC 3550 §6.5). */
export const RTCP_SDES = 202;
/** RTCP packet type: Goodbye (RFC 3550 §6.6). */
export const RTCP_BYE = 203;
/** RTCP packet type: Application-defined (RFC 3550 §6.7). */
export const RTCP_APP = 204;
/** RTCP packet type: transport layer feedback (RFC 4585 §6.2). */
export const RTCP_RTPFB = 205;
/** Feedback message type of a Generic NACK inside {@linkcode RTCP_RTPFB}. */
export const NACK_FMT = 1;
/** SDES item type CNAME. */
export const SDES_CNAME = 1;
/** SDES item type PRIV (RFC 3550 §6.5.8). */
export const SDES_PRIV = 8;
/** PRIV prefix under which the stream key travels in SDES. */
export const SDES_KEY_PREFIX = "key";
/** APP name of the retransmission authentication message. */
export const APP_AUTH = "AUTH";
/** APP name of the "not available" answer to a NACK. */
export const APP_NAVL = "NAVL";
/** Most FCI entries one NACK may carry so it fits a 16-bit framed message. */
export const MAX_NACK_FCI = 16_380;
/** Most sequence numbers one NAVL may carry so it fits a 16-bit framed message. */
export const MAX_NAVL_SEQS = 32_757;

/** The sender information of a Sender Report. */
export interface SenderReport {
  /** SSRC of the sender. */
  ssrc: number;
  /** NTP timestamp, whole seconds (see {@linkcode ntpFromDate}). */
  ntpSec: number;
  /** NTP timestamp, fraction. */
  ntpFrac: number;
  /** RTP timestamp corresponding to the NTP timestamp. */
  rtpTimestamp: number;
  /** Sender's packet count (u32, wraps). */
  packetCount: number;
  /** Sender's payload octet count (u32, wraps). */
  octetCount: number;
}

/** One reception report block (RFC 3550 §6.4.1); parsed, never built here. */
export interface ReportBlock {
  /** SSRC of the source this block is about. */
  ssrc: number;
  /** Fraction lost since the previous report, in 1/256. */
  fractionLost: number;
  /** Cumulative number of packets lost (signed 24 bits). */
  cumulativeLost: number;
  /** Extended highest sequence number received. */
  highestSeq: number;
  /** Interarrival jitter. */
  jitter: number;
  /** Last SR timestamp (middle 32 bits of its NTP timestamp). */
  lsr: number;
  /** Delay since last SR, in 1/65536 s. */
  dlsr: number;
}

/** The SDES items this project uses for one SSRC. */
export interface SdesChunk {
  /** SSRC (or CSRC) the items describe. */
  ssrc: number;
  /** CNAME item. */
  cname?: string;
  /** PRIV item with prefix `key`: the stream key, e.g. `live/movie`. */
  key?: string;
}

/** A parsed Sender Report. */
export interface RtcpSenderReport extends SenderReport {
  /** Discriminant. */
  type: "sr";
  /** Reception report blocks that followed the sender info. */
  reports: ReportBlock[];
}

/** A parsed Receiver Report. */
export interface RtcpReceiverReport {
  /** Discriminant. */
  type: "rr";
  /** SSRC of the packet sender. */
  ssrc: number;
  /** Reception report blocks. */
  reports: ReportBlock[];
}

/** A parsed SDES packet; items other than CNAME and PRIV `key` are skipped. */
export interface RtcpSdes {
  /** Discriminant. */
  type: "sdes";
  /** One entry per chunk, in packet order. */
  chunks: SdesChunk[];
}

/** A parsed BYE packet. */
export interface RtcpBye {
  /** Discriminant. */
  type: "bye";
  /** The sources that leave. */
  ssrcs: number[];
  /** Reason for leaving, when present. */
  reason?: string;
}

/** A parsed APP packet. */
export interface RtcpApp {
  /** Discriminant. */
  type: "app";
  /** The 5-bit subtype. */
  subtype: number;
  /** SSRC/CSRC field. */
  ssrc: number;
  /** Four ASCII characters. */
  name: string;
  /** Application data (a view into the parsed buffer, length a multiple of 4). */
  data: Uint8Array;
}

/** A parsed Generic NACK (RFC 4585 §6.2.1). */
export interface RtcpNack {
  /** Discriminant. */
  type: "nack";
  /** SSRC of the packet sender (who asks). */
  senderSsrc: number;
  /** SSRC of the media source whose packets are asked for. */
  mediaSsrc: number;
  /** Requested sequence numbers, FCI order (PID then its BLP bits ascending). */
  seqs: number[];
}

/** A well-formed RTCP packet of a type this module does not interpret. */
export interface RtcpUnknown {
  /** Discriminant. */
  type: "unknown";
  /** The packet type byte. */
  pt: number;
  /** The 5-bit count/subtype/FMT field. */
  count: number;
  /** Bytes after the 4-byte header, padding removed (a view, no copy). */
  body: Uint8Array;
}

/** Any packet {@linkcode parseRtcp} returns. */
export type RtcpPacket =
  | RtcpSenderReport
  | RtcpReceiverReport
  | RtcpSdes
  | RtcpBye
  | RtcpApp
  | RtcpNack
  | RtcpUnknown;
