/**
 * What one HTTP-FLV or WebSocket-FLV player needs from the server that
 * accepted it: the shared unsent-data budget, the counters, the set of
 * live players, and the server's reactions to a slow or ended player.
 *
 * @module
 */
import type { AccessRequest } from "../auth/mod.ts";
import type { HubStream } from "../hub/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { BudgetedPlayer, PlayerBudget } from "./player_budget.ts";

/** A connected player, as the server sees it when it stops. */
export interface Player {
  /** Ends the player's body or socket. */
  close(): void;
}

/** Counters of the player server (a live object, mutated by players). */
export interface FlvHttpStats {
  /** HTTP-FLV players connected now. */
  httpPlayers: number;
  /** WebSocket-FLV players connected now. */
  wsPlayers: number;
  /** Players accepted since start. */
  playersTotal: number;
  /** Players cut off because their queue overflowed. */
  slowDisconnects: number;
  /** Requests for a stream that does not exist. */
  notFound: number;
  /** Players cut because all players' unsent data passed the budget. */
  budgetCuts: number;
  /** All players' unsent bytes now (as last reported). */
  unsentBytes: number;
}

/** The server side of one player (see {@linkcode FlvHttpServer}). */
export interface PlayerHost {
  /** Player events. */
  readonly log: Logger;
  /** All players' unsent bytes together. */
  readonly budget: PlayerBudget;
  /** Bytes of live data one player may fall behind before it is cut. */
  readonly maxQueue: number;
  /** Counters. */
  readonly stats: FlvHttpStats;
  /** Players connected now (closed when the server stops). */
  readonly players: Set<Player>;
  /** The end of a play: gives back the slot and the budget, tells `on_stop`. */
  ended(
    ar: AccessRequest,
    release: () => void,
    player: BudgetedPlayer,
    started: number,
    bytes: number,
  ): void;
  /** Counts and logs a player cut for being too slow. */
  slow(stream: HubStream, who: string, proto: string): void;
  /** Ends a cut player's TCP connection at once (its unsent data freed). */
  abort(remote: Deno.NetAddr | undefined): void;
}
