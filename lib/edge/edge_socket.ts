/**
 * The edge's UDP socket: bound for unicast or a multicast group (joined on
 * the configured interface), its receive buffer sized through `lib/net`.
 * The one place the edge's socket is set up.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { setSocketBuffer, type SocketBufferResult } from "../net/mod.ts";
import type { EdgeNodeOptions } from "./edge_options.ts";

/** An open edge socket. */
export interface EdgeSocket {
  /** The socket. */
  conn: Deno.DatagramConn;
  /** What the kernel gave for the receive buffer, if one was asked for. */
  receiveBuffer: SocketBufferResult | undefined;
}

/**
 * Opens the socket of `udp`; throws an Error naming the address when it
 * cannot be bound, and closes it again when the group cannot be joined.
 *
 * @example Usage
 * ```ts ignore
 * const { conn } = await openEdgeSocket({ hostname: "0.0.0.0", port: 5222 }, 8 << 20, log);
 * ```
 */
export async function openEdgeSocket(
  udp: EdgeNodeOptions["udp"],
  receiveBuffer: number,
  log: Logger,
): Promise<EdgeSocket> {
  let conn: Deno.DatagramConn;
  try {
    conn = Deno.listenDatagram({
      transport: "udp",
      hostname: udp.group ? "0.0.0.0" : (udp.hostname || "0.0.0.0"),
      port: udp.port,
      reuseAddress: udp.group !== undefined,
    });
  } catch (err) {
    throw new Error(
      `edge udp: cannot listen on ${udp.hostname || "0.0.0.0"}:${udp.port}: ${
        (err as Error).message
      }`,
      { cause: err },
    );
  }
  let result: SocketBufferResult | undefined;
  if (receiveBuffer > 0) {
    const port = (conn.addr as Deno.NetAddr).port;
    result = setSocketBuffer(port, "receive", receiveBuffer);
    const fields = {
      requested: result.requested,
      effective: result.effective,
      method: result.method,
    };
    if (result.warning) log.warn(result.warning, fields);
    else log.info("edge UDP receive buffer set", fields);
  }
  if (udp.group) {
    const iface = udp.multicastInterface || "0.0.0.0";
    try {
      await conn.joinMulticastV4(udp.group, iface);
    } catch (err) {
      conn.close();
      throw err;
    }
    log.info("joined multicast group", { group: udp.group, interface: iface });
  }
  return { conn, receiveBuffer: result };
}
