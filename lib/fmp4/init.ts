/**
 * The CMAF / fMP4 initialization segment (`ftyp` + `moov`), pure bytes:
 * one `trak` per track with an `avc1`/`hvc1`/`av01` or `mp4a` sample entry
 * carrying the codec configuration record as the FLV sequence header gave
 * it, empty sample tables and `mvex`/`trex` (samples come in fragments).
 *
 * @module
 */
import { box, ByteWriter, concatBytes, cString, fullBox } from "./box.ts";

/** A video track of the fMP4 output. */
export interface VideoTrack {
  /** Track kind. */
  kind: "video";
  /** Track ID (1-based, unique in the file). */
  id: number;
  /** Ticks per second of the track's timestamps. */
  timescale: number;
  /** `avc` (sample entry `avc1` + `avcC`), `hevc` (`hvc1` + `hvcC`) or `av1` (`av01` + `av1C`). */
  codec: "avc" | "hevc" | "av1";
  /** The decoder configuration record (avcC / hvcC / av1C payload). */
  config: Uint8Array;
  /** Picture width in pixels. */
  width: number;
  /** Picture height in pixels. */
  height: number;
}

/** An audio track of the fMP4 output. */
export interface AudioTrack {
  /** Track kind. */
  kind: "audio";
  /** Track ID (1-based, unique in the file). */
  id: number;
  /** Ticks per second (the sample rate). */
  timescale: number;
  /** `aac` (sample entry `mp4a` + `esds`). */
  codec: "aac";
  /** The AudioSpecificConfig. */
  config: Uint8Array;
  /** Sampling rate in Hz. */
  sampleRate: number;
  /** Channel count. */
  channels: number;
}

/** A track of the fMP4 output. */
export type Track = VideoTrack | AudioTrack;

const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

function bytes(fn: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  fn(w);
  return w.finish();
}

/** `ftyp`: major brand iso6, compatible iso6 cmfc iso5 mp41. */
export function ftyp(): Uint8Array {
  return box(
    "ftyp",
    bytes((w) =>
      w.fourCC("iso6").u32(0).fourCC("iso6").fourCC("cmfc").fourCC("iso5")
        .fourCC("mp41")
    ),
  );
}

function mvhd(nextTrackId: number): Uint8Array {
  return fullBox(
    "mvhd",
    0,
    0,
    bytes((w) => {
      w.u32(0).u32(0).u32(1000).u32(0); // times, timescale, duration
      w.u32(0x00010000).u16(0x0100).zeros(10);
      for (const m of MATRIX) w.u32(m);
      w.zeros(24).u32(nextTrackId);
    }),
  );
}

function tkhd(t: Track): Uint8Array {
  const video = t.kind === "video";
  return fullBox(
    "tkhd",
    0,
    3, // enabled | in movie
    bytes((w) => {
      w.u32(0).u32(0).u32(t.id).u32(0).u32(0); // times, id, reserved, duration
      w.zeros(8).u16(0).u16(0).u16(video ? 0 : 0x0100).u16(0);
      for (const m of MATRIX) w.u32(m);
      w.u32(video ? t.width * 65536 : 0).u32(video ? t.height * 65536 : 0);
    }),
  );
}

function mdhd(t: Track): Uint8Array {
  return fullBox(
    "mdhd",
    0,
    0,
    bytes((w) => w.u32(0).u32(0).u32(t.timescale).u32(0).u16(0x55c4).u16(0)),
  );
}

function hdlr(t: Track): Uint8Array {
  const video = t.kind === "video";
  return fullBox(
    "hdlr",
    0,
    0,
    bytes((w) =>
      w.u32(0).fourCC(video ? "vide" : "soun").zeros(12).bytes(
        cString(video ? "VideoHandler" : "SoundHandler"),
      )
    ),
  );
}

function visualEntry(t: VideoTrack): Uint8Array {
  const [type, cfg] = t.codec === "avc"
    ? ["avc1", "avcC"]
    : t.codec === "hevc"
    ? ["hvc1", "hvcC"]
    : ["av01", "av1C"];
  return box(
    type,
    bytes((w) => {
      w.zeros(6).u16(1); // reserved, data_reference_index
      w.zeros(16).u16(t.width).u16(t.height);
      w.u32(0x00480000).u32(0x00480000).u32(0).u16(1);
      w.zeros(32).u16(0x0018).u16(0xffff);
    }),
    box(cfg, t.config),
  );
}

