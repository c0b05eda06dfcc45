/**
 * Loading the configuration: built-in defaults, then the YAML file, then
 * command-line flags (flag > file > default), every value validated.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import {
  allKeys,
  type Config,
  ConfigError,
  defaultConfig,
  keySpec,
  SECTIONS,
} from "./schema.ts";

/** Which role(s) the process runs. */
export type Role = "both" | "cloud" | "edge";

/** What the command line asked for. */
export interface CommandLine {
  /** `cloud`, `edge`, or both when no subcommand was given. */
  role: Role;
  /** The config file used (may not exist when it is the default path). */
  configPath: string;
  /** `--config` was given (either form): then the file must exist. */
  configGiven: boolean;
  /** `--help` was given. */
  help: boolean;
  /** `--version` was given. */
  version: boolean;
  /** The dotted keys given as flags, with their raw string values. */
  overrides: Record<string, string | string[]>;
}

const ALL_KEYS = allKeys();

const BOOL_KEYS = new Set(
  ALL_KEYS.filter((k) => typeof keySpec(k)!.default === "boolean"),
);

/**
 * Parses `flvcast [cloud|edge] [--config PATH] [--key=value …]`.
 *
 * @throws {ConfigError} on an unknown flag, subcommand or a missing value.
 */
export function parseCommandLine(args: string[]): CommandLine {
  // `--debug` alone means `--debug=true`; parseArgs string options need a value.
  const normalized = args.map((a) =>
    a.startsWith("--") && BOOL_KEYS.has(a.slice(2)) ? `${a}=true` : a
  );
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean }
  > = {
    config: { type: "string" },
    help: { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const k of ALL_KEYS) options[k] = { type: "string" };
  let parsed;
  try {
    parsed = parseArgs({
      args: normalized,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(
      `command line: ${
        (e as Error).message
      } (see --help for the accepted flags)`,
    );
  }
  const { values, positionals } = parsed;
  if (
    positionals.length > 1 ||
    (positionals[0] && !["cloud", "edge"].includes(positionals[0]))
  ) {
    throw new ConfigError(
      `command line: expected no subcommand, "cloud" or "edge", got ${
        JSON.stringify(positionals.join(" "))
      }`,
    );
  }
  const overrides: Record<string, string | string[]> = {};
  for (const k of ALL_KEYS) {
    const v = values[k];
    if (v !== undefined) overrides[k] = v as string;
  }
  return {
    role: (positionals[0] as Role | undefined) ?? "both",
    configPath: (values.config as string | undefined) ?? "./config.yaml",
    configGiven: values.config !== undefined,
    help: Boolean(values.help),
    version: Boolean(values.version),
    overrides,
  };
}

function applyValue(
  cfg: Config,
  path: string,
  value: unknown,
  where: string,
): void {
  const spec = keySpec(path);
  if (!spec) {
    throw new ConfigError(
      `${where}: unknown key ${JSON.stringify(path)}; expected one of ${
        ALL_KEYS.join(", ")
      }`,
    );
  }
  let checked;
  try {
    checked = spec.check(value);
  } catch (e) {
    throw new ConfigError(
      `${where}: key ${JSON.stringify(path)}: ${(e as Error).message}`,
    );
  }
  const dot = path.indexOf(".");
  const root = cfg as unknown as Record<string, Record<string, unknown>>;
  const target = dot < 0
    ? root as unknown as Record<string, unknown>
    : root[path.slice(0, dot)];
  target[dot < 0 ? path : path.slice(dot + 1)] = checked;
}

/**
 * Builds a config from YAML text over the defaults.
 *
 * @param text the YAML document
 * @param file the file name, used in error messages
 * @throws {ConfigError} naming the key and file, and what was expected.
 */
export function configFromYaml(text: string, file: string): Config {
  const cfg = defaultConfig();
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(
      `${file}: expected a YAML document, got a parse error: ${
        (e as Error).message.split("\n")[0]
      }`,
    );
  }
  if (doc === null || doc === undefined) return cfg;
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(
      `${file}: expected a mapping of keys at the top, got ${
        JSON.stringify(doc)
      }`,
    );
  }
  for (const [key, value] of Object.entries(doc)) {
    if (Object.hasOwn(SECTIONS, key)) {
      if (value === null) continue;
      if (typeof value !== "object" || Array.isArray(value)) {
        throw new ConfigError(
          `${file}: key "${key}": expected a mapping, got ${
            JSON.stringify(value)
          }`,
        );
      }
      for (const [k, v] of Object.entries(value)) {
        applyValue(cfg, `${key}.${k}`, v, file);
      }
    } else {
      applyValue(cfg, key, value, file);
    }
  }
  return cfg;
}

