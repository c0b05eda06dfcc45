/**
 * One HTTP-FLV player: the FLV header, the start-up tags (sequence headers,
 * cached GOP) and then live tags through a bounded {@linkcode PlayerQueue}
 * into a response body that is pulled as the client reads.
 *
 * @module
 */
import type { AccessRequest } from "../auth/mod.ts";
import { encodeFlvHeader, fileTagBytes as fileTag } from "../flv/mod.ts";
import type { HubStream, HubSubscription } from "../hub/mod.ts";
import type { BudgetedPlayer } from "./player_budget.ts";
import type { Player, PlayerHost } from "./player_host.ts";
import { PlayerQueue } from "./player_queue.ts";

/** CORS headers of every player route (players may be on any origin). */
export const PLAYER_CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, OPTIONS",
  "access-control-allow-headers": "*",
};

/** Headers of an HTTP-FLV answer. */
export const FLV_HEADERS = {
  ...PLAYER_CORS,
  "content-type": "video/x-flv",
  "cache-control": "no-cache, no-store",
};

/** The 13-byte FLV file header (audio + video) every player gets first. */
export const FLV_HEADER: Uint8Array = encodeFlvHeader();

/**
 * Serves `stream` to one HTTP-FLV player admitted by `host`; `release`
 * gives its connection slot back when it ends.
 *
 * @returns The 200 response whose body carries the FLV.
 */
export function serveHttpPlayer(
  host: PlayerHost,
  stream: HubStream,
  ar: AccessRequest,
  release: () => void,
): Response {
  const who = ar.remote;
  const queue = new PlayerQueue({ maxBytes: host.maxQueue });
  const budget = host.budget;
  const started = performance.now();
  let sent = 0;
  let open = true;
  const player: Player & BudgetedPlayer = {
    close: () => queue.close(),
    cut: (reason) => {
      if (!open) return;
      host.log.warn("player cut", { key: stream.key, remote: who, reason });
      queue.fail(new Error(reason));
      done();
    },
  };
  const done = () => {
    if (!open) return;
    open = false;
    sub.unsubscribe();
    host.players.delete(player);
    host.stats.httpPlayers--;
    host.ended(ar, release, player, started, sent);
    host.log.info("player left", { key: stream.key, remote: who });
  };
  const sub: HubSubscription = stream.subscribe({
    onTag: (tag) => {
      if (!queue.push(fileTag(tag)) && open) {
        host.slow(stream, who, "http");
        done();
        return;
      }
      budget.set(player, queue.bytes);
    },
    onEnd: () => queue.close(),
  });
  queue.push(FLV_HEADER, true);
  for (const tag of sub.startTags) queue.push(fileTag(tag), true);
  host.players.add(player);
  budget.add(player);
  budget.set(player, queue.bytes);
  host.stats.httpPlayers++;
  host.stats.playersTotal++;
  host.log.info("player joined", {
    key: stream.key,
    remote: who,
    proto: "http",
    startTags: sub.startTags.length,
  });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await queue.next();
        if (chunk === null) {
          controller.close();
          done();
        } else {
          sent += chunk.length;
          budget.set(player, queue.bytes);
          controller.enqueue(chunk);
        }
      } catch (err) {
        controller.error(err);
        done();
      }
    },
    cancel() {
      queue.close();
      done();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: 200, headers: FLV_HEADERS });
}
