// Small /proc readers: a process's children by command name, and how much it has written.
import { readdirSync, readFileSync } from 'node:fs';

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  readonly command: string;
}

function stat(pid: number): Stat | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = line.lastIndexOf(')');
    const fields = line.slice(close + 2).split(' ');
    return { pid, ppid: Number(fields[1]), command: line.slice(line.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

/** Every process below `root` named `command` (as /proc/PID/stat names it). */
export function descendantsNamed(root: number, command: string): number[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => stat(Number(name)))
    .filter((entry): entry is Stat => entry !== undefined);
  const below = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const entry of all) {
      if (below.has(entry.ppid) && !below.has(entry.pid)) {
        below.add(entry.pid);
        grew = true;
      }
    }
  }
  return all
    .filter((entry) => entry.pid !== root && below.has(entry.pid) && entry.command === command)
    .map((e) => e.pid);
}

/** Bytes the process has passed to write() so far (/proc/PID/io wchar), NaN once it is gone. */
export function bytesWritten(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'latin1');
    return Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