/** Applies command-line overrides (already validated as known keys). */
export function applyOverrides(
  cfg: Config,
  overrides: Record<string, string | string[]>,
): Config {
  for (const [k, v] of Object.entries(overrides)) {
    applyValue(cfg, k, v, `flag --${k}`);
  }
  for (
    const [cert, key] of [
      ["quic_cert", "quic_key"],
      ["tls_cert", "tls_key"],
      ["edge.tls_cert", "edge.tls_key"],
    ]
  ) {
    const c = keyValue(cfg, cert);
    const k = keyValue(cfg, key);
    if ((c === "") !== (k === "")) {
      const missing = c === "" ? cert : key;
      throw new ConfigError(
        `flag/file: key "${missing}": expected a PEM file when ${
          c === "" ? key : cert
        } is set, got ""`,
      );
    }
  }
  if ((cfg.auth.publish || cfg.auth.play) && cfg.auth.secret === "") {
    throw new ConfigError(
      `flag/file: key "auth.secret": expected a signing secret when auth.publish or auth.play is true, got ""`,
    );
  }
  return cfg;
}

function keyValue(cfg: Config, path: string): unknown {
  const dot = path.indexOf(".");
  const root = cfg as unknown as Record<string, Record<string, unknown>>;
  return dot < 0 ? root[path] : root[path.slice(0, dot)][path.slice(dot + 1)];
}

/**
 * Loads the config for a command line: defaults, the file (when present; a
 * missing file is an error only when `--config` named it), then the flags.
 *
 * @example Usage
 * ```ts
 * import { loadConfig, parseCommandLine } from "./load.ts";
 * const cli = parseCommandLine(["edge", "--edge.latency_ms=300"]);
 * const cfg = await loadConfig(cli, { requireFile: false });
 * cfg.edge.latency_ms; // 300
 * ```
 */
export async function loadConfig(
  cli: CommandLine,
  options: { requireFile: boolean },
): Promise<Config> {
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(cli.configPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) || options.requireFile) {
      throw new ConfigError(
        `${cli.configPath}: expected a readable YAML config file, got ${
          (e as Error).name
        }: ${(e as Error).message}`,
      );
    }
  }
  const cfg = text === undefined
    ? defaultConfig()
    : configFromYaml(text, cli.configPath);
  return applyOverrides(cfg, cli.overrides);
}

/** The `--help` text, generated from the key table. */
export function helpText(): string {
  const lines = [
    "usage: flvcast [cloud|edge] [--config PATH] [--KEY=VALUE …]",
    "",
    "  (no subcommand)  run cloud and edge in one process, wired on loopback",
    "  cloud            run the origin: RTMP in, RTP out, QUIC repair, API",
    "  edge             run an edge: RTP in, repair, HTTP-FLV/WebSocket-FLV out",
    "",
    "  --config PATH    YAML config file (default ./config.yaml)",
    "  --help           this text",
    "  --version        print the version",
    "",
    "Settings (flag > file > default):",
  ];
  for (const k of ALL_KEYS) {
    const spec = keySpec(k)!;
    lines.push(
      `  --${k.padEnd(26)} ${spec.help} (default ${
        JSON.stringify(spec.default)
      })`,
    );
  }
  return lines.join("\n");
}
