/**
 * The edge role: receives the cloud's RTP (unicast or multicast), puts it back
 * in order, repairs losses over QUIC, rebuilds the FLV tags and serves players
 * over HTTP-FLV and WebSocket-FLV.
 *
 * @module
 */
export {
  JitterBuffer,
  type JitterBufferOptions,
  type JitterStats,
  looksLikeTagStart,
  type PacketSource,
} from "./jitter_buffer.ts";
export {
  EdgeNode,
  type EdgeNodeOptions,
  type EdgeNodeStats,
  type ListenAddress,
} from "./edge_node.ts";
export {
  edgeApiHandler,
  type EdgeApiSource,
  type EdgeStreamInfo,
} from "./edge_api.ts";