/** An MPEG-4 descriptor: tag, size (4-byte form), body. */
function descriptor(tag: number, ...body: Uint8Array[]): Uint8Array {
  const payload = concatBytes(body);
  const n = payload.length;
  return concatBytes([
    Uint8Array.of(
      tag,
      0x80 | ((n >> 21) & 0x7f),
      0x80 | ((n >> 14) & 0x7f),
      0x80 | ((n >> 7) & 0x7f),
      n & 0x7f,
    ),
    payload,
  ]);
}

function esds(t: AudioTrack): Uint8Array {
  return fullBox(
    "esds",
    0,
    0,
    descriptor(
      3,
      bytes((w) => w.u16(t.id).u8(0)), // ES_ID, flags
      descriptor(
        4,
        // objectTypeIndication 0x40 (MPEG-4 audio), streamType 5 (audio) << 2 | 1
        bytes((w) => w.u8(0x40).u8(0x15).u24(0).u32(0).u32(0)),
        descriptor(5, t.config),
      ),
      descriptor(6, Uint8Array.of(2)),
    ),
  );
}

function audioEntry(t: AudioTrack): Uint8Array {
  return box(
    "mp4a",
    bytes((w) => {
      w.zeros(6).u16(1).zeros(8);
      w.u16(t.channels).u16(16).u16(0).u16(0);
      w.u32(Math.min(t.sampleRate, 0xffff) * 65536);
    }),
    esds(t),
  );
}

function stbl(t: Track): Uint8Array {
  const empty = (type: string, extra = 0) =>
    fullBox(type, 0, 0, new Uint8Array(4 + extra));
  return box(
    "stbl",
    fullBox(
      "stsd",
      0,
      0,
      bytes((w) => w.u32(1)),
      t.kind === "video" ? visualEntry(t) : audioEntry(t),
    ),
    empty("stts"),
    empty("stsc"),
    empty("stsz", 4),
    empty("stco"),
  );
}

function trak(t: Track): Uint8Array {
  const video = t.kind === "video";
  return box(
    "trak",
    tkhd(t),
    box(
      "mdia",
      mdhd(t),
      hdlr(t),
      box(
        "minf",
        video
          ? fullBox("vmhd", 0, 1, new Uint8Array(8))
          : fullBox("smhd", 0, 0, new Uint8Array(4)),
        box(
          "dinf",
          fullBox(
            "dref",
            0,
            0,
            bytes((w) => w.u32(1)),
            fullBox("url ", 0, 1),
          ),
        ),
        stbl(t),
      ),
    ),
  );
}

function trex(t: Track): Uint8Array {
  return fullBox(
    "trex",
    0,
    0,
    bytes((w) => w.u32(t.id).u32(1).u32(0).u32(0).u32(0)),
  );
}

/**
 * The initialization segment for `tracks`: `ftyp` then `moov` (`mvhd`, one
 * `trak` per track, `mvex` with a `trex` per track). Throws a RangeError on
 * no tracks or duplicate track IDs.
 *
 * @example Usage
 * ```ts ignore
 * const init = initSegment([{ kind: "audio", id: 1, timescale: 44100,
 *   codec: "aac", config: asc, sampleRate: 44100, channels: 2 }]);
 * ```
 */
export function initSegment(tracks: Track[]): Uint8Array {
  if (tracks.length === 0) {
    throw new RangeError("fMP4 init: expected at least one track, got none");
  }
  const ids = new Set(tracks.map((t) => t.id));
  if (ids.size !== tracks.length) {
    throw new RangeError(
      `fMP4 init: expected unique track IDs, got ${
        tracks.map((t) => t.id).join(", ")
      }`,
    );
  }
  return concatBytes([
    ftyp(),
    box(
      "moov",
      mvhd(Math.max(...ids) + 1),
      ...tracks.map(trak),
      box("mvex", ...tracks.map(trex)),
    ),
  ]);
}
