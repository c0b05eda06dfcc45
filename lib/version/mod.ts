/**
 * The flvcast version string, printed by `flvcast --version` and served by the
 * APIs.
 *
 * @module
 */

/** The flvcast release version. */
export const VERSION = "0.1.0";
