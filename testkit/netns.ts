/**
 * Network-namespace test harness: builds a private L2 segment of "hosts"
 * (one network namespace each) joined by a bridge, for end-to-end tests of
 * unicast, multicast and lossy UDP without touching the real network.
 *
 * Layout of one topology (all names carry a random per-topology tag):
 *
 * ```
 *  host ns "…-tx"  198.18.0.1/24  veth ─┐
 *  host ns "…-rx1" 198.18.0.2/24  veth ─┼─ bridge (mcast_snooping 0) in ns "…-br"
 *  host ns "…-rx2" 198.18.0.3/24  veth ─┘
 * ```
 *
 * A host listed in {@linkcode TopologyOptions.delayMs} reaches the bridge
 * through a delay wire instead: its veth ends in a third namespace "…-wire",
 * where a small program (`delay_wire.ts`, raw `AF_PACKET` sockets) copies every
 * frame to a second veth into the bridge after the given one-way delay, both
 * ways (the kernel's netem is not available). Checksum offload is then off on
 * every veth of the topology (`ethtool`), so captured frames carry complete
 * checksums.
 *
 * ```
 *  host ns "…-edge" veth ─ [ns "…-wire": veth ⇄ delay_wire.ts ⇄ veth] ─ bridge
 * ```
 *
 * Every host namespace has `lo` up, its veth up with its address, and a
 * `224.0.0.0/4 dev <veth>` route so multicast goes onto the segment. There is
 * no default route and no link to the root namespace: nothing a test sends can
 * leave the machine. Veths are created directly inside their namespaces, so no
 * interface ever appears in the root namespace.
 *
 * Requires root (`ip netns`), `ip` (iproute2) and, for {@linkcode Topology.dropUdp},
 * `nft`. Use {@linkcode hasNetns} to skip tests where that is not available.
 *
 * ```ts
 * await using topo = await createTopology({ hosts: ["tx", "rx"] });
 * const rx = topo.spawnDeno("rx", "testkit/udp_probe.ts", ["recv", ...]);
 * ```
 *
 * @module
 */

/** The /24 every topology uses (each topology is its own isolated segment). */
export const TOPOLOGY_SUBNET = "198.18.0.0/24";

/** Name of the nftables table {@linkcode Topology.dropUdp} manages in a host. */
export const DROP_TABLE = "flvcast_drop";

const MAX_HOSTS = 253;
/**
 * Interface indexes: the two ends of a veth must differ, or the kernel's link
 * watcher treats carrier changes as non-urgent and rate-limits them to one a
 * second machine-wide (links then stay down for up to ~1 s after creation).
 */
const HOST_IFINDEX = 2;
const BRIDGE_PORT_IFINDEX = 1000;
const WIRE_HOST_SIDE_IFINDEX = 2000;
const WIRE_BRIDGE_SIDE_IFINDEX = 3000;
const DELAY_WIRE = new URL("./delay_wire.ts", import.meta.url).pathname;
/** Key of the internal method {@linkcode createTopology} starts the wires with. */
const START_WIRES = Symbol("startWires");
const HOST_NAME_RE = /^[A-Za-z0-9_]{1,24}$/;
const PREFIX_RE = /^[a-z][a-z0-9]{0,4}$/;
/** Our namespace names: `<prefix><6 hex>-<creator pid>-<host | "br">`. */
const NS_NAME_RE = /^([a-z][a-z0-9]{0,4}?)([0-9a-f]{6})-(\d+)-([A-Za-z0-9_]+)$/;

/** Options for {@linkcode createTopology}. */
export interface TopologyOptions {
  /** Logical host names (letters, digits, `_`; 1–24 chars), one namespace each. */
  hosts: string[];
  /**
   * Short tag that starts every namespace and interface name (lowercase letter
   * then up to 4 lowercase letters/digits; default `"fc"`). A random 6-hex
   * suffix is appended so parallel topologies never collide.
   */
  prefix?: string;
  /**
   * One-way delay in ms (0..10,000) per host name: that host's link to the
   * bridge goes through a delay wire adding it in each direction, so the round
   * trip between two hosts is twice the sum of their delays. Needs `ethtool`.
   */
  delayMs?: Record<string, number>;
}

/** One host of a topology. */
export interface HostInfo {
  /** The logical name given to {@linkcode createTopology}. */
  readonly name: string;
  /** Its network namespace (for `ip netns exec`). */
  readonly netns: string;
  /** Its IPv4 address, e.g. `198.18.0.2`. */
  readonly address: string;
  /** Its address with prefix length, e.g. `198.18.0.2/24`. */
  readonly cidr: string;
  /** Name of its veth interface (inside its namespace). */
  readonly iface: string;
  /** One-way delay of its delay wire in ms (0 when it has none). */
  readonly delayMs: number;
}

