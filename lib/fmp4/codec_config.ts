/**
 * What the fMP4 sample entries need from the codec configuration records
 * that FLV sequence headers carry (pure bytes): picture size from an
 * H.264/HEVC SPS or an AV1 sequence header, and sample rate / channels from
 * an AAC AudioSpecificConfig.
 *
 * @module
 */

/** Reads bits MSB first from an RBSP (emulation prevention removed). */
class BitReader {
  #b: Uint8Array;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#b = bytes;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.#pos >> 3;
      if (byte >= this.#b.length) {
        throw new RangeError(
          `bitstream: expected more than ${this.#b.length} bytes`,
        );
      }
      v = v * 2 + ((this.#b[byte] >> (7 - (this.#pos & 7))) & 1);
      this.#pos++;
    }
    return v;
  }

  skip(n: number): void {
    this.#pos += n;
  }

  /** Unsigned Exp-Golomb. */
  ue(): number {
    let zeros = 0;
    while (this.bits(1) === 0) {
      if (++zeros > 31) throw new RangeError("Exp-Golomb: more than 31 zeros");
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.bits(zeros);
  }

  /** Signed Exp-Golomb. */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes H.264/HEVC emulation prevention bytes (00 00 03 → 00 00). */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/** Picture size in pixels. */
export interface PictureSize {
  /** Width in pixels (after cropping). */
  width: number;
  /** Height in pixels (after cropping). */
  height: number;
}

const HIGH_PROFILES = new Set([
  100,
  110,
  122,
  244,
  44,
  83,
  86,
  118,
  128,
  138,
  139,
  134,
  135,
]);

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Picture size from an H.264 SPS NAL unit (with its 1-byte NAL header). */
export function avcSpsSize(sps: Uint8Array): PictureSize {
  const r = new BitReader(unescapeRbsp(sps));
  r.skip(8); // NAL header
  const profile = r.bits(8);
  r.skip(16); // constraint flags, level
  r.ue(); // seq_parameter_set_id
  let chroma = 1;
  if (HIGH_PROFILES.has(profile)) {
    chroma = r.ue();
    if (chroma === 3) r.skip(1);
    r.ue(); // bit_depth_luma
    r.ue(); // bit_depth_chroma
    r.skip(1);
    if (r.bits(1)) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
        if (r.bits(1)) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.skip(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.skip(1);
  const wMbs = r.ue() + 1;
  const hMaps = r.ue() + 1;
  const frameMbsOnly = r.bits(1);
  if (!frameMbsOnly) r.skip(1);
  r.skip(1); // direct_8x8_inference
  let [cl, cr, ct, cb] = [0, 0, 0, 0];
  if (r.bits(1)) [cl, cr, ct, cb] = [r.ue(), r.ue(), r.ue(), r.ue()];
  const subW = chroma === 1 || chroma === 2 ? 2 : 1;
  const subH = chroma === 1 ? 2 : 1;
  const unitX = chroma === 0 ? 1 : subW;
  const unitY = (chroma === 0 ? 1 : subH) * (2 - frameMbsOnly);
  return {
    width: wMbs * 16 - (cl + cr) * unitX,
    height: (2 - frameMbsOnly) * hMaps * 16 - (ct + cb) * unitY,
  };
}

/** Picture size from an HEVC SPS NAL unit (with its 2-byte NAL header). */
export function hevcSpsSize(sps: Uint8Array): PictureSize {
  const r = new BitReader(unescapeRbsp(sps));
  r.skip(16 + 4); // NAL header, sps_video_parameter_set_id
  const maxSub = r.bits(3);
  r.skip(1);
  r.skip(96); // general profile_tier_level
  const profilePresent: number[] = [];
  const levelPresent: number[] = [];
  for (let i = 0; i < maxSub; i++) {
    profilePresent.push(r.bits(1));
    levelPresent.push(r.bits(1));
  }
  if (maxSub > 0) r.skip(2 * (8 - maxSub));
  for (let i = 0; i < maxSub; i++) {
    if (profilePresent[i]) r.skip(88);
    if (levelPresent[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chroma = r.ue();
  if (chroma === 3) r.skip(1);
  let width = r.ue();
  let height = r.ue();
  if (r.bits(1)) {
    const subW = chroma === 1 || chroma === 2 ? 2 : 1;
    const subH = chroma === 1 ? 2 : 1;
    const [l, rt, t, b] = [r.ue(), r.ue(), r.ue(), r.ue()];
    width -= subW * (l + rt);
    height -= subH * (t + b);
  }
  return { width, height };
}

/** The NAL units of an AVCDecoderConfigurationRecord. */
export interface AvcConfig {
  /** Bytes of the NAL length prefix in samples (1, 2 or 4). */
  lengthSize: number;
  /** Sequence parameter sets. */
  sps: Uint8Array[];
  /** Picture parameter sets. */
  pps: Uint8Array[];
}

function need(rec: Uint8Array, n: number, what: string): void {
  if (rec.length < n) {
    throw new RangeError(
      `${what}: expected at least ${n} bytes, got ${rec.length}`,
    );
  }
}

/**
 * Checks that a decoder configuration record (`what`) has `min` bytes and
 * configurationVersion 1; returns its NAL length size (low 2 bits of the
 * byte at `lengthAt`, plus 1).
 */
function recordStart(
  rec: Uint8Array,
  min: number,
  lengthAt: number,
  what: string,
): number {
  need(rec, min, what);
  if (rec[0] !== 1) {
    throw new RangeError(
      `${what}: expected configurationVersion 1, got ${rec[0]}`,
    );
  }
  return (rec[lengthAt] & 3) + 1;
}

/**
 * Reads `count` NAL units, each behind a u16 length, from `rec` at `o` into
 * `out`; returns the offset after them. `what` names the record in errors.
 */
function readNalus(
  rec: Uint8Array,
  o: number,
  count: number,
  out: Uint8Array[],
  what: string,
): number {
  for (let i = 0; i < count; i++) {
    need(rec, o + 2, what);
    const n = (rec[o] << 8) | rec[o + 1];
    need(rec, o + 2 + n, what);
    out.push(rec.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return o;
}

/** Parses an AVCDecoderConfigurationRecord (`avcC` payload). */
export function parseAvcConfig(rec: Uint8Array): AvcConfig {
  const lengthSize = recordStart(rec, 7, 4, "avcC");
  const sps: Uint8Array[] = [];
  const o = readNalus(rec, 6, rec[5] & 0x1f, sps, "avcC");
  need(rec, o + 1, "avcC");
  const pps: Uint8Array[] = [];
  readNalus(rec, o + 1, rec[o], pps, "avcC");
  return { lengthSize, sps, pps };
}

/** The parts of an HEVCDecoderConfigurationRecord the muxer needs. */
export interface HevcConfig {
  /** Bytes of the NAL length prefix in samples. */
  lengthSize: number;
  /** NAL units by type (32 VPS, 33 SPS, 34 PPS, …). */
  nalus: Map<number, Uint8Array[]>;
}

/** Parses an HEVCDecoderConfigurationRecord (`hvcC` payload). */
export function parseHevcConfig(rec: Uint8Array): HevcConfig {
  const lengthSize = recordStart(rec, 23, 21, "hvcC");
  const nalus = new Map<number, Uint8Array[]>();
  let o = 23;
  for (let a = 0; a < rec[22]; a++) {
    need(rec, o + 3, "hvcC");
    const type = rec[o] & 0x3f;
    const count = (rec[o + 1] << 8) | rec[o + 2];
    o += 3;
    const list = nalus.get(type) ?? [];
    o = readNalus(rec, o, count, list, "hvcC");
    nalus.set(type, list);
  }
  return { lengthSize, nalus };
}

function leb128(b: Uint8Array, o: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    need(b, o + i + 1, "AV1 leb128");
    v += (b[o + i] & 0x7f) * 2 ** (7 * i);
    if ((b[o + i] & 0x80) === 0) return [v, o + i + 1];
  }
  throw new RangeError("AV1 leb128: expected at most 8 bytes");
}

/**
 * Picture size from the sequence header OBU in an AV1CodecConfigurationRecord
 * (`av1C` payload: 4 bytes, then configOBUs); undefined when it carries none.
 */
export function av1ConfigSize(rec: Uint8Array): PictureSize | undefined {
  need(rec, 4, "av1C");
  let o = 4;
  while (o < rec.length) {
    const header = rec[o];
    const type = (header >> 3) & 0x0f;
    const ext = (header >> 2) & 1;
    const hasSize = (header >> 1) & 1;
    let p = o + 1 + ext;
    let size = rec.length - p;
    if (hasSize) [size, p] = leb128(rec, p);
    if (type === 1) return av1SequenceSize(rec.subarray(p, p + size));
    o = p + size;
  }
  return undefined;
}

function av1SequenceSize(obu: Uint8Array): PictureSize {
  const r = new BitReader(obu);
  r.skip(3); // seq_profile
  r.skip(1); // still_picture
  const reduced = r.bits(1);
  if (reduced) {
    r.skip(5);
  } else {
    let decoderModel = 0;
    let delayLen = 0;
    if (r.bits(1)) { // timing_info_present_flag
      r.skip(64);
      if (r.bits(1)) { // equal_picture_interval: uvlc
        let zeros = 0;
        while (r.bits(1) === 0 && zeros < 32) zeros++;
        if (zeros < 32) r.skip(zeros);
      }
      decoderModel = r.bits(1);
      if (decoderModel) {
        delayLen = r.bits(5) + 1;
        r.skip(32 + 5 + 5);
      }
    }
    const displayDelay = r.bits(1);
    const ops = r.bits(5) + 1;
    for (let i = 0; i < ops; i++) {
      r.skip(12);
      if (r.bits(5) > 7) r.skip(1);
      if (decoderModel && r.bits(1)) r.skip(2 * delayLen + 1);
      if (displayDelay && r.bits(1)) r.skip(4);
    }
  }
  const wBits = r.bits(4) + 1;
  const hBits = r.bits(4) + 1;
  return { width: r.bits(wBits) + 1, height: r.bits(hBits) + 1 };
}

/** What an AAC AudioSpecificConfig says. */
export interface AacConfig {
  /** Audio object type (2 = AAC LC, 5 = SBR, 29 = PS). */
  objectType: number;
  /** Sampling rate in Hz. */
  sampleRate: number;
  /** Channel configuration (1 mono, 2 stereo, …; 0 = in the stream). */
  channels: number;
  /** Samples per frame (1024, or 960 with frameLengthFlag). */
  frameLength: number;
}

const AAC_RATES = [
  96000,
  88200,
  64000,
  48000,
  44100,
  32000,
  24000,
  22050,
  16000,
  12000,
  11025,
  8000,
  7350,
];

/** Parses an AAC AudioSpecificConfig (ISO 14496-3 §1.6.2.1). */
export function parseAacConfig(asc: Uint8Array): AacConfig {
  need(asc, 2, "AudioSpecificConfig");
  const r = new BitReader(asc);
  let objectType = r.bits(5);
  if (objectType === 31) objectType = 32 + r.bits(6);
  const index = r.bits(4);
  const sampleRate = index === 15 ? r.bits(24) : AAC_RATES[index];
  if (sampleRate === undefined || sampleRate === 0) {
    throw new RangeError(
      `AudioSpecificConfig: expected a sampling frequency index 0..12 or 15, got ${index}`,
    );
  }
  const channels = r.bits(4);
  let frameLength = 1024;
  if (objectType !== 5 && objectType !== 29 && asc.length * 8 >= 17) {
    // GASpecificConfig starts with frameLengthFlag for the AAC object types.
    try {
      if (r.bits(1)) frameLength = 960;
    } catch {
      // short config: 1024
    }
  }
  return { objectType, sampleRate, channels, frameLength };
}
