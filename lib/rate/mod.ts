/**
 * Rate limiting: the {@linkcode TokenBucket} every budget of flvcast uses.
 *
 * @module
 */
export { TokenBucket, type TokenBucketOptions } from "./token_bucket.ts";
