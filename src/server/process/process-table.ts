/**
 * Which processes belong to a shell's session, read from Linux /proc: what termination must
 * signal, including background jobs the shell no longer tracks.
 * @module
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';

export interface ProcessEntry {
  readonly pid: number;
  readonly pgid: number;
  /** True for a zombie: it is dead and can no longer be signalled. */
  readonly zombie: boolean;
  /** The state letter of /proc/PID/stat: R running, S sleeping, D uninterruptible, Z zombie… */
  readonly state: string;
}

/**
 * A scan of all of /proc is shared by every terminating session for this long after it
 * finished; below termination's 50 ms poll, so each poll after a signal reads /proc again.
 */
const SNAPSHOT_TTL_MS = 20;

/** `startedAt`: what the scan can have missed happened before it; `at`: when it ended. */
let snapshot: { startedAt: number; at: number; bySession: Map<number, ProcessEntry[]> } | undefined;

/**
 * One buffer for every stat line. readFileSync sees size 0 for /proc files and allocates 64 KiB
 * per read: a scan of a few hundred processes cost more in allocation than in reading, and
 * termination under load scans often. A stat line is well under 1 KiB (the command name is at
 * most 15 bytes); procfs hands it out whole in one read.
 */
const statBuffer = Buffer.allocUnsafe(4096);

/** The stat line of process `name`, or undefined when it exited while we looked. */
function readStatLine(name: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${name}/stat`, 'r');
  } catch {
    return undefined;
  }
  try {
    const length = readSync(fd, statBuffer, 0, statBuffer.length, 0);
    return statBuffer.toString('latin1', 0, length);
  } catch {
    return undefined; // ESRCH: it exited between open and read
  } finally {
    closeSync(fd);
  }
}

/** Parses one /proc/PID/stat line; the command name may hold spaces and parentheses. */
export function parseStat(
  line: string,
): { pid: number; state: string; pgid: number; sid: number } | null {
  const close = line.lastIndexOf(')');
  if (close < 0) {
    return null;
  }
  const pid = Number.parseInt(line, 10);
  // After ") ": state ppid pgrp session ...
  const fields = line.slice(close + 2).split(' ');
  const state = fields[0];
  const pgid = Number(fields[2]);
  const sid = Number(fields[3]);
  if (state === undefined || !Number.isInteger(pid) || Number.isNaN(pgid) || Number.isNaN(sid)) {
    return null;
  }
  return { pid, state, pgid, sid };
}

function scan(): Map<number, ProcessEntry[]> {
  const bySession = new Map<number, ProcessEntry[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return bySession; // not Linux: callers fall back to the shell's own process group
  }
  for (const name of names) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) {
      continue;
    }
    const line = readStatLine(name);
    if (line === undefined) {
      continue; // exited while we looked
    }
    const stat = parseStat(line);
    if (stat === null) {
      continue;
    }
    // X (dead) is only ever seen for an instant, on its way out of the table.
    const zombie = stat.state === 'Z' || stat.state === 'X';
    const entry: ProcessEntry = { pid: stat.pid, pgid: stat.pgid, zombie, state: stat.state };
    const members = bySession.get(stat.sid);
    if (members === undefined) {
      bySession.set(stat.sid, [entry]);
    } else {
      members.push(entry);
    }
  }
  return bySession;
}

/**
 * The processes whose session id is `sid` (a shell started by node-pty leads its own session,
 * so sid is the shell's pid). The number cannot be reused while any member is alive: Linux keeps
 * a pid allocated while it names a session or process group. With `notBefore` (ms since the
 * epoch) the answer comes from a scan started after that moment: sessions that signalled before
 * it then share one new scan instead of each forcing its own.
 */
export function sessionMembers(sid: number, notBefore = 0): readonly ProcessEntry[] {
  if (
    snapshot === undefined ||
    Date.now() - snapshot.at > SNAPSHOT_TTL_MS ||
    snapshot.startedAt <= notBefore
  ) {
    const startedAt = Date.now();
    const bySession = scan();
    // Stamped when the scan ends: a scan that takes longer than the TTL (hundreds of processes
    // on a loaded machine) was otherwise stale at birth, and each of N terminating sessions
    // scanned again in turn, blocking the event loop for N scans (seconds at shutdown).
    snapshot = { startedAt, at: Date.now(), bySession };
  }
  return snapshot.bySession.get(sid) ?? [];
}

/** Forgets the shared scan, so the next question reads /proc again. */
export function invalidateProcessTable(): void {
  snapshot = undefined;
}
