/**
 * Shared helpers of `deno task bench`: process CPU and memory from `/proc`,
 * free ports, percentiles, a registry of spawned processes that are always
 * killed by PID, JSON-line children, and Markdown tables.
 *
 * @module
 */

/** Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`). */
export const CLK_TCK = 100;

/** Repository root (two levels above this file). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname
  .replace(/\/$/, "");

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state); utime = field 14, stime = field 15.
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/**
 * CPU seconds per thread group of a process: the main thread ("main") and
 * the other threads by name (`tokio-runtime-w`, `V8 DefaultWorke`, …).
 */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`);
      const open = stat.indexOf("(");
      const close = stat.lastIndexOf(")");
      const name = Number(e.name) === pid
        ? "main"
        : stat.slice(open + 1, close);
      const f = stat.slice(close + 2).split(" ");
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch {
      // thread exited
    }
  }
  return out;
}

/**
 * CLOCK_MONOTONIC-like time in µs (from `/proc/uptime`, 10 ms resolution):
 * the clock V8 CPU profiles are stamped with.
 */
export function monotonicUs(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1e6;
}

/**
 * Datagrams the kernel dropped on the UDP sockets bound to `port` in the
 * network namespace of process `pid` (receive buffer full), from
 * `/proc/PID/net/udp`.
 */
export function udpSocketDrops(pid: number, port: number): number {
  let drops = 0;
  const lines = Deno.readTextFileSync(`/proc/${pid}/net/udp`).split("\n");
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f.length < 13) continue;
    if (parseInt(f[1].split(":")[1], 16) === port) {
      drops += Number(f[f.length - 1]);
    }
  }
  return drops;
}

/** Peak and current resident set size in MiB (`VmHWM`, `VmRSS`). */
export function memoryMiB(pid: number): { peak: number; rss: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return { peak: kb("VmHWM"), rss: kb("VmRSS") };
}

/**
 * Proportional set size of a process (MiB, `/proc/PID/smaps_rollup`): its
 * private pages plus its share of pages mapped by several processes (the
 * `deno` executable's text, mapped by both cloud and edge, counts once in
 * the sum of the two, where summed RSS counts it twice). NaN when unreadable.
 */
export function pssMiB(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const m = /^Pss:\s+(\d+) kB/m.exec(s);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** A CPU-time sample of several processes at one instant. */
export interface CpuSample {
  /** `performance.now()` when taken. */
  t: number;
  /** CPU seconds per label. */
  cpu: Record<string, number>;
}

/** Samples the CPU time of every `{label: pid}`. */
export function sampleCpu(pids: Record<string, number>): CpuSample {
  const cpu: Record<string, number> = {};
  for (const [k, pid] of Object.entries(pids)) cpu[k] = cpuSeconds(pid);
  return { t: performance.now(), cpu };
}

export { freeTcpPort, freeUdpPorts } from "../../testkit/ports.ts";

/** Percentile `p` (0..100) of an ascending array (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil((p / 100) * sorted.length) - 1),
  );
  return sorted[i];
}

/** Formats a number for a table (`—` for NaN/undefined). */
export function fmt(v: number | undefined | null, digits = 1): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return "—";
  if (Math.abs(v) >= 10000 && digits <= 1) {
    return Math.round(v).toLocaleString("en-US");
  }
  return v.toFixed(digits);
}

/** A Markdown table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c)).join(" | ")} |`;
  return [
    line(header),
    line(header.map(() => "---")),
    ...rows.map(line),
  ].join("\n");
}

/** Something the bench must stop, whatever happens. */
export interface Disposable {
  /** Stops it (idempotent, never throws). */
  dispose(): Promise<void>;
}

const live = new Set<Disposable>();

/** Registers `d` so {@linkcode disposeAll} stops it; returns `d`. */
export function track<T extends Disposable>(d: T): T {
  live.add(d);
  return d;
}

/** Forgets `d` (after it was disposed). */
export function untrack(d: Disposable): void {
  live.delete(d);
}

/** Stops everything still registered, newest first. */
export async function disposeAll(): Promise<void> {
  const all = [...live].reverse();
  live.clear();
  for (const d of all) {
    try {
      await d.dispose();
    } catch {
      // best effort
    }
  }
}

/** Options for {@linkcode Child}. */
export interface ChildOptions {
  /** Working directory. */
  cwd?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Write stdout to this file instead of parsing JSON lines. */
  stdoutFile?: string;
  /** Write stderr to this file (default: keep a bounded tail). */
  stderrFile?: string;
  /** Give the child a stdin pipe for {@linkcode Child.send}. */
  stdin?: boolean;
}

