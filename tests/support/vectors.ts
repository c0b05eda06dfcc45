/**
 * Codec vectors the FLV, fMP4 and HLS tests share: the AVC and AAC sequence
 * header tag bodies ffmpeg writes for `-f lavfi -i testsrc2=size=160x120:
 * rate=25 -f lavfi -i sine -c:v libx264 -preset ultrafast -c:a aac -f flv`
 * (160x120 H.264, AAC 44.1 kHz mono), hand-copied from its output.
 *
 * @module
 */
import type { FlvTag } from "../../lib/flv/mod.ts";
import { fromHex } from "../../testkit/bytes.ts";

/** The AVC sequence header tag body (AVCDecoderConfigurationRecord at 5). */
export const FFMPEG_AVC_SEQ: Uint8Array = fromHex(
  "17000000000142c00bffe100186742c00bda0a11f97011000003000100000300320f142aa001000468ce0fc8",
);

/** The AAC sequence header tag body (AudioSpecificConfig at 2). */
export const FFMPEG_AAC_SEQ: Uint8Array = fromHex("af00120856e500");

/**
 * Synthetic 25 fps H.264 tags (a keyframe every second, 10-byte bodies) at
 * every 40 ms from `from` (rounded up) to before `to` ms.
 */
export function syntheticVideo(from: number, to: number): FlvTag[] {
  const out: FlvTag[] = [];
  for (let t = Math.ceil(from / 40) * 40; t < to; t += 40) {
    const key = t % 1000 === 0;
    out.push({
      type: 9,
      timestamp: t,
      data: Uint8Array.of(key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 1, 9),
    });
  }
  return out;
}
