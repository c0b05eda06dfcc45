/**
 * flvcast nodes inside the netns harness for end-to-end tests: `main.ts
 * cloud|edge` started in a host namespace with stderr merged into stdout, and
 * {@linkcode LineLog}, which collects a process's log lines so a test can
 * await one (`waitFor`); counters come from the API, not from these lines.
 *
 * @module
 */
import type { NetnsProcess, Topology } from "../../testkit/netns.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Collects a process's stdout lines and lets the test await one. */
export class LineLog {
  readonly lines: string[] = [];
  readonly name: string;
  readonly closed: Promise<void>;
  #waiters: {
    re: RegExp;
    from: number;
    resolve: (line: string) => void;
    reject: (err: Error) => void;
  }[] = [];
  #ended = false;

  constructor(name: string, proc: NetnsProcess) {
    this.name = name;
    this.closed = this.#pump(proc);
  }

  async #pump(proc: NetnsProcess): Promise<void> {
    try {
      while (true) {
        const line = await proc.nextLine(2_000_000_000);
        if (line === null) break;
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.re.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    } catch {
      // The process is gone; waiters are rejected below.
    } finally {
      this.#ended = true;
      for (const w of this.#waiters) {
        w.reject(
          new Error(
            `expected a line matching ${w.re} from ${this.name}, received end of output; last lines:\n${
              this.lines.slice(-15).join("\n")
            }`,
          ),
        );
      }
      this.#waiters = [];
    }
  }

  /** The first line (at index ≥ `from`) matching `re`, waiting up to `timeoutMs`. */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const hit = this.lines.slice(from).find((l) => re.test(l));
    if (hit !== undefined) return hit;
    if (this.#ended) {
      throw new Error(
        `expected a line matching ${re} from ${this.name}, received end of output; last lines:\n${
          this.lines.slice(-15).join("\n")
        }`,
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        this.#waiters.push({ re, from, resolve, reject });
        timer = setTimeout(() => {
          reject(
            new Error(
              `expected a line matching ${re} from ${this.name} within ${timeoutMs} ms; last lines:\n${
                this.lines.slice(-15).join("\n")
              }`,
            ),
          );
        }, timeoutMs);
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lines matching `re`. */
  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }
}

/** Starts `main.ts ROLE flags…` in `host` with stderr merged into stdout. */
export function startNode(
  topo: Topology,
  host: string,
  role: "cloud" | "edge",
  flags: string[],
): { proc: NetnsProcess; log: LineLog } {
  const proc = topo.spawn(host, "/bin/sh", [
    "-c",
    'exec "$@" 2>&1',
    "sh",
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    MAIN,
    role,
    ...flags,
  ]);
  return { proc, log: new LineLog(`${role}@${host}`, proc) };
}