/** Where a spawned process's stdout/stderr goes. */
export type OutputMode =
  | "piped"
  | "raw"
  | "inherit"
  | "null"
  | { file: string };

/** Options for {@linkcode Topology.spawn}. */
export interface SpawnOptions {
  /**
   * `"piped"` (default): the harness reads it in the background — stdout as
   * lines for {@linkcode NetnsProcess.nextLine}, stderr into a bounded tail for
   * {@linkcode NetnsProcess.stderrText}; the child never blocks on a full pipe.
   * `"raw"`: left to the caller as `child.stdout` / `child.stderr` (the caller
   * must read or cancel it). `{ file }`: redirected to that file (truncated).
   */
  stdout?: OutputMode;
  /** Same choices as `stdout`; default `"piped"`. */
  stderr?: OutputMode;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Most unread stdout lines kept (oldest dropped beyond); default 10,000. */
  maxLines?: number;
}

/** Options for {@linkcode Topology.exec}. */
export interface ExecOptions {
  /** Text written to the command's stdin. */
  stdin?: string;
  /** Throw when the exit code is not 0 (default `true`). */
  check?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the command (SIGKILL) and throw after this many ms (default 30,000). */
  timeoutMs?: number;
}

/** Result of {@linkcode Topology.exec}. */
export interface ExecResult {
  /** Exit code. */
  code: number;
  /** Decoded stdout. */
  stdout: string;
  /** Decoded stderr. */
  stderr: string;
}

/** Options for {@linkcode Topology.destroy}. */
export interface DestroyOptions {
  /** Time between SIGTERM and SIGKILL for running processes; default 1,000 ms. */
  graceMs?: number;
}

/**
 * A process running inside a host namespace, started by
 * {@linkcode Topology.spawn}. The topology kills it on destroy.
 */
export class NetnsProcess {
  #child: Deno.ChildProcess;
  #host: string;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;
  #lines: string[] = [];
  #lineHead = 0;
  #droppedLines = 0;
  #maxLines: number;
  #stdoutEnded = false;
  #waiters: (() => void)[] = [];
  #stderrTail = "";
  #pumps: Promise<void>[] = [];
  #rawStreams: ReadableStream<Uint8Array>[] = [];
  #readers: ReadableStreamDefaultReader<Uint8Array>[] = [];

