/**
 * The test kit shared by `tests/` and `scripts/bench/` (neither imports the
 * other): waiting with a deadline ({@linkcode until}, {@linkcode poll}), free
 * ports, seeded randomness that names its seed on failure, and — in their own modules, imported directly because they start
 * processes — `media.ts` (the one builder of ffmpeg test-source arguments,
 * ffmpeg/ffprobe runners), `flv_reader.ts` (the one HTTP-FLV player),
 * `rtmp_client.ts` (the one RTMP client and publisher), `netns.ts` (the network-namespace harness) with
 * `delay_wire.ts`, and `cli.ts` (flag parsing of the helper programs).
 * Nothing here is part of the product.
 *
 * @module
 */
export { poll, until } from "./poll.ts";
export {
  freeTcpPort,
  freeUdpPort,
  freeUdpPorts,
  udpSocket,
  withUdpPair,
} from "./ports.ts";
export { seededBytes, seededRandom, withSeed } from "./random.ts";
