/**
 * One WebSocket-FLV player (flv.js / mpegts.js `ws://`, `wss://`): the same
 * bytes as HTTP-FLV as binary messages. The socket's own send buffer is the
 * queue: past `maxQueue` unsent bytes the player is cut and its TCP
 * connection ended, so a peer that never reads holds nothing.
 *
 * @module
 */
import type { AccessRequest } from "../auth/mod.ts";
import { concatBytes } from "../bytes/mod.ts";
import { fileTagBytes as fileTag } from "../flv/mod.ts";
import type { HubStream, HubSubscription } from "../hub/mod.ts";
import { FLV_HEADER, PLAYER_CORS } from "./http_player.ts";
import type { BudgetedPlayer } from "./player_budget.ts";
import type { Player, PlayerHost } from "./player_host.ts";

/**
 * Upgrades `req` and serves `stream` to it as WebSocket-FLV; `release`
 * gives the connection slot back when it ends.
 *
 * @returns The 101 upgrade response, or 400 when `req` is not a valid
 *   WebSocket upgrade.
 */
export function serveWsPlayer(
  host: PlayerHost,
  req: Request,
  stream: HubStream,
  ar: AccessRequest,
  release: () => void,
  remote: Deno.NetAddr | undefined,
): Response {
  const who = ar.remote;
  let upgraded: { socket: WebSocket; response: Response };
  try {
    upgraded = Deno.upgradeWebSocket(req, { idleTimeout: 30 });
  } catch (err) {
    return new Response(`bad websocket upgrade: ${(err as Error).message}\n`, {
      status: 400,
      headers: PLAYER_CORS,
    });
  }
  const { socket, response } = upgraded;
  socket.binaryType = "arraybuffer";
  const budget = host.budget;
  const started = performance.now();
  let sent = 0;
  let sub: HubSubscription | undefined;
  let open = false;
  let finished = false;
  const player: Player & BudgetedPlayer = {
    close: () => {
      try {
        socket.close(1000, "server stopping");
      } catch { /* already closed */ }
    },
    cut: (reason) => {
      host.log.warn("player cut", { key: stream.key, remote: who, reason });
      done();
      try {
        socket.close(1008, "edge.player_buffer_bytes exceeded");
      } catch { /* already closing */ }
      host.abort(remote);
    },
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    host.ended(ar, release, player, started, sent);
  };
  const done = () => {
    if (!open) return;
    open = false;
    sub?.unsubscribe();
    host.players.delete(player);
    host.stats.wsPlayers--;
    // The socket's memory is the runtime's until it closes; the budget
    // stops counting it here (nothing more is queued to it).
    finish();
    host.log.info("player left", { key: stream.key, remote: who });
  };
  const send = (bytes: Uint8Array) => {
    sent += bytes.length;
    socket.send(bytes);
    budget.set(player, socket.bufferedAmount);
  };
  socket.onopen = () => {
    if (stream.ended !== undefined) {
      socket.close(1000, "stream ended");
      return;
    }
    open = true;
    host.players.add(player);
    budget.add(player);
    host.stats.wsPlayers++;
    host.stats.playersTotal++;
    sub = stream.subscribe({
      onTag: (tag) => {
        if (!open) return;
        if (socket.bufferedAmount > host.maxQueue) {
          host.slow(stream, who, "ws");
          done();
          try {
            socket.close(1008, "player too slow");
          } catch { /* already closing */ }
          host.abort(remote);
          return;
        }
        send(fileTag(tag));
      },
      onEnd: () => {
        try {
          socket.close(1000, "stream ended");
        } catch { /* already closing */ }
      },
    });
    send(concatBytes([FLV_HEADER, ...sub.startTags.map(fileTag)]));
    host.log.info("player joined", {
      key: stream.key,
      remote: who,
      proto: "ws",
      startTags: sub.startTags.length,
    });
  };
  socket.onclose = () => {
    done();
    finish(); // never opened
  };
  socket.onerror = () => {};
  return response;
}
