import { equal, match, ok } from "node:assert/strict";
import { EdgeNode } from "../lib/edge/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { setSocketBuffer, udpSocketFds } from "../lib/net/mod.ts";

const isRoot = Deno.uid() === 0;

Deno.test("socket buffer: finds Deno's own UDP socket and sets an 8 MiB receive buffer; a 2,000-packet burst all arrives", async () => {
  const rx = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const tx = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
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
  } finally {
    rx.close();
    tx.close();
  }
});

Deno.test("socket buffer: send buffer too; an unknown port or no FFI permission falls back with a reason", async () => {
  const s = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
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
