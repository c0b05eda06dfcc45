/**
 * flvcast run as operators run it: `main.ts` in a child process, its log
 * lines collected and awaited, signals sent to it.
 *
 * @module
 */
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * flvcast (`main.ts`) as a child process whose output lines are collected.
 *
 * @example Usage
 * ```ts ignore
 * const app = new Flvcast(["--enable_log_file=false"], dir);
 * await app.waitLine(/flvcast running/);
 * app.kill("SIGTERM");
 * await app.done;
 * ```
 */
export class Flvcast {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly done: Promise<Deno.CommandStatus>;
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  #pumps: Promise<void>[];

  /** Starts `main.ts` with `args` in `cwd`. */
  constructor(args: string[], cwd: string) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-net", MAIN, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pumps = [
      this.#pump(this.child.stdout),
      this.#pump(this.child.stderr),
    ];
    this.done = this.child.status.then(async (s) => {
      await Promise.all(this.#pumps);
      return s;
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#line(line);
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => {
      const m = line.match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  }

  /** Resolves with the first line (seen or to come) matching `re`. */
  waitLine(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m) return Promise.resolve(m);
    }
    const { promise, resolve, reject } = Promise.withResolvers<
      RegExpMatchArray
    >();
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `timed out waiting for ${re} in flvcast output:\n${
              this.lines.join("\n")
            }`,
          ),
        ),
      timeoutMs,
    );
    this.#waiters.push({
      re,
      resolve: (m) => {
        clearTimeout(timer);
        resolve(m);
      },
    });
    this.done.then(() => {
      clearTimeout(timer);
      reject(
        new Error(
          `flvcast exited before printing ${re}:\n${this.lines.join("\n")}`,
        ),
      );
    });
    return promise;
  }

  /** Sends `signal` (no error when the process is gone). */
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }
}
