import { deepEqual, equal, match, rejects, throws } from "node:assert/strict";
import {
  ConfigError,
  configFromYaml,
  defaultConfig,
  loadConfig,
  parseAddress,
  parseCommandLine,
  resolveAddresses,
} from "../lib/config/mod.ts";
import { DEFAULT_REPAIR_MAX_PPS } from "../lib/quic/mod.ts";

Deno.test("the shipped config.yaml loads and matches the seed's keys", async () => {
  const cfg = await loadConfig(parseCommandLine([]), { requireFile: true });
  equal(cfg.rtp_cache_size, 5000);
  equal(cfg.quic_addr, ":4242");
  deepEqual(cfg.client_addr_list, ["127.0.0.1:5222"]);
  equal(cfg.rtp_port, 5220);
  equal(cfg.rtp_payload_size, 1180);
  equal(cfg.edge.latency_ms, 200);
  equal(cfg.edge.udp_addr, ":5222");
  equal(cfg.edge.repair_max_pps, DEFAULT_REPAIR_MAX_PPS, "the shipped budget");
  equal(defaultConfig().edge.repair_max_pps, DEFAULT_REPAIR_MAX_PPS);
});

Deno.test("flags override the file, which overrides defaults", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/c.yaml`;
    await Deno.writeTextFile(
      path,
      "rtp_port: 6000\nedge:\n  latency_ms: 150\n",
    );
    const cli = parseCommandLine([
      "edge",
      "--config",
      path,
      "--edge.latency_ms=300",
      "--debug",
      "--client_addr_list=239.1.1.1:5000,10.0.0.1:5222",
    ]);
    equal(cli.role, "edge");
    const cfg = await loadConfig(cli, { requireFile: true });
    equal(cfg.rtp_port, 6000);
    equal(cfg.edge.latency_ms, 300);
    equal(cfg.debug, true);
    deepEqual(cfg.client_addr_list, ["239.1.1.1:5000", "10.0.0.1:5222"]);
    equal(cfg.rtp_cache_size, defaultConfig().rtp_cache_size);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const bad: [string, RegExp][] = [
  [
    "rtp_cache_size: lots",
    /c\.yaml: key "rtp_cache_size": expected an integer/,
  ],
  [
    "rtp_port: 70000",
    /key "rtp_port": expected an integer 0\.\.65535, got 70000/,
  ],
  ["debug: maybe", /key "debug": expected true or false, got "maybe"/],
  ["colour: red", /unknown key "colour"/],
  ["edge:\n  latency: 3", /unknown key "edge\.latency"/],
  [
    "rtmp_addr: localhost",
    /key "rtmp_addr": expected "host:port" or ":port", got "localhost"/,
  ],
  [
    "client_addr_list: [':5222']",
    /key "client_addr_list": expected "host:port"/,
  ],
  ["client_addr_list: 5", /key "client_addr_list": expected a list/],
  [
    "log_level: loud",
    /key "log_level": expected one of debug \| info \| warn \| error/,
  ],
  [
    "edge:\n  pack_loss: 2",
    /key "edge\.pack_loss": expected a number 0\.\.1, got 2/,
  ],
  [
    "edge:\n  cloud_fingerprint: abc",
    /key "edge\.cloud_fingerprint": expected 64 hex digits/,
  ],
  ["edge:\n  udp_addr: 'nowhere:5222'", /key "edge\.udp_addr": expected/],
  ["edge: 7", /key "edge": expected a mapping/],
  ["- a\n- b", /expected a mapping of keys at the top/],
  ["rtp_port: [1", /expected a YAML document, got a parse error/],
];
for (const [yaml, re] of bad) {
  Deno.test(`bad config is refused with one clear line: ${yaml.split("\n").join(" ")}`, () => {
    throws(() => configFromYaml(yaml, "c.yaml"), (e: unknown) => {
      if (!(e instanceof ConfigError)) return false;
      match(e.message, re);
      equal(e.message.includes("\n"), false);
      return true;
    });
  });
}

Deno.test("bad flags are refused naming the flag", async () => {
  throws(() => parseCommandLine(["--nope=1"]), /command line: .*nope/);
  throws(
    () => parseCommandLine(["relay"]),
    /expected no subcommand, "cloud" or "edge", got "relay"/,
  );
  await rejects(
    () =>
      loadConfig(parseCommandLine(["--rtp_port=x"]), { requireFile: false }),
    /flag --rtp_port: key "rtp_port"/,
  );
});

Deno.test("a missing --config file is an error naming the file", async () => {
  const cli = parseCommandLine(["--config", "/nonexistent/flvcast.yaml"]);
  await loadConfig(cli, { requireFile: true }).then(
    () => {
      throw new Error("expected a ConfigError");
    },
    (e) =>
      match(
        e.message,
        /\/nonexistent\/flvcast\.yaml: expected a readable YAML config file/,
      ),
  );
});

Deno.test("addresses parse, multicast groups are recognised", () => {
  deepEqual(parseAddress(":1935"), { hostname: "0.0.0.0", port: 1935 });
  deepEqual(parseAddress("[::1]:80"), { hostname: "::1", port: 80 });
  throws(() => parseAddress(":0"), /expected a port 1\.\.65535/);
  const cfg = configFromYaml("edge:\n  udp_addr: 239.9.9.9:5222\n", "x.yaml");
  deepEqual(resolveAddresses(cfg).edgeUdp, {
    hostname: "0.0.0.0",
    port: 5222,
    group: "239.9.9.9",
  });
});

Deno.test("edge repair keys: latency_ms auto, repair_answers, repair_udp_port", () => {
  const cfg = configFromYaml(
    "edge:\n  latency_ms: auto\n  repair_answers: stream\n  repair_udp_port: 5300\n",
    "w.yaml",
  );
  equal(cfg.edge.latency_ms, "auto");
  equal(cfg.edge.repair_answers, "stream");
  equal(cfg.edge.repair_udp_port, 5300);
  const d = defaultConfig();
  equal(d.edge.latency_ms, 200, "the default stays a number");
  equal(d.edge.repair_answers, "udp");
  equal(d.edge.repair_udp_port, 0);
  throws(
    () => configFromYaml("edge:\n  latency_ms: soon\n", "w.yaml"),
    /key "edge.latency_ms": expected an integer 20\.\.10000, got "soon"/,
  );
  throws(
    () => configFromYaml("edge:\n  repair_answers: carrier-pigeon\n", "w.yaml"),
    /key "edge.repair_answers": expected one of udp \| stream/,
  );
});

Deno.test("security keys: the defaults issue 12 lists, and a file in its shape loads", () => {
  const d = defaultConfig();
  deepEqual(d.auth, { secret: "", publish: false, play: false });
  deepEqual(d.hooks, {
    on_publish: "",
    on_unpublish: "",
    on_play: "",
    on_stop: "",
    timeout_ms: 3000,
  });
  deepEqual(d.limits, {
    max_connections: 1000,
    max_streams: 256,
    max_message_bytes: 8388608,
  });
  deepEqual(
    [d.rtmps_addr, d.tls_cert, d.tls_key, d.api_token],
    ["", "", "", ""],
  );
  deepEqual(
    [d.edge.https_addr, d.edge.tls_cert, d.edge.tls_key],
    ["", "", ""],
  );
  deepEqual(
    [
      d.edge.max_players,
      d.edge.max_connections_per_ip,
      d.edge.player_buffer_bytes,
    ],
    [10000, 64, 268435456],
  );
  const cfg = configFromYaml(
    [
      "auth:",
      '  secret: "s3cret"',
      "  publish: true",
      "  play: true",
      "hooks:",
      '  on_publish: "http://127.0.0.1:9/p"',
      "  timeout_ms: 500",
      "limits:",
      "  max_streams: 2",
      'rtmps_addr: ":1936"',
      'api_token: "t"',
      "edge:",
      '  https_addr: ":7443"',
      "  max_connections_per_ip: 8",
    ].join("\n"),
    "sec.yaml",
  );
  equal(cfg.auth.publish, true);
  equal(cfg.hooks.on_publish, "http://127.0.0.1:9/p");
  equal(cfg.hooks.timeout_ms, 500);
  equal(cfg.limits.max_streams, 2);
  equal(cfg.limits.max_message_bytes, 8388608);
  equal(cfg.rtmps_addr, ":1936");
  equal(cfg.edge.https_addr, ":7443");
  equal(cfg.edge.max_connections_per_ip, 8);
});