  /** @internal Use {@linkcode Topology.spawn}. */
  constructor(
    child: Deno.ChildProcess,
    host: string,
    modes: { stdout: OutputMode; stderr: OutputMode; maxLines: number },
  ) {
    this.#child = child;
    this.#host = host;
    this.#maxLines = modes.maxLines;
    this.#status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    if (modes.stdout === "piped") {
      this.#pumps.push(this.#pumpLines(child.stdout));
    } else {
      this.#stdoutEnded = true;
      if (modes.stdout === "raw") this.#rawStreams.push(child.stdout);
    }
    if (modes.stderr === "piped") {
      this.#pumps.push(this.#pumpTail(child.stderr));
    } else if (modes.stderr === "raw") {
      this.#rawStreams.push(child.stderr);
    }
  }

  /** The underlying child process (its `stdout`/`stderr` only in `"raw"` mode). */
  get child(): Deno.ChildProcess {
    return this.#child;
  }

  /** Process id (the command itself: `ip netns exec` execs it without forking). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Logical host it runs on. */
  get host(): string {
    return this.#host;
  }

  /** Resolves when the process exits. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Sends a signal (default SIGTERM) unless the process has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch (err) {
      // Exited between the check and the kill.
      if (!(err instanceof TypeError)) throw err;
    }
  }

  /** The last ≤ 64 KiB of stderr (stderr mode `"piped"`). */
  stderrText(): string {
    return this.#stderrTail;
  }

  /**
   * Next unread stdout line (stdout mode `"piped"`), or `null` at end of output.
   *
   * @throws {Error} after `timeoutMs` (default 30,000), with the stderr tail.
   */
  async nextLine(timeoutMs = 30_000): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (this.#lineHead >= this.#lines.length && !this.#stdoutEnded) {
        await new Promise<void>((resolve, reject) => {
          this.#waiters.push(resolve);
          timer ??= setTimeout(() => {
            reject(
              new Error(
                `expected a stdout line from pid ${this.pid} on host "${this.#host}" within ${timeoutMs} ms, received none; stderr: ${
                  JSON.stringify(this.#stderrTail.slice(-2000))
                }`,
              ),
            );
          }, timeoutMs);
        });
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.#lineHead >= this.#lines.length) return null;
    const line = this.#lines[this.#lineHead++];
    if (this.#lineHead > 1024 && this.#lineHead * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#lineHead);
      this.#lineHead = 0;
    }
    return line;
  }

  /**
   * Next stdout line parsed as JSON; skips lines that are not JSON objects
   * (e.g. log noise).
   *
   * @throws {Error} when output ends first or after `timeoutMs` (default 30,000).
   */
  async nextJson<T = Record<string, unknown>>(timeoutMs = 30_000): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const left = Math.max(1, deadline - performance.now());
      const line = await this.nextLine(left);
      if (line === null) {
        const status = this.#exited ? await this.#status : undefined;
        throw new Error(
          `expected a JSON line from pid ${this.pid} on host "${this.#host}", received end of output (exit code ${status?.code}); stderr: ${
            JSON.stringify(this.#stderrTail.slice(-2000))
          }`,
        );
      }
      const trimmed = line.trim();
      if (!trimmed.startsWith("{")) continue;
      try {
        return JSON.parse(trimmed) as T;
      } catch {
        continue;
      }
    }
  }

  /** Stdout lines dropped because more than `maxLines` were unread. */
  get droppedLines(): number {
    return this.#droppedLines;
  }

  /**
   * @internal Waits (at most `timeoutMs`) for the output pumps to reach end of
   * output, cancels them after that (a process outside our namespaces may
   * still hold the pipe), and releases unread raw streams.
   */
  async settle(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pumps = Promise.allSettled(this.#pumps);
    await Promise.race([
      pumps,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const r of this.#readers) r.cancel().catch(() => {});
          resolve();
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await pumps;
    for (const s of this.#rawStreams) {
      if (!s.locked) await s.cancel().catch(() => {});
    }
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #pumpLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    const push = (line: string) => {
      this.#lines.push(line);
      if (this.#lines.length - this.#lineHead > this.#maxLines) {
        this.#lineHead++;
        this.#droppedLines++;
      }
    };
    const reader = stream.getReader();
    this.#readers.push(reader);
    try {
      while (true) {
        const { value: chunk, done } = await reader.read();
        if (done) break;
        partial += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = partial.indexOf("\n")) >= 0) {
          push(partial.slice(0, nl));
          partial = partial.slice(nl + 1);
        }
        if (partial.length > 1 << 20) {
          push(partial);
          partial = "";
        }
        this.#wake();
      }
      partial += decoder.decode();
      if (partial.length > 0) push(partial);
    } catch {
      // Stream errors end the output like EOF.
    } finally {
      this.#stdoutEnded = true;
      this.#wake();
    }
  }

  async #pumpTail(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    this.#readers.push(reader);
    try {
      while (true) {
        const { value: chunk, done } = await reader.read();
        if (done) break;
        this.#stderrTail += decoder.decode(chunk, { stream: true });
        if (this.#stderrTail.length > 65536) {
          this.#stderrTail = this.#stderrTail.slice(-65536);
        }
      }
    } catch {
      // Ignore: the tail is diagnostic only.
    }
  }
}

/**
 * A built topology: namespaces, veths and a bridge, plus every process the
 * test started in it. Call {@linkcode Topology.destroy} (or use `await using`)
 * to remove it all.
 */
export class Topology implements AsyncDisposable {
  #tag: string;
  #hosts: Map<string, HostInfo>;
  #bridgeNetns: string;
  #wireNetns: string | undefined;
  #wired: ReadonlySet<string>;
  #wires: NetnsProcess[] = [];
  #processes = new Set<NetnsProcess>();
  #destroying: Promise<void> | undefined;

  /** @internal Use {@linkcode createTopology}. */
  constructor(
    tag: string,
    hosts: Map<string, HostInfo>,
    bridgeNetns: string,
    wireNetns?: string,
    wired: ReadonlySet<string> = new Set(),
  ) {
    this.#tag = tag;
    this.#hosts = hosts;
    this.#bridgeNetns = bridgeNetns;
    this.#wireNetns = wireNetns;
    this.#wired = wired;
  }

  /** The random tag shared by this topology's names (prefix + 6 hex). */
  get tag(): string {
    return this.#tag;
  }

  /** Hosts by logical name. */
  get hosts(): ReadonlyMap<string, HostInfo> {
    return this.#hosts;
  }

  /** Namespace holding the bridge. */
  get bridgeNetns(): string {
    return this.#bridgeNetns;
  }

  /** Name of the bridge device (inside {@linkcode Topology.bridgeNetns}). */
  get bridge(): string {
    return "br0";
  }

