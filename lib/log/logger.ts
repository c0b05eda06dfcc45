/**
 * A small structured logger: one line per event, a level filter and an optional
 * append-only log file.
 *
 * @module
 */

/** Log severities, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The levels in order of severity. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "debug",
  "info",
  "warn",
  "error",
];

/** A logger for one component; {@linkcode Logger.child} names a sub-component. */
export interface Logger {
  /** Per-packet and other high-volume detail. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Normal lifecycle events (stream started, client connected). */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Something is wrong but the node goes on (bad client, lost packet). */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Something failed that an operator must look at. */
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger with the same sinks whose lines carry `component`. */
  child(component: string): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written; default `"info"`. */
  level?: LogLevel;
  /** Append every line to this file as well as stderr. */
  file?: string;
  /** Component name shown on every line. */
  component?: string;
  /** Where lines go instead of stderr (tests). */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function formatValue(value: unknown): string {
  if (typeof value === "string") {
    return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  }
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "object" && value !== null) {
    return JSON.stringify(value);
  }
  return String(value);
}

/** Formats one log line: `time LEVEL [component] message key=value …`. */
export function formatLine(
  level: LogLevel,
  component: string,
  msg: string,
  fields?: Record<string, unknown>,
): string {
  let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${
    component ? `[${component}] ` : ""
  }${msg}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
    }
  }
  return line;
}

/**
 * Creates a logger writing to stderr (and optionally a file); `close()`
 * releases the file.
 *
 * @example Usage
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const log = createLogger({ level: "warn" }).child("rtmp");
 * log.info("not shown");
 * log.warn("client sent a bad chunk", { remote: "127.0.0.1:50000" });
 * ```
 */
export function createLogger(
  options: LoggerOptions = {},
): Logger & { close(): void } {
  const min = LOG_LEVELS.indexOf(options.level ?? "info");
  let file: Deno.FsFile | undefined;
  if (options.file) {
    file = Deno.openSync(options.file, {
      append: true,
      create: true,
      write: true,
    });
  }
  const write = options.write ?? ((line: string) => {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  });
  const sink = (line: string) => {
    write(line);
    if (file) {
      try {
        file.writeSync(encoder.encode(line + "\n"));
      } catch {
        // A full disk must not take the node down; stderr still has the line.
      }
    }
  };
  const make = (component: string): Logger => {
    const at =
      (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
        if (LOG_LEVELS.indexOf(level) >= min) {
          sink(formatLine(level, component, msg, fields));
        }
      };
    return {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      child: (name) => make(component ? `${component}/${name}` : name),
    };
  };
  return Object.assign(make(options.component ?? ""), {
    close() {
      file?.close();
      file = undefined;
    },
  });
}

/** A logger that discards everything (for tests and embedding). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
};
