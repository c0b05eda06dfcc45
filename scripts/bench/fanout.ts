/**
 * Fan-out limit: the highest aggregate RTP packet rate (datagrams/s summed
 * over destinations) one cloud process sustains before its receivers see
 * loss, with no drop configured anywhere. A synthetic publisher (tags of a
 * fixed number of RTP packets) drives the cloud at rising rates; UDP sinks
 * count packets and sequence gaps per destination. A step is sustained when
 * the sinks saw no gap, received ≥ 97 % of the target rate and the publisher
 * kept pace. Also used on loopback for "RTP packets/s sent by one cloud" with
 * 1 and 10 streams.
 *
 * @module
 */
import type { Topology } from "../../testkit/netns.ts";
import {
  httpGetAt,
  makeTls,
  type Place,
  type ServerProc,
  startAgent,
  startCloud,
} from "./nodes.ts";
import type { PipelineContext } from "./pipeline.ts";
import {
  cpuSeconds,
  freeTcpPort,
  freeUdpPorts,
  parsePrometheus,
  sleep,
} from "./util.ts";

/** One fan-out case. */
export interface FanoutCase {
  /** Label for the table. */
  label: string;
  /** Unicast destinations (ignored for multicast). */
  destinations: number;
  /** Send to one multicast group instead. */
  multicast?: boolean;
  /** Publishers (streams). */
  streams: number;
  /** Topology (cloud on host `cloud`, sinks on host `edge`), or loopback. */
  topo?: Topology;
}

/** One measured step. */
export interface FanoutStep {
  /** Target aggregate datagrams/s. */
  target: number;
  /** Received aggregate datagrams/s. */
  received: number;
  /** Sequence gaps seen by the sinks. */
  lost: number;
  /** Kernel socket-buffer drops at the sinks. */
  socketDrops: number;
  /** Tags the publisher could not send on time. */
  behind: number;
  /** Cloud CPU % of one core. */
  cloudCpuPct: number;
  /** Sink CPU % of one core. */
  sinkCpuPct: number;
  /** Cloud UDP queue drops in the step. */
  queueDrops: number;
  /** UDP sends the kernel refused the cloud in the step. */
  sendErrors: number;
  /** Kernel per-CPU backlog drops (`/proc/net/softnet_stat`, machine-wide). */
  backlogDrops: number;
  /** Sustained: no gap at any sink, ≥ 97 % of the target received. */
  ok: boolean;
  /** At most 0.1 % of the target lost at the sinks, ≥ 97 % received. */
  okLow: boolean;
  /**
   * The cloud kept up: what it put on the wire (received + sink socket
   * drops) ≥ 97 % of the target, no queue drop, publisher on pace.
   */
  cloudOk: boolean;
}

/** Result of one case. */
export interface FanoutResult {
  /** The case. */
  label: string;
  /** Highest sustained aggregate datagrams/s with no receiver loss (0 if none). */
  maxSustained: number;
  /** Highest aggregate datagrams/s with ≤ 0.1 % receiver loss. */
  maxLowLoss: number;
  /** Highest aggregate datagrams/s the cloud put on the wire on pace. */
  maxOutput: number;
  /** The step that failed first, if any. */
  firstFailure?: FanoutStep;
  /** The best sustained step. */
  best?: FanoutStep;
  /** The best step where the cloud kept up. */
  bestOutput?: FanoutStep;
  /** All steps. */
  steps: FanoutStep[];
}

const PACKETS_PER_TAG = 10;
const PAYLOAD = 1180;

/** Aggregate targets tried in order (datagrams/s). */
export const FANOUT_STEPS = [
  5_000,
  10_000,
  20_000,
  30_000,
  40_000,
  55_000,
  70_000,
  85_000,
  100_000,
  120_000,
  150_000,
  200_000,
];

/** Machine-wide drops of the kernel's per-CPU input backlog. */
function softnetDrops(): number {
  let n = 0;
  for (const l of Deno.readTextFileSync("/proc/net/softnet_stat").split("\n")) {
    const f = l.trim().split(/\s+/);
    if (f.length > 1) n += parseInt(f[1], 16);
  }
  return n;
}