  /** Namespace holding the delay wires (`undefined` without any). */
  get wireNetns(): string | undefined {
    return this.#wireNetns;
  }

  /** All namespaces of this topology (hosts, the bridge, then the wires). */
  get namespaces(): string[] {
    return [
      ...[...this.#hosts.values()].map((h) => h.netns),
      this.#bridgeNetns,
      ...(this.#wireNetns === undefined ? [] : [this.#wireNetns]),
    ];
  }

  /** True once {@linkcode Topology.destroy} has been called. */
  get destroyed(): boolean {
    return this.#destroying !== undefined;
  }

  /**
   * The host named `name`.
   *
   * @throws {Error} for an unknown name.
   */
  host(name: string): HostInfo {
    const h = this.#hosts.get(name);
    if (h === undefined) {
      throw new Error(
        `expected a host of this topology (${
          [...this.#hosts.keys()].join(", ")
        }), received "${name}"`,
      );
    }
    return h;
  }

  /** IPv4 address of host `name` (e.g. `198.18.0.2`). */
  address(name: string): string {
    return this.host(name).address;
  }

  /**
   * Drops about `permille`/1000 of the UDP datagrams arriving for `port` on
   * host `name` (nftables `numgen random` on the input hook, with a counter).
   * Rules add up when called several times; {@linkcode Topology.clearDrops}
   * removes them.
   *
   * @throws {RangeError} for a port outside 1..65535 or permille outside 0..1000.
   */
  async dropUdp(name: string, port: number, permille: number): Promise<void> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(
        `port: expected an integer in 1..65535, received ${port}`,
      );
    }
    await this.#addDrop(name, `udp dport ${port}`, permille);
  }

  /**
   * Drops about `permille`/1000 of EVERY UDP datagram arriving at host `name`
   * from its network (media, RTCP and QUIC alike; not loopback), like a lossy
   * path into that host. Shares
   * the table, counter and removal of {@linkcode Topology.dropUdp}.
   *
   * @throws {RangeError} for permille outside 0..1000.
   */
  async dropAllUdp(name: string, permille: number): Promise<void> {
    await this.#addDrop(name, 'iifname != "lo" meta l4proto udp', permille);
  }

