/**
 * One published stream at the cloud: FLV tags in, RTP packets out (SRTP when
 * keyed), the retransmission cache and the ingest counters. Each tag also
 * goes to the stream's {@linkcode HubStream}, where RTMP players and the
 * recording subscribe.
 *
 * @module
 */
import { encodeTag, type FlvTag, TAG_AUDIO, TAG_VIDEO } from "../flv/mod.ts";
import type { HubStream } from "../hub/mod.ts";
import {
  encodeKeysAnswer,
  encodeSenderReport,
  KEYS_PROFILE,
  ntpFromDate,
} from "../rtcp/mod.ts";
import {
  SRTP_OVERHEAD,
  type SrtpKeyMaterial,
  SrtpSender,
} from "../srtp/mod.ts";
import {
  FecEncoder,
  parseRtp,
  randomSequence,
  RtpCache,
  RtpPacketizer,
} from "../rtp/mod.ts";

/** Options for {@linkcode CloudStream}. */
export interface CloudStreamOptions {
  /** Stream key `app/name`. */
  key: string;
  /** SSRC of this publish. */
  ssrc: number;
  /** Publisher address `host:port`. */
  remoteAddr: string;
  /** Node-wide publish number (stable `stream_id` in the API). Default 0. */
  id?: number;
  /** Max RTP payload bytes per packet. */
  payloadSize: number;
  /** Where the stream's tags go (GOP cache, RTMP players, recording). */
  hub: HubStream;
  /** Packets kept for retransmission. */
  cachePackets: number;
  /** Byte cap of the retransmission cache. */
  cacheBytes: number;
  /**
   * SRTP master key and salt of this publish: packets and RTCP leave
   * protected (and are cached protected). Absent: plain RTP/RTCP.
   */
  srtp?: SrtpKeyMaterial;
  /** FEC: one XOR parity packet per this many media packets (0 = off). */
  fecBlock?: number;
  /**
   * SSRC of the FEC repair stream when `srtp` is set: parity is computed
   * over the plain RTP packets, then sent under this SSRC and protected
   * with its own SRTP context (same master key and salt), as RFC 8627
   * FlexFEC repair streams are. Absent: parity carries the media SSRC.
   */
  fecSsrc?: number;
}

/** A snapshot of a stream's counters, as the API shows them. */
export interface CloudStreamInfo {
  /** Node-wide publish number. */
  id: number;
  /** Stream key `app/name`. */
  key: string;
  /** SSRC (u32). */
  ssrc: number;
  /** ISO time the publish started. */
  start_time: string;
  /** Publisher address. */
  publisher: string;
  /** Video codec name, if known. */
  video_codec?: string;
  /** Audio codec name, if known. */
  audio_codec?: string;
  /** Tags received from the publisher. */
  tags_in: number;
  /** Bytes of FLV tag bodies received, by kind. */
  video_bytes: number;
  /** Audio body bytes. */
  audio_bytes: number;
  /** Script/data body bytes. */
  data_bytes: number;
  /** Ingest bitrate over the last second (bit/s), by kind. */
  video_bps: number;
  /** Audio ingest bitrate. */
  audio_bps: number;
  /** RTP packets produced. */
  packets_sent: number;
  /** RTP payload octets produced. */
  octets_sent: number;
  /** Packets served again over QUIC. */
  retransmissions: number;
  /** FEC parity packets sent (`fec_block`). */
  fec_packets: number;
  /** Packets in the retransmission cache. */
  cache_packets: number;
  /** Bytes in the retransmission cache. */
  cache_bytes: number;
  /** RTMP players of this stream at the cloud. */
  players: number;
}

/**
 * A live stream at the cloud.
 *
 * @example Usage
 * ```ts ignore
 * const s = new CloudStream({ key: "live/a", ssrc: 1, remoteAddr: "x", hub: hub.open("live/a"), payloadSize: 1180, cachePackets: 5000, cacheBytes: 1 << 26 });
 * const packets = s.ingest({ type: 9, timestamp: 0, data });
 * ```
 */
export class CloudStream {
  /** Node-wide publish number. */
  readonly id: number;
  /** Stream key. */
  readonly key: string;
  /** SSRC of this publish. */
  readonly ssrc: number;
  /** When the publish started (ms since epoch). */
  readonly startedAt: number = Date.now();
  /** The retransmission cache. */
  readonly cache: RtpCache;
  /** The stream on the node's tag bus. */
  readonly hub: HubStream;
  /** Packets served again over QUIC. */
  retransmissions = 0;
  /** FEC parity packets made. */
  fecPackets = 0;
  #fec?: FecEncoder;
  /** Timestamp (ms) of the newest tag and the wall time it arrived. */
  lastTag = { timestamp: 0, wallMs: Date.now() };
  #remote: string;
  #packetizer: RtpPacketizer;
  #counts = { tags: 0, video: 0, audio: 0, data: 0 };
  #rate = { at: Date.now(), video: 0, audio: 0, videoBps: 0, audioBps: 0 };
  #srtp?: SrtpSender;
  /** SRTP of the FEC repair stream (SRTP and FEC both on). */
  #fecSrtp?: SrtpSender;
  /** Parity made by the last {@linkcode CloudStream.ingest}, to send. */
  #parity: Uint8Array[] = [];
  /** SSRC of the FEC repair stream, when it has its own (SRTP and FEC). */
  readonly fecSsrc?: number;
  /** The SRTP master key and salt (handed to edges by `KEYS`), if protected. */
  readonly keyMaterial?: SrtpKeyMaterial;

