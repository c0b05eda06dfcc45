/**
 * One budget for every player's unsent bytes together (`edge.player_buffer_bytes`):
 * each player reports what it has queued and not yet written; when the
 * total passes the budget the players holding the most are cut first,
 * until the total fits again. Pure bookkeeping; cutting is the player's
 * own callback.
 *
 * @module
 */

/** A player as the budget sees it. */
export interface BudgetedPlayer {
  /** Ends the player and frees its queue; must call `budget.remove(this)`. */
  cut(reason: string): void;
}

/**
 * The shared unsent-bytes budget.
 *
 * @example Usage
 * ```ts
 * import { PlayerBudget } from "./player_budget.ts";
 * const budget = new PlayerBudget(1000);
 * const slow = { cut: () => budget.remove(slow) };
 * budget.add(slow);
 * budget.set(slow, 1500); // over: slow is cut
 * budget.total; // 0
 * ```
 */
export class PlayerBudget {
  #max: number;
  #total = 0;
  #pending = new Map<BudgetedPlayer, number>();
  #cuts = 0;
  #shedding = false;

  /** @param maxBytes the budget for all players together. */
  constructor(maxBytes: number) {
    if (!(maxBytes > 0)) {
      throw new RangeError(
        `player budget: expected a positive byte count, got ${maxBytes}`,
      );
    }
    this.#max = maxBytes;
  }

  /** Unsent bytes of every player together (as last reported). */
  get total(): number {
    return this.#total;
  }

  /** Players cut because the budget was exceeded. */
  get cuts(): number {
    return this.#cuts;
  }

  /** Players tracked. */
  get size(): number {
    return this.#pending.size;
  }

  /** Starts tracking a player (0 bytes). */
  add(p: BudgetedPlayer): void {
    if (!this.#pending.has(p)) this.#pending.set(p, 0);
  }

  /** Stops tracking a player; its bytes leave the total. */
  remove(p: BudgetedPlayer): void {
    const had = this.#pending.get(p);
    if (had === undefined) return;
    this.#pending.delete(p);
    this.#total -= had;
  }

  /**
   * Reports a player's unsent bytes now; when the total passes the budget,
   * the largest holders are cut until it fits.
   */
  set(p: BudgetedPlayer, bytes: number): void {
    const had = this.#pending.get(p);
    if (had === undefined) return;
    this.#pending.set(p, bytes);
    this.#total += bytes - had;
    if (this.#total > this.#max && !this.#shedding) this.#shed();
  }

  #shed(): void {
    this.#shedding = true;
    try {
      const byHeld = [...this.#pending].sort((a, b) => b[1] - a[1]);
      for (const [p, held] of byHeld) {
        if (this.#total <= this.#max) break;
        this.#cuts++;
        p.cut(
          `edge.player_buffer_bytes (${this.#max}) exceeded; this player held ${held} unsent bytes, the most`,
        );
        this.remove(p); // in case its cut() did not
      }
    } finally {
      this.#shedding = false;
    }
  }
}
