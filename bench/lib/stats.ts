// Medians, percentiles and spreads of measured samples, and the A B A B order the cases run in.

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p90: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
function rank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: median(sorted),
    p90: rank(sorted, 90),
    p99: rank(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/**
 * Runs `rounds` rounds over `subjects`, rotating the order each round (A B C, B C A, C A B …) so
 * that no subject always runs first or right after the same neighbour on a noisy machine.
 */
export async function interleave<T>(
  rounds: number,
  subjects: readonly T[],
  run: (subject: T, round: number) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < subjects.length; i += 1) {
      const subject = subjects[(i + round) % subjects.length] as T;
      await run(subject, round);
    }
  }
}

/** Formats a number with `digits` decimals, or '–' when it is not a number. */
export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** `min–max` of the values with `digits` decimals. */
export function range(values: readonly number[], digits = 1): string {
  if (values.length === 0) {
    return '–';
  }
  return `${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)}`;
}

export function mib(bytes: number, digits = 2): string {
  return `${fixed(bytes / 1024 / 1024, digits)} MiB`;
}

export function kib(bytes: number, digits = 1): string {
  return `${fixed(bytes / 1024, digits)} KiB`;
}

/** Microseconds from milliseconds, rounded. */
export function micros(ms: number): string {
  return Number.isFinite(ms) ? `${Math.round(ms * 1000)} µs` : '–';
}

export function millis(ms: number, digits = 1): string {
  return Number.isFinite(ms) ? `${fixed(ms, digits)} ms` : '–';
}
