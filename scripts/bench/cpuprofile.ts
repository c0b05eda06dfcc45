/**
 * Summarises V8 `.cpuprofile` files (from `deno run --cpu-prof`): self time
 * by function and by source file, as Markdown tables.
 *
 * ```sh
 * deno run -A scripts/bench/cpuprofile.ts PROFILE.cpuprofile [top]
 * ```
 *
 * @module
 */
import { table } from "./util.ts";

/** A node of a V8 CPU profile. */
export interface ProfileNode {
  /** Node id. */
  id: number;
  /** Where the code is. */
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
  };
}

/** A V8 `.cpuprofile` document (the fields used here). */
export interface CpuProfile {
  /** Call tree nodes. */
  nodes: ProfileNode[];
  /** Node id of each sample. */
  samples: number[];
  /** µs since the previous sample. */
  timeDeltas: number[];
  /** Start (monotonic µs). */
  startTime: number;
  /** End (monotonic µs). */
  endTime: number;
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const i = url.indexOf("/lib/");
  if (i >= 0) return url.slice(i + 1);
  const n = url.indexOf("node_modules/");
  if (n >= 0) return url.slice(n);
  return url.replace(/^file:\/\/\/?/, "").replace(/^.*\/(?=[^/]+$)/, "");
}

/** Self-time tables (top functions, top files) of one profile. */
export function summarizeProfile(
  profile: CpuProfile,
  top = 15,
  window?: [number, number],
): { total: number; byFunction: string; byFile: string } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window[0] || t > window[1])) continue;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += us;
      continue;
    }
    const where = shortUrl(n.callFrame.url);
    const k = `${name} · ${where}${
      n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""
    }`;
    fn.set(k, (fn.get(k) ?? 0) + us);
    const fk = n.callFrame.url ? where : name;
    file.set(fk, (file.get(fk) ?? 0) + us);
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map((
      [k, us],
    ) => [
      k.replaceAll("|", "\\|"),
      (us / 1000).toFixed(0),
      ((100 * us) / busy).toFixed(1),
    ]);
  return {
    total: busy / 1e6,
    byFunction: table(["function · file", "self ms", "% of busy"], rows(fn)),
    byFile: table(["file / category", "self ms", "% of busy"], rows(file)),
  };
}

/**
 * Summarises every `.cpuprofile` in `dir` under a heading each, counting
 * only samples inside `window` (monotonic µs) when given.
 */
export async function summarizeDir(
  dir: string,
  label: string,
  top = 12,
  window?: [number, number],
): Promise<string[]> {
  const out: string[] = [];
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.endsWith(".cpuprofile")) files.push(e.name);
    }
  } catch {
    return out;
  }
  for (const f of files.sort()) {
    const p = JSON.parse(await Deno.readTextFile(`${dir}/${f}`)) as CpuProfile;
    const s = summarizeProfile(p, top, window);
    out.push(
      `### ${label}: ${f} (${s.total.toFixed(1)} s busy in the JS thread${
        window ? " during the measurement window" : ""
      })`,
      "",
      s.byFile,
      "",
      s.byFunction,
      "",
    );
  }
  return out;
}

if (import.meta.main) {
  const [path, top] = Deno.args;
  const p = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  const s = summarizeProfile(p, Number(top ?? 20));
  console.log(`busy ${s.total.toFixed(2)} s\n\n${s.byFile}\n\n${s.byFunction}`);
}
