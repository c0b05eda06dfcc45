/**
 * The V8 flags every way of starting flvcast passes (`deno task start|cloud|
 * edge`, the compiled binary of `deno task compile`, the bench's nodes).
 *
 * `--max-semi-space-size=4` caps V8's young generation at 2 × 4 MiB. A relay
 * allocates a packet- or tag-sized buffer per datagram; with the default
 * (semi-spaces grow to 16 MiB+ under that churn) each process kept 30–45 MiB
 * of mostly empty young-generation pages. Scavenges get more frequent but
 * stay cheap (almost nothing survives them): measured with `deno task bench
 * --only=flvcast --configs=10x2,50x1`, peak RSS of cloud + edge fell by
 * ~50 MiB at 10 × 2 at unchanged CPU per delivered Mbit/s.
 *
 * @module
 */

/** V8 flags for a flvcast process, as one `--v8-flags=` value. */
export const V8_FLAGS = "--max-semi-space-size=4";
