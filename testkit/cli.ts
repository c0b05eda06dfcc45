/**
 * Shared command-line plumbing for the small helper programs in
 * `tests/support/` and `testkit/` (`flv_reader.ts`, `rtp_dump.ts`,
 * `delay_wire.ts`): `--flag value` pair
 * parsing and the run wrapper (exit codes, JSON-lines output, SIGTERM).
 *
 * @module
 */

/** Flags parsed from `--flag value` pairs; each is taken at most once. */
export interface FlagPairs {
  /** Removes and returns the value of `--name` (undefined when absent). */
  take(name: string): string | undefined;
  /**
   * Throws when flags were given that nobody took.
   *
   * @throws {TypeError} naming the unknown flag(s).
   */
  rejectUnknown(): void;
}

/**
 * Parses `args` as `--flag value` pairs.
 *
 * @example Usage
 * ```ts ignore
 * const flags = parseFlagPairs(["--out", "x.bin"]);
 * const out = flags.take("out");
 * flags.rejectUnknown();
 * ```
 *
 * @throws {TypeError} when an argument is not a `--flag` followed by a value.
 */
export function parseFlagPairs(args: string[]): FlagPairs {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i];
    const value = args[i + 1];
    if (!key.startsWith("--") || value === undefined) {
      throw new TypeError(
        `expected "--flag value" pairs, received ${
          JSON.stringify(args.slice(i))
        }`,
      );
    }
    flags.set(key.slice(2), value);
  }
  return {
    take(name) {
      const v = flags.get(name);
      flags.delete(name);
      return v;
    },
    rejectUnknown() {
      if (flags.size > 0) {
        throw new TypeError(
          `unknown flag(s): ${
            [...flags.keys()].map((k) => "--" + k).join(", ")
          }`,
        );
      }
    },
  };
}

/** What a program's body gets from {@linkcode runProgram}. */
export interface ProgramContext {
  /** Writes `obj` as one JSON line to stdout. */
  print(obj: unknown): void;
  /** Aborted on SIGTERM. */
  signal: AbortSignal;
}

/** How {@linkcode runProgram} runs a helper program. */
export interface ProgramSpec<T> {
  /** Prefix of error messages on stderr (the program's name). */
  name: string;
  /** Parses the arguments; a throw is a usage error (exit code 2). */
  parse: (args: string[]) => T;
  /** Does the work; resolves with the exit code. */
  body: (opts: T, ctx: ProgramContext) => Promise<number>;
  /** How an error thrown by `body` is shown; default its message. */
  describeError?: (err: unknown) => string;
}

/**
 * Runs a helper program: parses `args`, runs the body with a JSON-lines
 * printer and an abort signal tied to SIGTERM.
 *
 * @example Usage
 * ```ts ignore
 * Deno.exit(await runProgram(Deno.args, { name: "x", parse, body }));
 * ```
 *
 * @returns the exit code: 2 on bad arguments, 1 when the body throws, else
 * what the body resolved with.
 */
export async function runProgram<T>(
  args: string[],
  spec: ProgramSpec<T>,
): Promise<number> {
  const describe = spec.describeError ?? ((err) => (err as Error).message);
  let opts: T;
  try {
    opts = spec.parse(args);
  } catch (err) {
    console.error(`${spec.name}: ${(err as Error).message}`);
    return 2;
  }
  const print = (obj: unknown) => console.log(JSON.stringify(obj));
  const abort = new AbortController();
  const onTerm = () => abort.abort();
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    return await spec.body(opts, { print, signal: abort.signal });
  } catch (err) {
    console.error(`${spec.name}: ${describe(err)}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}
