/**
 * A shell's end as the protocol reports it: an exit code, or the name of the killing signal.
 * @module
 */
import { constants as osConstants } from 'node:os';
import type { ExitStatus } from '../../protocol/v1.js';

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name]),
);

/** From a wait status's parts: `signal` (a number, 0 or undefined for none) wins over the code. */
export function toExitStatus(exitCode: number, signal: number | undefined): ExitStatus {
  if (signal !== undefined && signal > 0) {
    return { code: null, signal: SIGNAL_NAMES.get(signal) ?? `signal ${signal}` };
  }
  return { code: exitCode, signal: null };
}
