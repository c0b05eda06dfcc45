/**
 * The test kit shared by `tests/` and `scripts/bench/`: waiting with a
 * deadline, and (re-exported from their modules) free ports, ffmpeg
 * arguments, the FLV reader, the RTMP test client and the network-namespace
 * harness. Nothing here is part of the product.
 *
 * @module
 */
export { until } from "./poll.ts";
