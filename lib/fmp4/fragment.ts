/**
 * fMP4 media fragments (`moof` + `mdat`), pure bytes: one `traf` per track
 * with `tfhd` (default-base-is-moof), `tfdt` (version 1, 64-bit decode
 * time) and `trun` (version 1: signed composition offsets) listing each
 * sample's duration, size, flags and composition offset.
 *
 * @module
 */
import { ByteWriter } from "./box.ts";

/** One sample (access unit / audio frame) of a fragment. */
export interface Sample {
  /** The sample's bytes (AVCC/HVCC length-prefixed NAL units, AV1 OBUs, raw AAC). */
  data: Uint8Array;
  /** Duration in track timescale ticks. */
  duration: number;
  /** Composition time offset (PTS − DTS) in ticks; may be negative. */
  cts: number;
  /** True for a sync sample (keyframe; every AAC frame). */
  sync: boolean;
}

/** The samples of one track in a fragment. */
export interface TrackRun {
  /** Track ID (as in the init segment). */
  trackId: number;
  /** Decode time of the first sample, in track timescale ticks. */
  baseDecodeTime: number;
  /** The samples, in decode order. */
  samples: Sample[];
}

/** `trun` sample flags of a sync sample: depends on no other sample. */
export const SYNC_SAMPLE_FLAGS = 0x02000000;
/** `trun` sample flags of a non-sync sample: depends on others, non-sync. */
export const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
// data-offset | sample-duration | sample-size | sample-flags | composition offsets
const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;

/**
 * One fragment: `moof` (`mfhd` with `sequence`, then a `traf` per run with
 * at least one sample) followed by one `mdat` holding every run's samples in
 * order. Throws a RangeError on a sequence number outside 1..2^32-1, a
 * fragment without samples, or a negative decode time/duration.
 *
 * @example Usage
 * ```ts ignore
 * const frag = mediaFragment(1, [{ trackId: 1, baseDecodeTime: 0,
 *   samples: [{ data: au, duration: 3600, cts: 0, sync: true }] }]);
 * ```
 */
export function mediaFragment(sequence: number, runs: TrackRun[]): Uint8Array {
  if (!Number.isInteger(sequence) || sequence < 1 || sequence > 0xffffffff) {
    throw new RangeError(
      `fMP4 fragment: expected a sequence number in 1..4294967295, got ${sequence}`,
    );
  }
  const used = runs.filter((r) => r.samples.length > 0);
  if (used.length === 0) {
    throw new RangeError("fMP4 fragment: expected at least one sample, got 0");
  }
  let mdatSize = 8;
  for (const r of used) {
    if (!Number.isSafeInteger(r.baseDecodeTime) || r.baseDecodeTime < 0) {
      throw new RangeError(
        `fMP4 fragment: expected a decode time >= 0 for track ${r.trackId}, got ${r.baseDecodeTime}`,
      );
    }
    for (const s of r.samples) {
      if (!Number.isInteger(s.duration) || s.duration < 0) {
        throw new RangeError(
          `fMP4 fragment: expected a sample duration >= 0 for track ${r.trackId}, got ${s.duration}`,
        );
      }
      mdatSize += s.data.length;
    }
  }
  // moof = 8 + mfhd 16 + per traf: 8 + tfhd 16 + tfdt 20 + trun (20 + 16/sample)
  let moofSize = 8 + 16;
  for (const r of used) moofSize += 8 + 16 + 20 + 20 + 16 * r.samples.length;
  const w = new ByteWriter(moofSize + mdatSize);
  w.u32(moofSize).fourCC("moof");
  w.u32(16).fourCC("mfhd").u32(0).u32(sequence);
  let dataOffset = moofSize + 8;
  for (const r of used) {
    const n = r.samples.length;
    w.u32(8 + 16 + 20 + 20 + 16 * n).fourCC("traf");
    w.u32(16).fourCC("tfhd").u32(TFHD_DEFAULT_BASE_IS_MOOF).u32(r.trackId);
    w.u32(20).fourCC("tfdt").u32(0x01000000).u64(r.baseDecodeTime);
    w.u32(20 + 16 * n).fourCC("trun").u32(0x01000000 | TRUN_FLAGS);
    w.u32(n).u32(dataOffset);
    for (const s of r.samples) {
      w.u32(s.duration).u32(s.data.length);
      w.u32(s.sync ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS);
      w.u32(s.cts | 0);
      dataOffset += s.data.length;
    }
  }
  w.u32(mdatSize).fourCC("mdat");
  for (const r of used) for (const s of r.samples) w.bytes(s.data);
  return w.finish();
}
