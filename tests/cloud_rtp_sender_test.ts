import { deepEqual, equal } from "node:assert/strict";
import { RtpSender } from "../lib/cloud/mod.ts";
import { until } from "../testkit/poll.ts";
import { udpSocket } from "../testkit/ports.ts";

function collect(
  conn: Deno.DatagramConn,
): { got: Uint8Array[]; done: Promise<void> } {
  const got: Uint8Array[] = [];
  const buf = new Uint8Array(2048);
  const done = (async () => {
    try {
      while (true) {
        const [data] = await conn.receive(buf);
        got.push(data.slice());
      }
    } catch {
      // closed
    }
  })();
  return { got, done };
}

Deno.test("RtpSender fans every datagram out to every destination exactly once", async () => {
  const a = udpSocket();
  const b = udpSocket();
  const ra = collect(a);
  const rb = collect(b);
  const sender = new RtpSender({
    local: { hostname: "127.0.0.1", port: 0 },
    destinations: [a.addr as Deno.NetAddr, b.addr as Deno.NetAddr],
  });
  try {
    await sender.start();
    const datagrams = Array.from(
      { length: 500 },
      (_, i) => new Uint8Array([i >> 8, i & 255, 7]),
    );
    // Batches of 50 (a tag's worth), paced by the receivers, as a live stream is.
    for (let i = 0; i < datagrams.length; i += 50) {
      sender.send(datagrams.slice(i, i + 50));
      await until(
        () => ra.got.length >= i + 50 && rb.got.length >= i + 50,
        `datagrams ${i}..${i + 49} at both receivers`,
        10_000,
      );
    }
    // Sends of one batch are issued together; the kernel may see them in any
    // order (the edge reorders), but every datagram arrives exactly once.
    const order = (x: Uint8Array[]) =>
      [...x].sort((p, q) => (p[0] << 8 | p[1]) - (q[0] << 8 | q[1]));
    deepEqual(order(ra.got), datagrams);
    deepEqual(order(rb.got), datagrams);
    await sender.flushed();
    equal(sender.stats.datagramsSent, 1000);
    equal(sender.stats.queueDrops, 0);
  } finally {
    await sender.close();
    a.close();
    b.close();
    await Promise.all([ra.done, rb.done]);
  }
});

Deno.test("RtpSender with debug (disabled) opens nothing and sends nothing", async () => {
  const sender = new RtpSender({
    local: { hostname: "127.0.0.1", port: 0 },
    destinations: [{ hostname: "127.0.0.1", port: 9 }],
    disabled: true,
  });
  await sender.start();
  equal(sender.port, 0);
  sender.send([new Uint8Array(10)]);
  equal(sender.stats.datagramsSent, 0);
  await sender.close();
});

Deno.test("RtpSender drops (and counts) past its bounded queue instead of growing", async () => {
  const a = udpSocket();
  const sender = new RtpSender({
    local: { hostname: "127.0.0.1", port: 0 },
    destinations: [a.addr as Deno.NetAddr],
    maxQueue: 100,
  });
  try {
    await sender.start();
    const ok1 = sender.send(
      Array.from({ length: 101 }, () => new Uint8Array(8)),
    );
    const ok2 = sender.send(
      Array.from({ length: 10 }, () => new Uint8Array(8)),
    );
    equal(ok1, false);
    equal(ok2, true);
    equal(sender.stats.queueDrops, 101);
    await sender.flushed();
  } finally {
    await sender.close();
    a.close();
  }
});
