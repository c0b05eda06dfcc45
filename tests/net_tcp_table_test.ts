/**
 * `establishedPeers` on real sockets: it finds this process's established
 * connection on a port, and one read of the kernel's table serves every
 * caller for a short while (the read walks the kernel's whole hash).
 *
 * @module
 */
import assert from "node:assert/strict";
import { establishedPeers, peerKey } from "../lib/net/mod.ts";

Deno.test({
  name:
    "tcp table: an established connection is seen; one read is shared for 900 ms",
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const a = await Deno.connect({ hostname: "127.0.0.1", port });
    const aIn = await listener.accept();
    const b = await Deno.connect({ hostname: "127.0.0.1", port });
    const bIn = await listener.accept();
    try {
      const keyA = peerKey("127.0.0.1", (a.localAddr as Deno.NetAddr).port);
      const keyB = peerKey("127.0.0.1", (b.localAddr as Deno.NetAddr).port);
      const t = 1e12; // far from any earlier read: a fresh one
      const fresh = establishedPeers(port, "127.0.0.1", t);
      assert.ok(fresh.includes(keyA) && fresh.includes(keyB), String(fresh));
      aIn.close();
      a.close();
      // Within the shared read's lifetime the table is not read again …
      assert.deepEqual(establishedPeers(port, "127.0.0.1", t + 500), fresh);
      // … after it, it is: the closed connection is gone.
      const later = establishedPeers(port, "127.0.0.1", t + 1000);
      assert.ok(!later.includes(keyA), String(later));
      assert.ok(later.includes(keyB), String(later));
    } finally {
      for (const c of [a, aIn, b, bIn]) {
        try {
          c.close();
        } catch { /* closed above */ }
      }
      listener.close();
    }
  },
});