/**
 * A child process whose stdout is read as JSON lines (non-JSON lines are
 * kept in the log tail). Always killed by its own PID on dispose.
 */
export class Child implements Disposable {
  /** The process. */
  readonly proc: Deno.ChildProcess;
  /** What it is (for messages). */
  readonly name: string;
  #lines: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  #tail = "";
  #ended = false;
  #exited = false;
  #status: Promise<Deno.CommandStatus>;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #pumps: Promise<void>[] = [];

  /** Spawns `cmd args` and starts reading its output. */
  constructor(
    name: string,
    cmd: string,
    args: string[],
    opts: ChildOptions = {},
  ) {
    this.name = name;
    this.proc = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdin: opts.stdin ? "piped" : "null",
      stdout: opts.stdoutFile ? "null" : "piped",
      stderr: "piped",
    }).spawn();
    track(this);
    this.#status = this.proc.status.then((s) => {
      this.#exited = true;
      this.#wake();
      return s;
    });
    if (opts.stdin) this.#writer = this.proc.stdin.getWriter();
    if (!opts.stdoutFile) this.#pumps.push(this.#pumpStdout());
    this.#pumps.push(this.#pumpStderr(opts.stderrFile));
  }

  /** Process id. */
  get pid(): number {
    return this.proc.pid;
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Resolves with the exit status. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** The last ≤ 8 KiB of output that was not a JSON line. */
  get tail(): string {
    return this.#tail;
  }

  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #keep(text: string) {
    this.#tail = (this.#tail + text).slice(-8192);
  }

  async #pumpStdout(): Promise<void> {
    const dec = new TextDecoder();
    let partial = "";
    try {
      for await (const chunk of this.proc.stdout) {
        partial += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = partial.indexOf("\n")) >= 0) {
          const line = partial.slice(0, nl).trim();
          partial = partial.slice(nl + 1);
          if (line.startsWith("{")) {
            try {
              this.#lines.push(JSON.parse(line));
              this.#wake();
              continue;
            } catch {
              // not JSON after all
            }
          }
          this.#keep(line + "\n");
        }
      }
    } catch {
      // stream cancelled
    }
    this.#ended = true;
    this.#wake();
  }

  async #pumpStderr(file?: string): Promise<void> {
    const out = file
      ? await Deno.open(file, { write: true, create: true, truncate: true })
      : undefined;
    const dec = new TextDecoder();
    try {
      for await (const chunk of this.proc.stderr) {
        if (out) await out.write(chunk);
        else this.#keep(dec.decode(chunk, { stream: true }));
      }
    } catch {
      // cancelled
    } finally {
      out?.close();
    }
  }

  /**
   * Next JSON line whose `event` is `event` (earlier other lines are
   * skipped); throws after `timeoutMs` or when the process ends first.
   */
  async next(
    event: string,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      while (this.#lines.length > 0) {
        const l = this.#lines.shift()!;
        if (l.event === event) return l;
        this.#keep(JSON.stringify(l).slice(0, 300) + "\n");
        if (l.event === "error") {
          throw new Error(`${this.name}: ${l.message ?? JSON.stringify(l)}`);
        }
      }
      if (this.#ended || this.#exited) {
        throw new Error(
          `${this.name} (pid ${this.pid}) ended before "${event}"; output: ${
            this.#tail.slice(-2000)
          }`,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `${this.name} (pid ${this.pid}): no "${event}" within ${timeoutMs} ms; output: ${
            this.#tail.slice(-2000)
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Writes a line to the child's stdin. */
  async send(line: string): Promise<void> {
    if (!this.#writer) throw new Error(`${this.name}: no stdin pipe`);
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Sends `signal` unless it has exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; waits for exit and the pipes. */
  async dispose(graceMs = 3000): Promise<void> {
    untrack(this);
    if (this.#writer) {
      await this.#writer.close().catch(() => {});
    }
    if (!this.#exited) {
      this.kill("SIGTERM");
      const t = setTimeout(() => this.kill("SIGKILL"), graceMs);
      await this.#status;
      clearTimeout(t);
    }
    await Promise.race([Promise.allSettled(this.#pumps), sleep(2000)]);
  }
}

/** Runs a command to completion and returns its output (bounded in time). */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
  }, opts.timeoutMs ?? 120_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

export { poll } from "../../testkit/poll.ts";

/** GETs a URL as JSON (5 s timeout). */
export async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url}: expected 200, received ${res.status}`);
  }
  return await res.json();
}

/** Parses Prometheus text into `name{labels}` → value (labels kept verbatim). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
