/**
 * The server side of the handshake as bytes arrive (no I/O): collects
 * C0+C1, answers S0+S1+S2, collects C2, then hands the remaining bytes to
 * the chunk stream.
 *
 * @module
 */
import { RtmpProtocolError } from "./errors.ts";
import {
  createServerHandshake,
  HANDSHAKE_SIZE,
  type ServerHandshake,
} from "./handshake.ts";

/** Settings of a {@linkcode HandshakeReader}. */
export interface HandshakeReaderOptions {
  /**
   * Called when a phase completes: with the answer to send once C0+C1 are
   * in, with nothing once C2 is in.
   */
  onPhase(answer: ServerHandshake | undefined): void;
}

/** Collects one client's handshake bytes, which may arrive in any split. */
export class HandshakeReader {
  #onPhase: (answer: ServerHandshake | undefined) => void;
  #phase: "c0c1" | "c2" | "done" = "c0c1";
  #buf = new Uint8Array(1 + HANDSHAKE_SIZE);
  #len = 0;

  /** Starts waiting for C0+C1. */
  constructor(options: HandshakeReaderOptions) {
    this.#onPhase = options.onPhase;
  }

  /** True once C2 is in: every further byte belongs to the chunk stream. */
  get done(): boolean {
    return this.#phase === "done";
  }

  /**
   * Consumes handshake bytes; returns what is left for the chunk stream.
   * Throws {@linkcode RtmpProtocolError} on a C0 other than version 3.
   */
  push(bytes: Uint8Array): Uint8Array {
    const want = this.#phase === "c0c1" ? 1 + HANDSHAKE_SIZE : HANDSHAKE_SIZE;
    if (this.#phase === "c0c1" && this.#len === 0 && bytes[0] !== 3) {
      throw new RtmpProtocolError(
        `handshake: expected RTMP version 3 in C0, received ${bytes[0]}`,
      );
    }
    const take = Math.min(want - this.#len, bytes.length);
    this.#buf.set(bytes.subarray(0, take), this.#len);
    this.#len += take;
    const rest = bytes.subarray(take);
    if (this.#len < want) return rest;
    this.#len = 0;
    if (this.#phase === "c0c1") {
      const answer = createServerHandshake(this.#buf, {
        time: Math.floor(performance.now()),
      });
      this.#phase = "c2";
      this.#onPhase(answer);
      return rest.length > 0 ? this.push(rest) : rest;
    }
    this.#phase = "done";
    this.#onPhase(undefined);
    return rest;
  }
}
