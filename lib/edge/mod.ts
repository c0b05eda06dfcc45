/**
 * The edge role: receives the cloud's RTP (unicast or multicast), puts it back
 * in order, repairs losses over QUIC, rebuilds the FLV tags and serves players
 * over HTTP-FLV and WebSocket-FLV. {@linkcode EdgeNode} is the I/O shell;
 * {@linkcode EdgeReceiver} the pure core it feeds; the tags reach consumers
 * through the node's `hub`.
 *
 * @module
 */
export { JitterBuffer } from "./jitter_buffer.ts";
export type {
  JitterBufferOptions,
  JitterStats,
  PacketSource,
} from "./jitter_types.ts";
export { EdgeReceiver } from "./receiver.ts";
export type {
  EdgeNodeStats,
  EdgeReceiverOptions,
  PeerAddress,
  RepairRequest,
} from "./receiver_types.ts";
export { EdgeNode } from "./edge_node.ts";
export type { EdgeNodeOptions, ListenAddress } from "./edge_options.ts";
export {
  EDGE_HISTORY_SERIES,
  edgeApiHandler,
  type EdgeApiSource,
  type EdgeStreamInfo,
  type EndedStreamInfo,
  PUBLIC_STREAM_FIELDS,
  type PublicStreamInfo,
} from "./edge_api.ts";
export {
  type EdgeLinkSnapshot,
  edgeMetrics,
  type EdgeMetricsSource,
  edgeNodeInfo,
} from "./edge_metrics.ts";
export { type EdgeSocket, openEdgeSocket } from "./edge_socket.ts";
export { answerCopies, autoBudget, repairRounds } from "./repair_policy.ts";
