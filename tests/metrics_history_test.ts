/**
 * StatsHistory: rates from counters, gauges, gaps, restarts, the fixed ring,
 * the stream cap and the JSON document the charts read.
 */
import { deepEqual, equal, throws } from "node:assert/strict";
import { type HistorySeries, StatsHistory } from "../lib/metrics/mod.ts";
import { EDGE_HISTORY_SERIES } from "../lib/edge/mod.ts";
import { CLOUD_HISTORY_SERIES } from "../lib/cloud/mod.ts";

interface Row {
  key: string;
  bytes: number;
  delay: number | null;
}

const SERIES: HistorySeries<Row>[] = [
  {
    name: "kbps",
    label: "bitrate",
    unit: "kbit/s",
    color: "#00f",
    kind: "rate",
    scale: 8 / 1000,
    read: (r) => r.bytes,
  },
  {
    name: "delay",
    label: "delay",
    unit: "ms",
    color: "#f0f",
    kind: "gauge",
    read: (r) => r.delay,
  },
];

const row = (key: string, bytes: number, delay: number | null = 5): Row => ({
  key,
  bytes,
  delay,
});

Deno.test("history: a counter becomes a rate per second; a gauge is kept as read", () => {
  const h = new StatsHistory<Row>({ series: SERIES, length: 4 });
  h.record(10_000, [row("a", 0, null)]);
  h.record(11_000, [row("a", 125_000, 7.25)]); // 1 Mbit in 1 s
  h.record(13_000, [row("a", 375_000, 8)]); // 2 Mbit in 2 s
  const doc = h.snapshot();
  deepEqual(doc.streams, [{
    key: "a",
    samples: { kbps: [null, 1000, 1000], delay: [null, 7.25, 8] },
  }]);
  equal(doc.interval_ms, 1000);
  equal(doc.length, 4);
  equal(doc.updated_at, 13_000);
  deepEqual(doc.series, [
    { name: "kbps", label: "bitrate", unit: "kbit/s", color: "#00f" },
    { name: "delay", label: "delay", unit: "ms", color: "#f0f" },
  ]);
});

Deno.test("history: the ring keeps the newest `length` samples, oldest first", () => {
  const h = new StatsHistory<Row>({ series: SERIES, length: 3 });
  for (let i = 0; i < 7; i++) h.record(i * 1000, [row("a", i * i * 125)]);
  // rates: i² - (i-1)² = 2i - 1 (×125 B = ×1 kbit) at i = 4, 5, 6 → 7, 9, 11
  deepEqual(h.snapshot().streams[0].samples.kbps, [7, 9, 11]);
});

Deno.test("history: a counter that goes down (restart) is a gap, then rates resume", () => {
  const h = new StatsHistory<Row>({ series: SERIES, length: 8 });
  h.record(0, [row("a", 1000)]);
  h.record(1000, [row("a", 2000)]);
  h.record(2000, [row("a", 100)]);
  h.record(3000, [row("a", 1100)]);
  deepEqual(h.snapshot().streams[0].samples.kbps, [null, 8, null, 8]);
});

Deno.test("history: streams that end are forgotten; past maxStreams new ones are counted only", () => {
  const h = new StatsHistory<Row>({ series: SERIES, maxStreams: 2 });
  h.record(0, [row("a", 0), row("b", 0), row("c", 0)]);
  equal(h.size, 2);
  let doc = h.snapshot();
  deepEqual(doc.streams.map((s) => s.key), ["a", "b"]);
  equal(doc.untracked_streams, 1);
  h.record(1000, [row("b", 10), row("c", 0)]);
  doc = h.snapshot();
  deepEqual(doc.streams.map((s) => s.key), ["b", "c"]);
  equal(doc.untracked_streams, 0);
  deepEqual(h.snapshot(["c", "x"]).streams.map((s) => s.key), ["c"]);
  h.record(2000, []);
  equal(h.size, 0);
});

Deno.test("history: bad options are refused naming the option", () => {
  throws(
    () => new StatsHistory<Row>({ series: SERIES, length: 0 }),
    /StatsHistory length: expected an integer >= 1, got 0/,
  );
  throws(
    () => new StatsHistory<Row>({ series: SERIES, maxStreams: 1.5 }),
    /StatsHistory maxStreams: expected an integer >= 1, got 1.5/,
  );
});

Deno.test("history: the edge and cloud series read their API rows", () => {
  deepEqual(EDGE_HISTORY_SERIES.map((s) => s.name), [
    "bitrate_kbps",
    "lost",
    "recovered",
    "tags_dropped",
    "delay_ms",
  ]);
  deepEqual(CLOUD_HISTORY_SERIES.map((s) => s.name), [
    "bitrate_kbps",
    "packets_sent",
    "retransmissions",
    "cache_packets",
  ]);
});

Deno.test("history: a series' short label (the sparklines') is in the document only when set", () => {
  const h = new StatsHistory<Row>({
    series: [{ ...SERIES[0], short: "in" }, SERIES[1]],
  });
  deepEqual(h.snapshot().series, [
    {
      name: "kbps",
      label: "bitrate",
      short: "in",
      unit: "kbit/s",
      color: "#00f",
    },
    { name: "delay", label: "delay", unit: "ms", color: "#f0f" },
  ]);
  for (const s of [...EDGE_HISTORY_SERIES, ...CLOUD_HISTORY_SERIES]) {
    equal(typeof s.short, "string", `${s.name}: short label`);
  }
});