  async #addDrop(name: string, match: string, permille: number) {
    this.#checkUsable();
    const h = this.host(name);
    if (!Number.isInteger(permille) || permille < 0 || permille > 1000) {
      throw new RangeError(
        `permille: expected an integer in 0..1000, received ${permille}`,
      );
    }
    const script = [
      `add table inet ${DROP_TABLE}`,
      `add chain inet ${DROP_TABLE} input { type filter hook input priority 0; policy accept; }`,
      // nftables: `numgen random mod 1000 < 1000` is out of range; 1000 ‰ is
      // every datagram.
      `add rule inet ${DROP_TABLE} input ${match}${
        permille >= 1000 ? "" : ` numgen random mod 1000 < ${permille}`
      } counter drop`,
      "",
    ].join("\n");
    await run("ip", ["netns", "exec", h.netns, "nft", "-f", "-"], {
      stdin: script,
    });
  }

  /** Removes every drop rule {@linkcode Topology.dropUdp} added on host `name`. */
  async clearDrops(name: string): Promise<void> {
    this.#checkUsable();
    const h = this.host(name);
    await run("ip", ["netns", "exec", h.netns, "nft", "-f", "-"], {
      stdin: `add table inet ${DROP_TABLE}\ndelete table inet ${DROP_TABLE}\n`,
    });
  }

  /** Datagrams dropped so far by the {@linkcode Topology.dropUdp} rules on host `name`. */
  async droppedPackets(name: string): Promise<number> {
    this.#checkUsable();
    const h = this.host(name);
    const { stdout } = await run("ip", [
      "netns",
      "exec",
      h.netns,
      "nft",
      "-j",
      "list",
      "ruleset",
    ]);
    let total = 0;
    const doc = JSON.parse(stdout) as { nftables?: Record<string, unknown>[] };
    for (const item of doc.nftables ?? []) {
      const rule = item.rule as
        | { table?: string; expr?: Record<string, unknown>[] }
        | undefined;
      if (rule?.table !== DROP_TABLE) continue;
      for (const e of rule.expr ?? []) {
        const c = e.counter as { packets?: number } | undefined;
        if (c?.packets !== undefined) total += c.packets;
      }
    }
    return total;
  }

  /**
   * Starts `cmd args…` inside host `name`'s namespace (`ip netns exec`, which
   * execs the command, so `pid` is the command's own). The topology tracks it
   * and kills it on destroy.
   */
  spawn(
    name: string,
    cmd: string,
    args: string[] = [],
    opts: SpawnOptions = {},
  ): NetnsProcess {
    this.#checkUsable();
    return this.#spawnIn(this.host(name).netns, name, cmd, args, opts);
  }

  /** @internal Starts a tracked process in namespace `netns`. */
  #spawnIn(
    netns: string,
    label: string,
    cmd: string,
    args: string[],
    opts: SpawnOptions,
  ): NetnsProcess {
    const stdout = opts.stdout ?? "piped";
    const stderr = opts.stderr ?? "piped";
    const argv = ["netns", "exec", netns];
    if (typeof stdout === "object" || typeof stderr === "object") {
      // sh opens the files, then execs the command (same pid).
      argv.push(
        "/bin/sh",
        "-c",
        'o=$1; e=$2; shift 2; if [ -n "$o" ]; then exec >"$o"; fi; ' +
          'if [ -n "$e" ]; then exec 2>"$e"; fi; exec "$@"',
        "sh",
        typeof stdout === "object" ? stdout.file : "",
        typeof stderr === "object" ? stderr.file : "",
      );
    }
    argv.push(cmd, ...args);
    const stdio = (m: OutputMode): "piped" | "inherit" | "null" =>
      m === "piped" || m === "raw"
        ? "piped"
        : m === "inherit"
        ? "inherit"
        : "null";
    const child = new Deno.Command("ip", {
      args: argv,
      stdin: "null",
      stdout: stdio(stdout),
      stderr: stdio(stderr),
      env: opts.env,
      cwd: opts.cwd,
    }).spawn();
    const proc = new NetnsProcess(child, label, {
      stdout,
      stderr,
      maxLines: opts.maxLines ?? 10_000,
    });
    this.#processes.add(proc);
    return proc;
  }

  /**
   * Runs a Deno script inside host `name`:
   * `deno run -A --unstable-net <script> <args…>` with this Deno's executable.
   */
  spawnDeno(
    name: string,
    script: string,
    args: string[] = [],
    opts: SpawnOptions = {},
  ): NetnsProcess {
    return this.spawn(
      name,
      Deno.execPath(),
      ["run", "-A", "--unstable-net", script, ...args],
      opts,
    );
  }

  /**
   * Runs `cmd args…` to completion inside host `name` and returns its output.
   *
   * @throws {Error} on a non-zero exit (unless `check: false`) or timeout.
   */
  async exec(
    name: string,
    cmd: string,
    args: string[] = [],
    opts: ExecOptions = {},
  ): Promise<ExecResult> {
    this.#checkUsable();
    const h = this.host(name);
    return await run("ip", ["netns", "exec", h.netns, cmd, ...args], opts);
  }

  /**
   * Kills every process started with {@linkcode Topology.spawn} (SIGTERM, then
   * SIGKILL after `graceMs`), kills anything else still running in the
   * namespaces (by PID), deletes the veths and the namespaces. Idempotent:
   * later calls return the first call's promise.
   *
   * @throws {AggregateError} when something could not be removed (after trying everything).
   */
  destroy(opts: DestroyOptions = {}): Promise<void> {
    this.#destroying ??= this.#teardown(opts.graceMs ?? 1_000);
    return this.#destroying;
  }

  /**
   * @internal Turns checksum and segmentation offload off on every veth (a
   * frame the wire captures must carry its final checksum and fit the MTU)
   * and starts one delay wire per delayed host, waiting until each is ready.
   */
  async [START_WIRES](): Promise<void> {
    const wireNs = this.#wireNetns!;
    const offload = ["tx", "off", "rx", "off", "tso", "off", "gso", "off"];
    const ethtool = (ns: string, dev: string) =>
      run("ip", ["netns", "exec", ns, "ethtool", "-K", dev, ...offload]);
    const hosts = [...this.#hosts.values()];
    await Promise.all(hosts.map((h, i) =>
      Promise.all([
        ethtool(h.netns, h.iface),
        ethtool(this.#bridgeNetns, `${this.#tag}b${i}`),
        ...(this.#wired.has(h.name)
          ? [
            ethtool(wireNs, `${this.#tag}w${i}`),
            ethtool(wireNs, `${this.#tag}v${i}`),
          ]
          : []),
      ])
    ));
    const procs = hosts.flatMap((h, i) =>
      this.#wired.has(h.name)
        // The wire stands for a network, not for a process under test: it
        // runs at a higher priority (we are root), so a loaded machine
        // (CI runs test files in parallel) delays the products, not the
        // path between them.
        ? [this.#spawnIn(wireNs, `wire:${h.name}`, "nice", [
          "-n",
          "-10",
          Deno.execPath(),
          "run",
          "-A",
          DELAY_WIRE,
          "--a",
          `${this.#tag}w${i}`,
          "--b",
          `${this.#tag}v${i}`,
          "--delay-ms",
          String(h.delayMs),
        ], {})]
        : []
    );
    for (const p of procs) {
      const ready = await p.nextJson<{ event: string }>();
      if (ready.event !== "ready") {
        throw new Error(
          `expected the delay wire of ${p.host} to print ready, received ${
            JSON.stringify(ready)
          }`,
        );
      }
    }
    this.#wires = procs;
  }

  /** The delay wire processes (one per delayed host; see {@linkcode TopologyOptions.delayMs}). */
  get wires(): readonly NetnsProcess[] {
    return this.#wires;
  }

  /** Same as {@linkcode Topology.destroy}; enables `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  #checkUsable() {
    if (this.#destroying !== undefined) {
      throw new Error(
        `expected a live topology, received one already destroyed (${this.#tag})`,
      );
    }
  }

  async #teardown(graceMs: number): Promise<void> {
    const errors: unknown[] = [];
    // 1. Our own processes: SIGTERM, grace, SIGKILL.
    const procs = [...this.#processes];
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map(async (p) => {
      if (p.exited) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          p.kill("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([p.status, killed]);
      clearTimeout(timer);
      await p.status;
    }));
    // 2. Stragglers (e.g. grandchildren) still inside our namespaces; they may
    //    hold our processes' output pipes open.
    errors.push(...await killNamespacePids(this.namespaces));
    await Promise.all(procs.map((p) => p.settle(graceMs + 1_000)));
    // 3. Veths (deleting one end removes the pair), then namespaces.
    const existing = new Set(await listNetns());
    const batch: string[] = [];
    await Promise.all(
      [...this.#hosts.values()].filter((h) => existing.has(h.netns)).map((h) =>
        run("ip", ["-n", h.netns, "link", "del", h.iface], { check: false })
      ),
    );
    for (const ns of this.namespaces) {
      if (existing.has(ns)) batch.push(`netns del ${ns}`);
    }
    if (batch.length > 0) {
      const r = await run("ip", ["-force", "-batch", "-"], {
        stdin: batch.join("\n") + "\n",
        check: false,
      });
      if (r.code !== 0) {
        errors.push(new Error(`ip netns del failed: ${r.stderr.trim()}`));
      }
    }
    const left = (await listNetns()).filter((ns) =>
      this.namespaces.includes(ns)
    );
    if (left.length > 0) {
      errors.push(
        new Error(
          `expected no namespaces of ${this.#tag} left, received ${
            left.join(", ")
          }`,
        ),
      );
    }
    if (errors.length > 0) {
      throw new AggregateError(
        errors,
        `destroying topology ${this.#tag} failed`,
      );
    }
  }
}

/**
 * Builds a topology: one namespace per host plus one for the bridge
 * (`mcast_snooping 0`), a veth per host into the bridge, addresses
 * `198.18.0.1`, `.2`, … in host order, `lo` up everywhere and a
 * `224.0.0.0/4` route on each host's veth. No default route.
 *
 * If building fails midway, whatever was created is removed before the error
 * is rethrown.
 *
 * @throws {RangeError} for bad host names or prefix.
 */
