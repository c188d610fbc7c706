/**
 * What a handler suite checks it left behind (processes, zombies, pty descriptors) and how much
 * memory it held, measured in this process where the server runs.
 * @module
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { descendants, isRunning, openDescriptors, type ProcInfo } from './processes.js';
import { waitFor, type WaitOptions } from './wait-for.js';

/** What existed before a suite: tsx keeps an esbuild service as a child of the test process. */
export interface Baseline {
  readonly pids: ReadonlySet<number>;
  /** Open descriptors by kind (`socket`, `/dev/ptmx`, `pipe`, a file's path). */
  readonly descriptors: ReadonlyMap<string, number>;
}

/** This process's open descriptors, counted by what they point to. */
function descriptorKinds(): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const target of openDescriptors()) {
    // `socket:[123]` -> `socket`: the inode differs for every new one.
    const kind = target.replace(/:\[\d+\]$/, '');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

/** Kinds of descriptor of which more are open now than at `baseline`. */
function leakedDescriptors(baseline: Baseline): string[] {
  return [...descriptorKinds()]
    .filter(([kind, count]) => count > (baseline.descriptors.get(kind) ?? 0))
    .map(([kind, count]) => `${kind} x${count - (baseline.descriptors.get(kind) ?? 0)}`);
}

export function takeBaseline(): Baseline {
  return { pids: new Set(descendants().map((info) => info.pid)), descriptors: descriptorKinds() };
}

/** Descendants of this process that were not there at `baseline`, zombies included. */
export function newDescendants(baseline: Baseline): ProcInfo[] {
  return descendants().filter((info) => !baseline.pids.has(info.pid));
}

/** Descendants in state Z: exited but never reaped. */
export function zombies(): ProcInfo[] {
  return descendants().filter((info) => info.state === 'Z');
}

/**
 * Waits until every process started since `baseline` is gone and no descriptor opened since
 * (pty master, socket, pipe, file) is still open, then checks that no zombie is left. For the
 * after() hook of every suite.
 */
export async function expectNothingLeft(baseline: Baseline, options: WaitOptions = {}) {
  try {
    await waitFor(
      () => newDescendants(baseline).length === 0 && leakedDescriptors(baseline).length === 0,
      { timeout: 5000, ...options },
    );
  } catch {
    assert.fail(
      `left behind: processes ${JSON.stringify(newDescendants(baseline))}, descriptors ${JSON.stringify(leakedDescriptors(baseline))}`,
    );
  }
  assert.deepEqual(zombies(), [], 'no zombies among the descendants');
}

/** Asserts that none of `pids` is alive (a zombie counts as dead: it can no longer run). */
export function assertAllGone(pids: readonly number[], what: string): void {
  const alive = pids.filter((pid) => isRunning(pid));
  assert.deepEqual(alive, [], `${what}: processes still running`);
}

/**
 * Bytes process `pid` has written so far (`wchar` of /proc/PID/io), or undefined once it is gone.
 * A writer that stops making progress is blocked: the pty is not being read.
 */
export function bytesWritten(pid: number): number | undefined {
  try {
    const match = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'latin1'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

let collect: (() => void) | undefined;

/**
 * This process's resident set size in bytes once garbage is collected and the size has settled:
 * V8 hands freed pages back to the system on background threads after a collection, so a single
 * reading right after gc() can sit megabytes above (or, later, below) the true figure.
 */
export async function settledRss(): Promise<number> {
  if (collect === undefined) {
    // The runner does not pass --expose-gc; setting the flag late still exposes gc to new contexts.
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  const gc = collect;
  let last = Number.POSITIVE_INFINITY;
  const { rss } = await waitFor(
    () => {
      gc();
      const now = process.memoryUsage().rss;
      const settled = Math.abs(now - last) < 128 * 1024;
      last = now;
      return settled ? { rss: now } : undefined;
    },
    { interval: 50, timeout: 5000, message: 'the resident set size to settle after gc' },
  );
  return rss;
}

/**
 * Resolves once `read()` has returned the same value for `quietMs` of polling: the stream it
 * measures has stopped. Rejects when it still moves at the deadline.
 */
export async function waitForSteady(
  read: () => number,
  quietMs: number,
  options: WaitOptions = {},
): Promise<number> {
  let last = read();
  let since = Date.now();
  return waitFor(
    () => {
      const value = read();
      if (value !== last) {
        last = value;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= quietMs ? { value } : undefined;
    },
    { message: `a value that stops changing for ${quietMs} ms (last ${last})`, ...options },
  ).then(({ value }) => value);
}
