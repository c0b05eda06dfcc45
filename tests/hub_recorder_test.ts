/**
 * Recording as a hub subscriber (both roles use it): one file per hub
 * stream, a republish in the same second gets `-1`, a directory that cannot
 * be written stops only that recording.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { demuxFlv, encodeFileTag, fileTagBytes } from "../lib/flv/mod.ts";
import { HubRecorder, StreamHub } from "../lib/hub/mod.ts";
import { createLogger } from "../lib/log/mod.ts";
import { describe, syntheticStream } from "./http_support.ts";

Deno.test("hub recorder: each stream to its own file, tag for tag; a republish gets -1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const hub = new StreamHub();
    const recorder = new HubRecorder({ hub, dir });
    const first = syntheticStream({ gops: 1, frames: 3 });
    const second = syntheticStream({ gops: 1, frames: 2, t0: 9000 });
    const a = hub.open("live/rec");
    for (const t of first) a.push(t);
    const b = hub.open("live/rec"); // republish: a ends ("replaced")
    for (const t of second) b.push(t);
    b.end("bye");
    await recorder.flushed();
    // Shorter name first: "…Z.flv" before "…Z-1.flv".
    const files = [...Deno.readDirSync(dir)].map((e) => e.name)
      .sort((x, y) => x.length - y.length || x.localeCompare(y));
    equal(files.length, 2, files.join(","));
    ok(files.every((f) => f.startsWith("live_rec-")), files.join(","));
    if (files[0].slice(0, -4) === files[1].slice(0, -6)) {
      ok(files[1].endsWith("-1.flv"), "same second: the second gets -1");
    }
    const read = (f: string) =>
      demuxFlv(Deno.readFileSync(`${dir}/${f}`)).tags.map(describe);
    // The two files open concurrently: either may get the plain name.
    const got = files.map(read).sort((x, y) => x.length - y.length);
    deepEqual(got, [second.map(describe), first.map(describe)]);
    equal(recorder.pathOf("live/rec"), null, "nothing is live");
    // The file bytes of a tag are the shared framing: built once.
    equal(fileTagBytes(first[3]), fileTagBytes(first[3]));
    deepEqual(fileTagBytes(first[3]), encodeFileTag(first[3]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hub recorder: an unwritable directory stops that recording, logged; the stream goes on", async () => {
  const file = await Deno.makeTempFile();
  const lines: string[] = [];
  try {
    const hub = new StreamHub();
    const recorder = new HubRecorder({
      hub,
      dir: `${file}/sub`, // a path under a file: mkdir fails
      logger: createLogger({ write: (l) => lines.push(l), level: "info" }),
    });
    const s = hub.open("live/x");
    const seen: number[] = [];
    s.subscribe({ onTag: (t) => seen.push(t.timestamp), onEnd: () => {} });
    const tags = syntheticStream({ gops: 1, frames: 2 });
    for (const t of tags) s.push(t);
    await recorder.flushed();
    ok(lines.some((l) => l.includes("cannot record stream")), lines.join());
    equal(recorder.pathOf("live/x"), null);
    for (const t of tags) s.push(t);
    equal(seen.length, 2 * tags.length, "players are not affected");
    s.end("bye");
    await recorder.close();
  } finally {
    await Deno.remove(file);
  }
});
