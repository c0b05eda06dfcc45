/**
 * Addresses at the cloud: opening a listener with an error that names its
 * config key, and reading peers' addresses.
 *
 * @module
 */

/** Whether `host` is this machine (loopback). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** The host part of `host:port` (IPv6 brackets removed). */
export function hostOf(remote: string): string {
  const i = remote.lastIndexOf(":");
  const host = i < 0 ? remote : remote.slice(0, i);
  return host.replace(/^\[|\]$/g, "");
}

/**
 * Runs `open` (a listener's start); an error becomes one line naming the
 * config `key`, the address and why ("address already in use").
 */
export async function bind(
  key: string,
  addr: string,
  open: () => Promise<void>,
): Promise<void> {
  try {
    await open();
  } catch (e) {
    const cause = (e as Error).cause ?? e;
    const why = cause instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : (cause as Error).message;
    throw new Error(
      `${key}: expected a free address to listen on, got ${addr}: ${why}`,
    );
  }
}
