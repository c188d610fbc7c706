/**
 * What processes and descriptors exist, read from /proc: the tests' check that nothing leaked.
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { waitFor } from './wait-for.js';

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly state: string;
  readonly command: string;
}

function readStat(pid: number): ProcInfo | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const open = line.indexOf('(');
    const close = line.lastIndexOf(')');
    const fields = line.slice(close + 2).split(' ');
    return {
      pid,
      command: line.slice(open + 1, close),
      state: fields[0] ?? '?',
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      sid: Number(fields[3]),
    };
  } catch {
    return undefined;
  }
}

export function allProcesses(): ProcInfo[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((info): info is ProcInfo => info !== undefined);
}

/** The spawner's name in /proc/PID/stat (`$0`, cut to 15 bytes by the kernel). */
export const SPAWNER_COMMAND = 'xterm-js-shell-spawner'.slice(0, 15);

/**
 * Every process below `root` in the parent tree (not `root` itself). The server's spawner
 * (docs/spawner.md) is left out unless asked for: it is no shell, and lingers a second after the
 * last one; its children, the shells, are in. assertNoStrayProcesses counts it.
 */
export function descendants(root: number = process.pid, includeSpawner = false): ProcInfo[] {
  const all = allProcesses();
  const result: ProcInfo[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of all) {
      if (parents.has(info.ppid) && !parents.has(info.pid)) {
        parents.add(info.pid);
        if (includeSpawner || info.command !== SPAWNER_COMMAND) {
          result.push(info);
        }
        grew = true;
      }
    }
  }
  return result;
}

/** Processes of the session `sid` (a shell's pid), zombies included. */
export function sessionProcesses(sid: number): ProcInfo[] {
  return allProcesses().filter((info) => info.sid === sid);
}

export function isRunning(pid: number): boolean {
  const info = readStat(pid);
  return info !== undefined && info.state !== 'Z';
}

/** Open file descriptors of `pid`: each number with the target its link points to. */
export function descriptorTargets(pid: number = process.pid): Map<number, string> {
  const dir = `/proc/${pid}/fd`;
  return new Map(
    readdirSync(dir).flatMap((fd): Array<[number, string]> => {
      try {
        return [[Number(fd), readlinkSync(`${dir}/${fd}`)]];
      } catch {
        return []; // closed while we looked
      }
    }),
  );
}

/** Open file descriptors of `pid`, as the targets their links point to. */
export function openDescriptors(pid: number = process.pid): string[] {
  return [...descriptorTargets(pid).values()];
}

/** The processes below us before a suite starts (under tsx: its esbuild service). */
export function processBaseline(): ReadonlySet<number> {
  return new Set(descendants(process.pid, true).map((info) => info.pid));
}

/**
 * Every process the suite started (CLIs, their shells, nginx, Chromium) is gone: nothing below
 * this process but what was there at `baseline`.
 */
export async function assertNoStrayProcesses(
  baseline: ReadonlySet<number>,
  timeout = 30_000,
): Promise<void> {
  const strays = (): string[] =>
    descendants(process.pid, true)
      .filter((info) => !baseline.has(info.pid))
      .map((info) => `${info.pid} ${info.command}`);
  await waitFor(() => strays().length === 0, {
    timeout,
    message: 'no processes left behind',
  }).catch((error: Error) => {
    throw new Error(`${error.message}; still running: ${strays().join(', ')}`);
  });
}
