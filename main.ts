/**
 * flvcast command line: `flvcast [cloud|edge] [--config PATH] [--KEY=VALUE …]`.
 *
 * Without a subcommand both roles run in one process, wired on loopback, so
 * `ffmpeg … -f flv rtmp://127.0.0.1:1935/live/movie` plays at once from
 * `http://127.0.0.1:7001/live/movie.flv`.
 *
 * @module
 */
import { startNodes } from "./lib/app/mod.ts";
import {
  ConfigError,
  helpText,
  loadConfig,
  parseCommandLine,
} from "./lib/config/mod.ts";
import { createLogger } from "./lib/log/mod.ts";
import { VERSION } from "./lib/version/mod.ts";

/** Runs the command line; resolves with the process exit code. */
export async function main(args: string[]): Promise<number> {
  let cli;
  let cfg;
  try {
    cli = parseCommandLine(args);
    if (cli.help) {
      console.log(helpText());
      return 0;
    }
    if (cli.version) {
      console.log(`flvcast ${VERSION}`);
      return 0;
    }
    cfg = await loadConfig(cli, { requireFile: cli.configGiven });
  } catch (e) {
    console.error(`flvcast: ${(e as Error).message}`);
    return 2;
  }
  let logFile: string | undefined;
  if (cfg.enable_log_file) {
    logFile = cfg.log_file;
    const dir = logFile.replace(/\/[^/]*$/, "");
    try {
      if (dir && dir !== logFile) await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      console.error(
        `flvcast: key "log_file": expected a writable path, got ${logFile}: ${
          (e as Error).message
        }`,
      );
      return 2;
    }
  }
  const logger = createLogger({ level: cfg.log_level, file: logFile });
  let nodes;
  try {
    nodes = await startNodes(cfg, cli.role, logger);
  } catch (e) {
    const msg = e instanceof ConfigError || e instanceof Error
      ? e.message
      : String(e);
    console.error(`flvcast: ${msg}`);
    logger.close();
    return 2;
  }
  logger.info("flvcast running", {
    version: VERSION,
    role: cli.role,
    config: cli.configPath,
  });
  const stopped = Promise.withResolvers<number>();
  let stopping = false;
  const onSignal = (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    const force = setTimeout(() => {
      logger.error("stop took longer than 5 s; exiting");
      stopped.resolve(1);
    }, 5000);
    nodes.stop().then(() => {
      clearTimeout(force);
      stopped.resolve(0);
    });
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => onSignal(sig));
  }
  if (Deno.build.os !== "windows") {
    // SIGHUP: operator TLS certificates are read again; nothing stops.
    Deno.addSignalListener("SIGHUP", () => {
      logger.info("SIGHUP: reloading TLS certificates");
      void nodes.reloadTls();
    });
  }
  const code = await stopped.promise;
  logger.info("stopped", { code });
  logger.close();
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
