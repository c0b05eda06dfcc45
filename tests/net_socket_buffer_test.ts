import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { EdgeNode } from "../lib/edge/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import {
  setSocketBuffer,
  UdpBatchReceiver,
  UdpBatchSender,
  udpSocketFds,
} from "../lib/net/mod.ts";
import { udpSocket, withUdpPair } from "../testkit/ports.ts";

const isRoot = Deno.uid() === 0;

Deno.test("socket buffer: finds Deno's own UDP socket and sets an 8 MiB receive buffer; a 2,000-packet burst all arrives", async () => {
  await withUdpPair(async (rx, tx) => {
    const port = (rx.addr as Deno.NetAddr).port;
    equal(udpSocketFds(port).length, 1);
    const r = setSocketBuffer(port, "receive", 8 << 20);
    if (isRoot) {
      equal(r.method, "force");
      equal(r.effective, 2 * (8 << 20)); // Linux reports twice the size set
      equal(r.warning, undefined);
    } else {
      equal(r.method, "capped");
      match(r.warning ?? "", /CAP_NET_ADMIN|rmem_max/);
    }
    // Nobody reads while 2,000 datagrams of 1,200 bytes arrive.
    const n = 2000;
    const pkt = new Uint8Array(1200);
    for (let i = 0; i < n; i++) {
      new DataView(pkt.buffer).setUint32(0, i);
      await tx.send(pkt, rx.addr);
    }
    const buf = new Uint8Array(2048);
    const seen = new Set<number>();
    let last = -1;
    while (last !== n - 1) {
      const [data] = await rx.receive(buf);
      equal(data.length, 1200);
      last = new DataView(data.buffer, data.byteOffset).getUint32(0);
      seen.add(last);
    }
    if (isRoot || r.effective / 2 >= n * 2304) equal(seen.size, n);
    else ok(seen.size > 0);
  });
});

Deno.test("socket buffer: send buffer too; an unknown port or no FFI permission falls back with a reason", async () => {
  const s = udpSocket();
  try {
    const port = (s.addr as Deno.NetAddr).port;
    const r = setSocketBuffer(port, "send", 4 << 20);
    ok(r.effective >= (isRoot ? 2 * (4 << 20) : 1));
    // A port with no socket of ours.
    const none = setSocketBuffer(9, "receive", 1 << 20);
    equal(none.method, "default");
    match(none.warning ?? "", /no UDP socket on port 9/);
  } finally {
    s.close();
  }
  // Without --allow-ffi: the default, with the reason.
  const code = `
    import { setSocketBuffer } from "${
    new URL("../lib/net/mod.ts", import.meta.url).href
  }";
    const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const r = setSocketBuffer(s.addr.port, "receive", 1 << 20);
    console.log(JSON.stringify(r));
    s.close();`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-net", "--allow-net", "--allow-read", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  equal(r.method, "default");
  match(r.warning, /no FFI permission/);
});

Deno.test("socket buffer: the edge sets edge.udp_rcvbuf (default 8 MiB) and shows it in GET /api/node", async () => {
  for (const [asked, want] of [[undefined, 8 << 20], [1 << 20, 1 << 20]]) {
    const edge = new EdgeNode({
      udp: { hostname: "127.0.0.1", port: 0 },
      flv: { hostname: "127.0.0.1", port: 0 },
      api: { hostname: "127.0.0.1", port: 0 },
      quicPort: 9,
      insecureSkipVerify: true,
      logger: nullLogger,
      udpReceiveBuffer: asked,
    });
    await edge.start();
    try {
      const node = await (await fetch(
        `http://127.0.0.1:${edge.ports.api}/api/node`,
      )).json();
      equal(node.udp_rcvbuf.requested, want);
      if (isRoot) {
        equal(node.udp_rcvbuf.method, "force");
        equal(node.udp_rcvbuf.effective, 2 * want!);
      } else {
        ok(node.udp_rcvbuf.effective > 0);
      }
    } finally {
      await edge.stop();
    }
  }
});

Deno.test("udp batch: sendmmsg delivers 300 datagrams (views at offsets too) byte-identical and in order; an oversized one is refused alone", async () => {
  await withUdpPair(async (rx, tx) => {
    setSocketBuffer((rx.addr as Deno.NetAddr).port, "receive", 8 << 20);
    const batch = UdpBatchSender.open(tx, rx.addr as Deno.NetAddr, 64);
    ok(batch, "sendmmsg available on Linux with FFI");
    const backing = new Uint8Array(300 * 1300);
    crypto.getRandomValues(backing.subarray(0, 65536));
    const sent = Array.from(
      { length: 300 },
      (_, i) => backing.subarray(i * 1300 + (i % 7), i * 1300 + 100 + i * 3),
    );
    sent.forEach((d, i) =>
      new DataView(d.buffer, d.byteOffset).setUint16(0, i)
    );
    // One refused datagram in the middle (larger than UDP allows).
    const list = [
      ...sent.slice(0, 150),
      new Uint8Array(70_000),
      ...sent.slice(150),
    ];
    const r = batch.send(list);
    equal(r.sent, 300);
    equal(r.failed, 1);
    equal(r.errno, 90); // EMSGSIZE
    const buf = new Uint8Array(2048);
    for (let i = 0; i < 300; i++) {
      const [data] = await rx.receive(buf);
      equal(data.length, sent[i].length, `datagram ${i}`);
      ok(data.every((b, k) => b === sent[i][k]), `datagram ${i} bytes`);
    }
  });
});

Deno.test("udp batch: recvmmsg drains what is queued, byte-identical with the sender's address, after one awaited receive", async () => {
  await withUdpPair(async (rx, tx) => {
    setSocketBuffer((rx.addr as Deno.NetAddr).port, "receive", 8 << 20);
    const batch = UdpBatchReceiver.open(rx, 16, 2048);
    ok(batch, "recvmmsg available on Linux with FFI");
    const sent = Array.from({ length: 200 }, (_, i) => {
      const d = new Uint8Array(50 + i * 5);
      crypto.getRandomValues(d);
      new DataView(d.buffer).setUint16(0, i);
      return d;
    });
    for (const d of sent) await tx.send(d, rx.addr);
    const buf = new Uint8Array(65536);
    const [first, from] = await rx.receive(buf);
    const got: Uint8Array[] = [first.slice()];
    const txPort = (tx.addr as Deno.NetAddr).port;
    equal((from as Deno.NetAddr).port, txPort);
    const n = batch.drain((d, a) => {
      equal(a.hostname, "127.0.0.1");
      equal(a.port, txPort);
      got.push(d.slice());
    }, 1000);
    equal(n, 199);
    equal(batch.drain(() => {}), 0); // nothing left: returns at once
    got.forEach((d, i) => deepStrictEqual(d, sent[i], `datagram ${i}`));
  });
});