  /** Creates the stream state for one publish. */
  constructor(options: CloudStreamOptions) {
    this.id = options.id ?? 0;
    this.key = options.key;
    this.ssrc = options.ssrc;
    this.#remote = options.remoteAddr;
    this.hub = options.hub;
    this.#packetizer = new RtpPacketizer({
      ssrc: options.ssrc,
      payloadSize: options.payloadSize,
      // Room for the SRTP tag: packets are protected in place.
      tailroom: options.srtp ? SRTP_OVERHEAD : 0,
    });
    this.cache = new RtpCache({
      maxPackets: options.cachePackets,
      maxBytes: options.cacheBytes,
    });
    if (options.srtp) {
      this.keyMaterial = options.srtp;
      this.#srtp = new SrtpSender({ ...options.srtp, ssrc: options.ssrc });
    }
    if (options.fecBlock) {
      this.#fec = new FecEncoder(options.fecBlock, randomSequence());
      if (options.srtp) {
        if (options.fecSsrc === undefined || options.fecSsrc === this.ssrc) {
          throw new RangeError(
            `Expected a fecSsrc other than the media SSRC ${this.ssrc} for FEC under SRTP, received ${options.fecSsrc}`,
          );
        }
        this.fecSsrc = options.fecSsrc >>> 0;
        this.#fecSrtp = new SrtpSender({
          ...options.srtp,
          ssrc: this.fecSsrc,
        });
      }
    }
  }

  /**
   * Where the sender stands, for a `KEYS` answer: the ROC of the highest
   * sequence number sent, that number (undefined before the first) and the
   * publish's first sequence number.
   */
  get position(): { roc: number; highestSeq?: number; firstSeq: number } {
    const pk = this.#packetizer;
    const firstSeq = (pk.nextSequence - pk.packetsSent) & 0xffff;
    if (this.#srtp) {
      const seq = this.#srtp.highestSeq;
      return {
        roc: this.#srtp.roc,
        highestSeq: seq < 0 ? undefined : seq,
        firstSeq,
      };
    }
    if (pk.packetsSent === 0) return { roc: 0, firstSeq };
    // Plain RTP: the ROC is counted the same way (wraps since the start).
    const sent = pk.packetsSent;
    return {
      roc: Math.floor((firstSeq + sent - 1) / 65536),
      highestSeq: (pk.nextSequence - 1) & 0xffff,
      firstSeq,
    };
  }

  /**
   * onMetaData and the sequence headers as FLV tags (11-byte header +
   * body): what a decoder needs before the next keyframe.
   */
  stateTags(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (
      const t of [
        this.hub.gop.metadata,
        this.hub.gop.videoSequenceHeader,
        this.hub.gop.audioSequenceHeader,
      ]
    ) {
      if (t) out.push(encodeTag(t));
    }
    return out;
  }

  /**
   * An RTCP (compound) packet as it goes on the wire: SRTCP when the stream
   * is protected, else as is.
   */
  protectRtcp(packet: Uint8Array): Uint8Array {
    return this.#srtp ? this.#srtp.protectRtcp(packet) : packet;
  }

  /**
   * The FEC parity packets the last {@linkcode CloudStream.ingest} made, to
   * send after its packets; none when FEC is off. Parity is not cached: it
   * is never asked for.
   */
  takeParity(): Uint8Array[] {
    const out = this.#parity;
    if (out.length > 0) this.#parity = [];
    return out;
  }

  /** FEC parity over the plain packets of one tag (SRTP-protected as the
   * repair stream when keyed). */
  #makeParity(plain: Uint8Array[]): void {
    const fec = this.#fec!;
    for (const p of plain) {
      let parity = fec.push(parseRtp(p));
      if (!parity) continue;
      if (this.#fecSrtp) {
        const s = this.fecSsrc!;
        parity[8] = s >>> 24;
        parity[9] = (s >>> 16) & 0xff;
        parity[10] = (s >>> 8) & 0xff;
        parity[11] = s & 0xff;
        parity = this.#fecSrtp.protectRtp(parity);
      }
      this.#parity.push(parity);
      this.fecPackets++;
    }
  }

  /** The packetizer's counters, for RTCP Sender Reports. */
  get packetizer(): RtpPacketizer {
    return this.#packetizer;
  }

  /**
   * Takes one tag from the publisher: packetizes it (and protects the
   * packets with SRTP when keyed), stores the packets for retransmission,
   * hands the tag to the hub (players, recording) and returns the packets
   * to be sent.
   */
  ingest(tag: FlvTag): Uint8Array[] {
    this.#counts.tags++;
    if (tag.type === TAG_VIDEO) {
      this.#counts.video += tag.data.length;
    } else if (tag.type === TAG_AUDIO) {
      this.#counts.audio += tag.data.length;
    } else {
      this.#counts.data += tag.data.length;
    }
    this.lastTag = { timestamp: tag.timestamp, wallMs: Date.now() };
    let packets = this.#packetizer.packetize(tag);
    if (this.#fec) this.#makeParity(packets);
    if (this.#srtp) {
      // Retransmissions must carry the same protected bytes: cache those
      // (protected in place, in the packetizer's buffer for the tag).
      packets = this.#srtp.protectRtps(packets, true);
    }
    let seq = (this.#packetizer.nextSequence - packets.length) & 0xffff;
    for (const p of packets) {
      this.cache.put(seq, p);
      seq = (seq + 1) & 0xffff;
    }
    this.hub.push(tag);
    return packets;
  }

  /** Updates the per-second bitrates; call about once a second. */
  tick(now = Date.now()): void {
    const dt = (now - this.#rate.at) / 1000;
    if (dt <= 0) return;
    this.#rate.videoBps = Math.round(
      (this.#counts.video - this.#rate.video) * 8 / dt,
    );
    this.#rate.audioBps = Math.round(
      (this.#counts.audio - this.#rate.audio) * 8 / dt,
    );
    this.#rate.video = this.#counts.video;
    this.#rate.audio = this.#counts.audio;
    this.#rate.at = now;
  }

  /** This stream's RTCP Sender Report at wall time `now` (ms). */
  senderReport(now: number): Uint8Array {
    const { ntpSec, ntpFrac } = ntpFromDate(now);
    return encodeSenderReport({
      ssrc: this.ssrc,
      ntpSec,
      ntpFrac,
      rtpTimestamp: this.rtpTimestampAt(now),
      packetCount: this.#packetizer.packetsSent >>> 0,
      octetCount: this.#packetizer.octetsSent >>> 0,
    });
  }

  /** The answer to an edge's `KEYS` request for this stream: its SRTP
   * keys (or plain), where the sender stands and the decoder's state tags. */
  keysAnswer(): Uint8Array {
    const km = this.keyMaterial;
    const pos = this.position;
    return encodeKeysAnswer({
      ssrc: this.ssrc,
      profile: km ? KEYS_PROFILE.aesCm128HmacSha1_80 : KEYS_PROFILE.plain,
      masterKey: km?.masterKey ?? new Uint8Array(),
      masterSalt: km?.masterSalt ?? new Uint8Array(),
      roc: pos.roc,
      highestSeq: pos.highestSeq,
      firstSeq: pos.firstSeq,
      streamKey: this.key,
      stateTags: this.stateTags(),
      fec: this.#fecSrtp
        ? {
          ssrc: this.fecSsrc!,
          roc: this.#fecSrtp.roc,
          highestSeq: this.#fecSrtp.highestSeq < 0
            ? undefined
            : this.#fecSrtp.highestSeq,
        }
        : undefined,
    });
  }

  /** The RTP timestamp that corresponds to wall time `now` (for SR). */
  rtpTimestampAt(now: number): number {
    const ms = this.lastTag.timestamp + Math.max(0, now - this.lastTag.wallMs);
    return (ms * 90) % 0x1_0000_0000;
  }

  /** A snapshot of the counters. */
  info(): CloudStreamInfo {
    const hub = this.hub.info();
    return {
      id: this.id,
      key: this.key,
      ssrc: this.ssrc,
      start_time: new Date(this.startedAt).toISOString(),
      publisher: this.#remote,
      video_codec: hub.videoCodec,
      audio_codec: hub.audioCodec,
      tags_in: this.#counts.tags,
      video_bytes: this.#counts.video,
      audio_bytes: this.#counts.audio,
      data_bytes: this.#counts.data,
      video_bps: this.#rate.videoBps,
      audio_bps: this.#rate.audioBps,
      packets_sent: this.#packetizer.packetsSent,
      octets_sent: this.#packetizer.octetsSent,
      retransmissions: this.retransmissions,
      fec_packets: this.fecPackets,
      cache_packets: this.cache.size,
      cache_bytes: this.cache.bytes,
      players: this.hub.players,
    };
  }
}
