/**
 * flvcast command line: `flvcast [cloud|edge] [--config PATH] [--flags…]`.
 *
 * @module
 */
import { VERSION } from "./lib/version/mod.ts";

if (import.meta.main) {
  if (Deno.args.includes("--version")) {
    console.log(`flvcast ${VERSION}`);
    Deno.exit(0);
  }
  console.log("usage: flvcast [cloud|edge] [--config PATH]");
}
