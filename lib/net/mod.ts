/**
 * Operating-system socket knobs Deno does not expose, through a small libc
 * FFI helper with a fallback where it cannot run.
 *
 * @module
 */
export {
  setSocketBuffer,
  type SocketBufferKind,
  type SocketBufferResult,
  udpSocketFds,
} from "./socket_buffer.ts";
export {
  abortTcp,
  abortTcpPeers,
  abortTcpUnavailable,
  listeningSockets,
  peerKey,
  stopListening,
} from "./tcp_abort.ts";
export { establishedPeers, parseTcpTable } from "./tcp_table.ts";
export {
  FreedMemoryReleaser,
  type FreedMemoryReleaserOptions,
  heapBytesInUse,
  type MemoryTrimOptions,
  releaseFreedMemory,
  startMemoryTrim,
} from "./memory_trim.ts";
export {
  type BatchSendResult,
  UdpBatchReceiver,
  UdpBatchSender,
} from "./udp_batch.ts";
