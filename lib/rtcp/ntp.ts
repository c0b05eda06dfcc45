/**
 * NTP timestamp helpers (RFC 3550 §4): 64-bit fixed point seconds since
 * 1900-01-01 split into a 32-bit integer part and a 32-bit fraction.
 *
 * @module
 */

/** Seconds between the NTP epoch (1900-01-01) and the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

const TWO_32 = 4_294_967_296;

/** An NTP timestamp as carried in a Sender Report. */
export interface NtpTimestamp {
  /** Whole seconds since 1900-01-01, modulo 2^32. */
  ntpSec: number;
  /** Fraction of a second in units of 2^-32 s. */
  ntpFrac: number;
}

/**
 * Converts a wall clock time to an NTP timestamp.
 *
 * @example Usage
 * ```ts
 * import { ntpFromDate } from "./ntp.ts";
 * const { ntpSec, ntpFrac } = ntpFromDate(new Date(0));
 * // ntpSec === 2208988800, ntpFrac === 0
 * ```
 *
 * @param time A `Date` or Unix time in milliseconds (may be fractional); default now.
 * @returns The NTP seconds and fraction.
 */
export function ntpFromDate(time: Date | number = Date.now()): NtpTimestamp {
  const ms = typeof time === "number" ? time : time.getTime();
  if (!Number.isFinite(ms)) {
    throw new RangeError(`Expected a finite time in ms, received ${ms}`);
  }
  const totalSec = ms / 1000 + NTP_UNIX_OFFSET_SECONDS;
  const whole = Math.floor(totalSec);
  let frac = Math.round((totalSec - whole) * TWO_32);
  let sec = whole;
  if (frac >= TWO_32) {
    frac -= TWO_32;
    sec += 1;
  }
  return { ntpSec: ((sec % TWO_32) + TWO_32) % TWO_32, ntpFrac: frac };
}

/**
 * Converts an NTP timestamp to Unix time in milliseconds (fractional).
 * Timestamps in era 0 (before 2036-02-07) are assumed.
 *
 * @example Usage
 * ```ts
 * import { ntpToUnixMs } from "./ntp.ts";
 * ntpToUnixMs(2208988800, 2147483648); // 500
 * ```
 *
 * @param ntpSec NTP seconds.
 * @param ntpFrac NTP fraction (units of 2^-32 s).
 * @returns Milliseconds since the Unix epoch.
 */
export function ntpToUnixMs(ntpSec: number, ntpFrac: number): number {
  return (ntpSec - NTP_UNIX_OFFSET_SECONDS) * 1000 + (ntpFrac / TWO_32) * 1000;
}

/**
 * The middle 32 bits of an NTP timestamp (the "compact" form used for LSR in
 * reception reports, RFC 3550 §6.4.1).
 *
 * @example Usage
 * ```ts
 * import { ntpMiddle32 } from "./ntp.ts";
 * ntpMiddle32(0x12345678, 0x9abcdef0); // 0x56789abc
 * ```
 *
 * @param ntpSec NTP seconds.
 * @param ntpFrac NTP fraction.
 * @returns `(ntpSec & 0xffff) << 16 | ntpFrac >>> 16` as an unsigned number.
 */
export function ntpMiddle32(ntpSec: number, ntpFrac: number): number {
  return (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
}
