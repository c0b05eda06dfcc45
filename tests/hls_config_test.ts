import { deepEqual, equal, throws } from "node:assert/strict";
import {
  configFromYaml,
  defaultConfig,
  resolveAddresses,
} from "../lib/config/mod.ts";

Deno.test('HLS config: the seed\'s defaults, "" = only on the player port, bad values name the key', () => {
  const d = defaultConfig().edge;
  deepEqual(
    [d.enable_hls, d.hls_addr, d.hls_segments, d.hls_part_ms],
    [true, ":7002", 6, 200],
  );
  deepEqual(resolveAddresses(defaultConfig()).edgeHls, {
    hostname: "0.0.0.0",
    port: 7002,
  });
  const onlyPlayerPort = configFromYaml('edge:\n  hls_addr: ""\n', "c.yaml");
  equal(resolveAddresses(onlyPlayerPort).edgeHls, undefined);
  const off = configFromYaml("edge:\n  enable_hls: false\n", "c.yaml");
  equal(resolveAddresses(off).edgeHls, undefined);
  throws(
    () => configFromYaml("edge:\n  hls_part_ms: 10\n", "c.yaml"),
    /edge\.hls_part_ms.*expected an integer 50\.\.2000, got 10/,
  );
  throws(
    () => configFromYaml("edge:\n  hls_segments: 2\n", "c.yaml"),
    /edge\.hls_segments.*expected an integer 3\.\.100/,
  );
  throws(
    () => configFromYaml('edge:\n  hls_addr: "nope"\n', "c.yaml"),
    /edge\.hls_addr/,
  );
});
