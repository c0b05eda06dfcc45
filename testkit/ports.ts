/**
 * Free ports for tests and the bench: bound, read, released (a tiny race the
 * callers accept; a busy port fails their start with a clear error).
 *
 * @module
 */

/** A free TCP port on 127.0.0.1. */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A free UDP port on 127.0.0.1 (for a port both peers must know first). */
export function freeUdpPort(): number {
  const s = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** `count` consecutive free UDP ports on every interface; returns the first. */
export function freeUdpPorts(count: number): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const held: Deno.DatagramConn[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(
          Deno.listenDatagram({
            transport: "udp",
            hostname: "0.0.0.0",
            port: base + i,
          }),
        );
      }
      return base;
    } catch {
      // taken; try another base
    } finally {
      for (const c of held) c.close();
    }
  }
  throw new Error(`expected ${count} free consecutive UDP ports, found none`);
}

/** A UDP socket bound to a free port of `hostname` (default 127.0.0.1). */
export function udpSocket(hostname = "127.0.0.1"): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
}

/**
 * Runs `fn` with two UDP sockets on free 127.0.0.1 ports (a receiver and a
 * sender); closes both after.
 */
export async function withUdpPair(
  fn: (rx: Deno.DatagramConn, tx: Deno.DatagramConn) => Promise<void>,
): Promise<void> {
  const rx = udpSocket();
  const tx = udpSocket();
  try {
    await fn(rx, tx);
  } finally {
    rx.close();
    tx.close();
  }
}