export async function createTopology(opts: TopologyOptions): Promise<Topology> {
  const prefix = opts.prefix ?? "fc";
  if (!PREFIX_RE.test(prefix)) {
    throw new RangeError(
      `prefix: expected a lowercase letter then up to 4 lowercase letters/digits, received "${prefix}"`,
    );
  }
  if (opts.hosts.length < 1 || opts.hosts.length > MAX_HOSTS) {
    throw new RangeError(
      `hosts: expected 1..${MAX_HOSTS} names, received ${opts.hosts.length}`,
    );
  }
  const seen = new Set<string>();
  for (const name of opts.hosts) {
    if (!HOST_NAME_RE.test(name) || name === "br") {
      throw new RangeError(
        `hosts: expected names of 1-24 letters, digits or "_" (not "br"), received "${name}"`,
      );
    }
    if (seen.has(name)) throw new RangeError(`hosts: duplicate name "${name}"`);
    seen.add(name);
  }
  const delays = opts.delayMs ?? {};
  for (const [name, ms] of Object.entries(delays)) {
    if (!seen.has(name)) {
      throw new RangeError(
        `delayMs: expected names of hosts (${
          opts.hosts.join(", ")
        }), received "${name}"`,
      );
    }
    if (!(ms >= 0 && ms <= 10_000)) {
      throw new RangeError(
        `delayMs.${name}: expected a number of ms in 0..10000, received ${ms}`,
      );
    }
  }
  const wired = Object.keys(delays).length > 0;

  const tag = prefix + randomHex(6);
  const nsName = (suffix: string) => `${tag}-${Deno.pid}-${suffix}`;
  const bridgeNetns = nsName("br");
  const hosts = new Map<string, HostInfo>();
  opts.hosts.forEach((name, i) => {
    const address = `198.18.0.${i + 1}`;
    hosts.set(name, {
      name,
      netns: nsName(name),
      address,
      cidr: `${address}/24`,
      iface: `${tag}h${i}`, // ≤ 5 + 6 + 1 + 3 = 15 chars
      delayMs: delays[name] ?? 0,
    });
  });
  if (wired && seen.has("wire")) {
    throw new RangeError(`hosts: "wire" is reserved when delayMs is given`);
  }
  const wireNetns = wired ? nsName("wire") : undefined;
  const topo = new Topology(
    tag,
    hosts,
    bridgeNetns,
    wireNetns,
    new Set(Object.keys(delays)),
  );

  try {
    // Root-level batch: namespaces and veth pairs created directly inside them.
    const root: string[] = [`netns add ${bridgeNetns}`];
    for (const h of hosts.values()) root.push(`netns add ${h.netns}`);
    if (wireNetns !== undefined) root.push(`netns add ${wireNetns}`);
    const wireCmds = ["link set lo up"];
    [...hosts.values()].forEach((h, i) => {
      const bridgeEnd = `peer name ${tag}b${i} netns ${bridgeNetns} index ${
        BRIDGE_PORT_IFINDEX + i
      }`;
      if (wireNetns === undefined || !(h.name in delays)) {
        root.push(
          `link add ${h.iface} netns ${h.netns} index ${HOST_IFINDEX} type veth ${bridgeEnd}`,
        );
        return;
      }
      // host ⇄ w<i> (wire ns) … v<i> (wire ns) ⇄ b<i> (bridge port)
      root.push(
        `link add ${h.iface} netns ${h.netns} index ${HOST_IFINDEX} type veth ` +
          `peer name ${tag}w${i} netns ${wireNetns} index ${
            WIRE_HOST_SIDE_IFINDEX + i
          }`,
        `link add ${tag}v${i} netns ${wireNetns} index ${
          WIRE_BRIDGE_SIDE_IFINDEX + i
        } type veth ${bridgeEnd}`,
      );
      for (const side of ["w", "v"]) {
        wireCmds.push(
          `link set ${tag}${side}${i} promisc on`,
          `link set ${tag}${side}${i} up`,
        );
      }
    });
    await run("ip", ["-batch", "-"], { stdin: root.join("\n") + "\n" });

    const bridgeCmds = [
      "link set lo up",
      "link add br0 type bridge mcast_snooping 0",
      "link set br0 up",
    ];
    for (let i = 0; i < hosts.size; i++) {
      bridgeCmds.push(
        `link set ${tag}b${i} master br0`,
        `link set ${tag}b${i} up`,
      );
    }
    await Promise.all([
      run("ip", ["-n", bridgeNetns, "-batch", "-"], {
        stdin: bridgeCmds.join("\n") + "\n",
      }),
      ...[...hosts.values()].map((h) =>
        run("ip", ["-n", h.netns, "-batch", "-"], {
          stdin: [
            "link set lo up",
            `addr add ${h.cidr} dev ${h.iface}`,
            `link set ${h.iface} up`,
            `route add 224.0.0.0/4 dev ${h.iface}`,
            "",
          ].join("\n"),
        })
      ),
      ...(wireNetns === undefined ? [] : [
        run("ip", ["-n", wireNetns, "-batch", "-"], {
          stdin: wireCmds.join("\n") + "\n",
        }),
      ]),
    ]);
    if (wireNetns !== undefined) await topo[START_WIRES]();
    await waitLinksReady(topo, 10_000);
  } catch (err) {
    await topo.destroy({ graceMs: 0 }).catch(() => {});
    throw err;
  }
  return topo;
}

