/**
 * The one way tests wait: poll a condition until it holds or a deadline passes. Never sleep.
 * @module
 */

export interface WaitOptions {
  /** Milliseconds before giving up. @default 10000 */
  readonly timeout?: number;
  /** Milliseconds between checks. @default 20 */
  readonly interval?: number;
  /** Said in the error when the deadline passes. */
  readonly message?: string;
}

/** Resolves with the first truthy value of `check`; rejects after the timeout. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeout = options.timeout ?? 10_000;
  const interval = options.interval ?? 20;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(
        `timed out after ${timeout} ms waiting for ${options.message ?? 'a condition'}${detail}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
