/**
 * The names an RTMP client gives (pure): the application from `connect`
 * and the stream name from `publish`/`play`, each with its `?query`
 * stripped and kept apart for hooks and signatures.
 *
 * @module
 */
import type { AmfObject, AmfValue } from "./amf0.ts";

/** What a `connect` command object says about the client's application. */
export interface ConnectParams {
  /** Application, query and surrounding slashes stripped (`live`). */
  app: string;
  /** The query of `app`, else of `tcUrl` (without `?`; `""` if none). */
  appQuery: string;
  /** AMF object encoding the client asked for (0 if it gave none). */
  objectEncoding: number;
  /** The client's `flashVer`, when it is a string. */
  flashVer: string | undefined;
  /** The client's `tcUrl`, when it is a string. */
  tcUrl: string | undefined;
}

/** The stream a client names in `publish` or `play`. */
export interface StreamTarget {
  /** Stream key `app/name` (`live/movie`). */
  key: string;
  /** Application from `connect`. */
  app: string;
  /** Stream name, query and surrounding slashes stripped. */
  name: string;
  /** The name's query, else the application's (without `?`). */
  query: string;
}

function str(v: AmfValue): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function stripQuery(s: string): string {
  const q = s.indexOf("?");
  return q < 0 ? s : s.slice(0, q);
}

function queryOf(s: string): string {
  const q = s.indexOf("?");
  return q < 0 ? "" : s.slice(q + 1);
}

/** Reads `connect`'s command object (anything else counts as empty). */
export function parseConnect(cmd: AmfValue): ConnectParams {
  const obj = (cmd && typeof cmd === "object" && !Array.isArray(cmd) &&
      !(cmd instanceof Map) && !(cmd instanceof Date) &&
      !(cmd instanceof Uint8Array))
    ? cmd as AmfObject
    : {};
  return {
    app: stripQuery(str(obj.app) ?? "").replace(/^\/+|\/+$/g, ""),
    appQuery: queryOf(str(obj.app) ?? "") || queryOf(str(obj.tcUrl) ?? ""),
    objectEncoding: typeof obj.objectEncoding === "number"
      ? obj.objectEncoding
      : 0,
    flashVer: str(obj.flashVer),
    tcUrl: str(obj.tcUrl),
  };
}

/**
 * The stream named by a `publish`/`play` name argument in the application
 * `connect` named; `undefined` when the argument is not a non-empty name.
 */
export function streamTarget(
  connect: Pick<ConnectParams, "app" | "appQuery">,
  nameArg: AmfValue,
): StreamTarget | undefined {
  const raw = str(nameArg);
  if (raw === undefined) return undefined;
  const name = stripQuery(raw).replace(/^\/+|\/+$/g, "");
  if (!name) return undefined;
  return {
    key: `${connect.app}/${name}`,
    app: connect.app,
    name,
    query: queryOf(raw) || connect.appQuery,
  };
}
