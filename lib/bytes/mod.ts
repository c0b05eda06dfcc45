/**
 * Bytes: {@linkcode concatBytes} and the {@linkcode ChunkQueue} every bounded
 * socket queue stores its chunks in. Pure.
 *
 * @module
 */
export { concatBytes } from "./concat.ts";
export { ChunkQueue } from "./chunk_queue.ts";
