/**
 * Loss bursts for the WAN benches: every UDP datagram into a host dropped
 * for `forMs` every `everyMs` (a blackout of the path), on top of an
 * optional random drop, with the netns harness's nftables rules.
 *
 * @module
 */
import type { Topology } from "../../testkit/netns.ts";

/** A periodic blackout. */
export interface Blackout {
  /** Period (ms). */
  everyMs: number;
  /** Length of each blackout (ms). */
  forMs: number;
}

/**
 * Starts blackouts on `host` (the first after `everyMs − forMs`); between
 * them the random drop of `permille` stays. Returns a stop function that
 * resolves once the last toggle is done (the base rule is in place again).
 */
export function startBlackouts(
  topo: Topology,
  host: string,
  b: Blackout,
  permille: number,
): () => Promise<void> {
  let on = true;
  let wake = () => {};
  const nap = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  const loop = (async () => {
    while (on) {
      await nap(b.everyMs - b.forMs);
      if (!on) break;
      await topo.dropAllUdp(host, 1000);
      await new Promise((r) => setTimeout(r, b.forMs));
      await topo.clearDrops(host);
      if (permille > 0) await topo.dropAllUdp(host, permille);
    }
  })();
  loop.catch(() => {}); // reported by the stop function
  return async () => {
    on = false;
    wake();
    await loop;
  };
}

/** `200 ms blackout every 3 s`. */
export function blackoutLabel(b: Blackout): string {
  return `${b.forMs} ms blackout every ${b.everyMs / 1000} s`;
}
