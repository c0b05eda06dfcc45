import { equal, match } from "node:assert/strict";
import { createLogger } from "../lib/log/mod.ts";

Deno.test("logger filters below its level and names the component", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "warn", write: (l) => lines.push(l) })
    .child("rtmp");
  log.info("hidden");
  log.warn("bad chunk", { remote: "127.0.0.1:1", size: 3 });
  equal(lines.length, 1);
  match(
    lines[0],
    /WARN {2}\[rtmp\] bad chunk remote=127\.0\.0\.1:1 size=3$/,
  );
});

Deno.test("logger appends to a file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/x.log`;
  const log = createLogger({ level: "debug", file, write: () => {} });
  log.debug("one");
  log.error("two");
  log.close();
  const text = await Deno.readTextFile(file);
  equal(text.trim().split("\n").length, 2);
  await Deno.remove(dir, { recursive: true });
});