/** Runs one fan-out case. */
export async function runFanout(
  ctx: PipelineContext,
  c: FanoutCase,
  opts: { settleMs: number; stepMs: number; maxSteps?: number },
): Promise<FanoutResult> {
  ctx.tls ??= await makeTls(ctx.dir);
  const inNs = c.topo !== undefined;
  const cloudPlace: Place = inNs ? { topo: c.topo, host: "cloud" } : {};
  const sinkPlace: Place = inNs ? { topo: c.topo, host: "edge" } : {};
  const sinkIp = inNs ? c.topo!.address("edge") : "127.0.0.1";
  const group = "239.255.42.1";
  const k = c.multicast ? 1 : c.destinations;
  const basePort = inNs ? 6000 : freeUdpPorts(k);
  const ports = Array.from({ length: k }, (_, i) => basePort + i);
  const dests = c.multicast
    ? [`${group}:${basePort}`]
    : ports.map((p) => `${sinkIp}:${p}`);
  const procs: ServerProc[] = [];
  const steps: FanoutStep[] = [];
  try {
    const sink = startAgent(sinkPlace, {
      mode: "udpsink",
      hostname: sinkIp,
      ports,
      group: c.multicast ? group : undefined,
      maxRunMs: 600_000,
    }, { stdin: true, name: "udp sink" });
    procs.push(sink);
    await sink.child.next("ready", 20_000);
    const rtmpPort = inNs ? 1935 : freeTcpPort();
    const apiPort = inNs ? 8090 : freeTcpPort();
    const metricsUrl = `http://127.0.0.1:${apiPort}/metrics`;
    const cloudCounters = async () => {
      try {
        const m = parsePrometheus(await httpGetAt(cloudPlace, metricsUrl));
        return {
          queue: m.get("flvcast_cloud_udp_queue_drops_total") ?? 0,
          errors: m.get("flvcast_cloud_udp_send_errors_total") ?? 0,
        };
      } catch {
        return { queue: NaN, errors: NaN };
      }
    };
    const cloud = await startCloud({
      place: cloudPlace,
      dir: ctx.dir,
      bind: inNs ? "0.0.0.0" : "127.0.0.1",
      rtmpPort,
      apiPort,
      quicPort: inNs ? 4242 : freeUdpPorts(1),
      rtpPort: 0,
      destinations: dests,
      tls: ctx.tls,
    });
    procs.push(cloud);
    const pub = startAgent(cloudPlace, {
      mode: "synth",
      publish: Array.from(
        { length: c.streams },
        (_, i) => `rtmp://127.0.0.1:${rtmpPort}/live/fan${i}`,
      ),
      packetsPerTag: PACKETS_PER_TAG,
      payloadSize: PAYLOAD,
      maxRunMs: 600_000,
    }, { stdin: true, name: "synth publisher" });
    procs.push(pub);
    await pub.child.next("ready", 30_000);

    const measure = async (target: number): Promise<FanoutStep> => {
      await pub.child.send(`rate ${Math.round(target / k)}`);
      await pub.child.next("rate", 5000);
      await sleep(opts.settleMs);
      const qa = await cloudCounters();
      const na = softnetDrops();
      await sink.child.send("snap");
      await pub.child.send("snap");
      const a = await sink.child.next("snap", 5000);
      const pa = await pub.child.next("snap", 5000);
      const ca = cpuSeconds(cloud.pid);
      const sa = cpuSeconds(sink.pid);
      await sleep(opts.stepMs);
      await sink.child.send("snap");
      await pub.child.send("snap");
      const b = await sink.child.next("snap", 5000);
      const pb = await pub.child.next("snap", 5000);
      const qb = await cloudCounters();
      const qd = qb.queue - qa.queue;
      const sendErrors = qb.errors - qa.errors;
      const backlogDrops = softnetDrops() - na;
      const secs = ((b.t as number) - (a.t as number)) / 1000;
      const d = (k2: string) => (b[k2] as number) - (a[k2] as number);
      const received = d("received") / secs;
      const lost = d("lost");
      const socketDrops = d("socketDrops");
      const behind = (pb.behindTags as number) - (pa.behindTags as number);
      const step: FanoutStep = {
        target,
        received,
        lost,
        socketDrops,
        behind,
        cloudCpuPct: 100 * (cpuSeconds(cloud.pid) - ca) / secs,
        sinkCpuPct: 100 * (cpuSeconds(sink.pid) - sa) / secs,
        queueDrops: qd,
        sendErrors,
        backlogDrops,
        ok: lost === 0 && socketDrops === 0 && behind === 0 && qd === 0 &&
          received >= 0.97 * target && (pb.closed as number) === 0,
        okLow: lost <= 0.001 * target * secs && received >= 0.97 * target &&
          behind === 0 && qd === 0,
        cloudOk: behind === 0 && qd === 0 && (pb.closed as number) === 0 &&
          received + socketDrops / secs >= 0.97 * target,
      };
      steps.push(step);
      return step;
    };
    const rest = async () => {
      await pub.child.send("rate 0");
      await pub.child.next("rate", 5000);
      await sleep(1000);
    };

    let best: FanoutStep | undefined;
    let fail: FanoutStep | undefined;
    let bestOutput: FanoutStep | undefined;

    const max = opts.maxSteps ?? FANOUT_STEPS.length;
    for (const target of FANOUT_STEPS.slice(0, max)) {
      const s = await measure(target);
      if (s.ok && !fail) best = s;
      if (!s.ok) fail ??= s;
      if (!s.cloudOk) break;
      bestOutput = s;
    }
    if (fail && best && fail.target > best.target) {
      // One bisection step between the last good and the first bad rate.
      await rest();
      const mid = Math.round((best.target + fail.target) / 2 / 1000) * 1000;
      if (mid > best.target && mid < fail.target) {
        const s = await measure(mid);
        if (s.ok) best = s;
        else fail = s;
      }
    }
    // Highest step such that every lower ramp step had ≤ 0.1 % loss too.
    let bestLow: FanoutStep | undefined;
    for (const s of steps) {
      if (!s.okLow) break;
      bestLow = s;
    }
    await pub.child.send("rate 0");
    await pub.child.send("stop");
    await sink.child.send("stop");
    return {
      label: c.label,
      maxSustained: best?.target ?? 0,
      maxLowLoss: bestLow?.target ?? 0,
      maxOutput: bestOutput?.target ?? 0,
      best,
      bestOutput,
      firstFailure: fail,
      steps,
    };
  } finally {
    for (const p of procs.reverse()) await p.dispose();
  }
}