/**
 * Waits until every host veth is operationally up and every bridge port is
 * up and forwarding. Until the kernel's link watcher has run for a device its
 * qdisc drops everything, so traffic sent too early silently vanishes.
 */
async function waitLinksReady(
  topo: Topology,
  timeoutMs: number,
): Promise<void> {
  type Link = {
    ifname: string;
    operstate: string;
    linkinfo?: {
      info_slave_kind?: string;
      info_slave_data?: { state?: string };
    };
  };
  const links = async (ns: string) =>
    JSON.parse(
      (await run("ip", ["-n", ns, "-d", "-j", "link", "show"])).stdout,
    ) as Link[];
  const deadline = performance.now() + timeoutMs;
  let last = "";
  while (true) {
    const [bridgeLinks, ...hostLinks] = await Promise.all([
      links(topo.bridgeNetns),
      ...[...topo.hosts.values()].map((h) => links(h.netns)),
    ]);
    const notReady: string[] = [];
    const ports = bridgeLinks.filter((l) =>
      l.linkinfo?.info_slave_kind === "bridge"
    );
    if (ports.length !== topo.hosts.size) {
      notReady.push(`bridge has ${ports.length} of ${topo.hosts.size} ports`);
    }
    for (const p of ports) {
      const state = p.linkinfo?.info_slave_data?.state;
      if (p.operstate !== "UP" || state !== "forwarding") {
        notReady.push(`${p.ifname} ${p.operstate}/${state}`);
      }
    }
    [...topo.hosts.values()].forEach((h, i) => {
      const l = hostLinks[i].find((x) => x.ifname === h.iface);
      if (l?.operstate !== "UP") notReady.push(`${h.iface} ${l?.operstate}`);
    });
    if (notReady.length === 0) return;
    last = notReady.join(", ");
    if (performance.now() > deadline) {
      throw new Error(
        `expected all links of ${topo.tag} up and forwarding within ${timeoutMs} ms, received: ${last}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Whether this process may create network namespaces (Linux, root, `ip`
 * present): tries to add and delete a throwaway namespace.
 */
export async function hasNetns(): Promise<boolean> {
  return (await netnsUnavailableReason()) === undefined;
}

/**
 * `undefined` when network namespaces can be used, otherwise a one-line reason
 * (for skip messages).
 */
export async function netnsUnavailableReason(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") {
    return `network namespaces need Linux, this is ${Deno.build.os}`;
  }
  const name = `fcprobe${randomHex(6)}-${Deno.pid}-x`;
  try {
    const add = await run("ip", ["netns", "add", name], { check: false });
    if (add.code !== 0) {
      return `"ip netns add" is not permitted: ${add.stderr.trim()}`;
    }
    await run("ip", ["netns", "del", name], { check: false });
    return undefined;
  } catch (err) {
    return `cannot run "ip": ${(err as Error).message}`;
  }
}

/** Names of all network namespaces (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await run("ip", ["netns", "list"]);
  return stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) =>
    n
  );
}

/**
 * Removes namespaces left by earlier runs that died without destroying their
 * topologies: only names of this harness's shape whose creator PID no longer
 * runs. Returns the names removed.
 */
export async function sweepStaleTopologies(): Promise<string[]> {
  const stale: string[] = [];
  for (const ns of await listNetns()) {
    const m = NS_NAME_RE.exec(ns);
    if (m === null) continue;
    const pid = Number(m[3]);
    if (pid === Deno.pid) continue;
    try {
      await Deno.stat(`/proc/${pid}`);
    } catch {
      stale.push(ns);
    }
  }
  if (stale.length === 0) return stale;
  await killNamespacePids(stale);
  await run("ip", ["-force", "-batch", "-"], {
    stdin: stale.map((ns) => `netns del ${ns}`).join("\n") + "\n",
    check: false,
  });
  return stale;
}

/** SIGKILLs every process inside the given namespaces; returns errors. */
async function killNamespacePids(namespaces: string[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  const existing = new Set(await listNetns());
  for (const ns of namespaces) {
    if (!existing.has(ns)) continue;
    const r = await run("ip", ["netns", "pids", ns], { check: false });
    const pids = r.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(
      Number,
    );
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) errors.push(err);
      }
    }
    // Wait (bounded) until the kernel has reaped them.
    for (let i = 0; i < 100 && pids.length > 0; i++) {
      const again = await run("ip", ["netns", "pids", ns], { check: false });
      if (again.stdout.trim() === "") break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return errors;
}

/** Runs a command to completion, optionally feeding stdin. */
async function run(
  cmd: string,
  args: string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(opts.stdin));
    } finally {
      await w.close().catch(() => {});
    }
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, timeoutMs);
  let out: Deno.CommandOutput;
  try {
    out = await child.output();
  } finally {
    clearTimeout(timer);
  }
  const dec = new TextDecoder();
  const result = {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  const line = `${cmd} ${args.join(" ")}`;
  if (timedOut) {
    throw new Error(
      `expected "${line}" to finish within ${timeoutMs} ms, it did not`,
    );
  }
  if (result.code !== 0 && opts.check !== false) {
    throw new Error(
      `expected "${line}" to exit 0, received ${result.code}: ${result.stderr.trim()}`,
    );
  }
  return result;
}

function randomHex(chars: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(chars / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
    .slice(
      0,
      chars,
    );
}
