// What every case receives: the builds to compare, round counts, scratch places, progress output.
// Progress goes to stderr; stdout carries only the result table.
import { readFileSync } from 'node:fs';
import type { Row } from './report.js';
import type { Build } from './server-process.js';

export interface BenchContext {
  /** This checkout first; with --baseline, the baseline build second. */
  readonly builds: readonly Build[];
  /** Rounds per subject when given on the command line (else each case's default). */
  readonly rounds: number | undefined;
  /** Concurrency levels when given on the command line (--sessions 50,200). */
  readonly sessions: readonly number[] | undefined;
  /** Fewer rounds and smaller sizes: a quick look, not a result. */
  readonly quick: boolean;
  /** .bench/ in the checkout: generated inputs and profiles (gitignored). */
  readonly dataDir: string;
  /** An empty directory used as HOME for the clean-profile shells. */
  readonly emptyHome: string;
  /** A progress line on stderr. */
  log(message: string): void;
}

export interface BenchCase {
  readonly name: string;
  readonly title: string;
  run(context: BenchContext): Promise<Row[]>;
}

/** The case's default rounds, the command line's, or fewer with --quick. */
export function roundsFor(context: BenchContext, standard: number, quick = 2): number {
  return context.rounds ?? (context.quick ? quick : standard);
}

/** CPU time (user + system) a process has used, in milliseconds, from /proc/PID/stat. */
export function cpuMs(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The label of a subject on a build: `v1`, or `v1 @base` for the baseline build. */
export function subjectName(name: string, build: Build): string {
  return `${name}${build.label}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
