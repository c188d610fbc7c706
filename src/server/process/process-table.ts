/**
 * Which processes belong to a shell's session, read from Linux /proc: what termination must
 * signal, including background jobs the shell no longer tracks; and the pid allocator's
 * counters, with which termination proves that a number it signals was not handed to another
 * process meanwhile (terminate.ts, docs/operations.md).
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
  /**
   * When it started, in clock ticks since boot (field 22 of /proc/PID/stat): with the pid, what
   * tells this process from a later one that got the same number.
   */
  readonly startTime: number;
}

/** The pid allocator at one moment: how far a freed number is from being handed out again. */
export interface PidClock {
  /** Clock ticks since boot (USER_HZ, the unit of start times), from /proc/uptime. */
  readonly at: number;
  /** Tasks created since boot, threads included (/proc/stat `processes`). */
  readonly forks: number;
  /** The pid handed out last in our pid namespace (/proc/loadavg). */
  readonly lastPid: number;
  /** Tasks that exist, threads included (/proc/loadavg). */
  readonly tasks: number;
}

/** One reading of the whole process table. */
export interface ProcessScan {
  /** ms since the epoch when the scan started (what it can have missed happened before). */
  readonly startedAt: number;
  /** ms since the epoch when it ended. */
  readonly at: number;
  /** The allocator's counters, read just before the processes; undefined without /proc. */
  readonly clock: PidClock | undefined;
  /** /proc/sys/kernel/pid_max: pids go from 300 to this, round and round. */
  readonly pidMax: number;
  /** False where there is no /proc (not Linux): the table is empty, and proves nothing. */
  readonly available: boolean;
  /**
   * False when part of /proc could not be read (the server was out of file descriptors): a
   * process missing from this scan may well exist.
   */
  readonly complete: boolean;
  readonly bySession: ReadonlyMap<number, readonly ProcessEntry[]>;
  readonly byPid: ReadonlyMap<number, ProcessEntry>;
}

/**
 * A scan of all of /proc is shared by every terminating session for this long after it
 * finished; below termination's 50 ms poll, so each poll after a signal reads /proc again.
 */
const SNAPSHOT_TTL_MS = 20;

const PROC = '/proc';

let snapshot: ProcessScan | undefined;

/**
 * One buffer for every stat line. readFileSync sees size 0 for /proc files and allocates 64 KiB
 * per read: a scan of a few hundred processes cost more in allocation than in reading, and
 * termination under load scans often. A stat line is well under 1 KiB (the command name is at
 * most 15 bytes); procfs hands it out whole in one read.
 */
const statBuffer = Buffer.allocUnsafe(4096);
/** /proc/stat lists every interrupt's count on one line: tens of KiB on large machines. */
let bigBuffer: Buffer | undefined;

function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * A small /proc file as text; undefined when it is gone (the process exited while we looked).
 * Throws only when the server is out of file descriptors, which proves nothing about the file.
 */
function readProcFile(path: string, whole = false): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (isOutOfDescriptors(error)) throw error;
    return undefined;
  }
  try {
    if (!whole) {
      const length = readSync(fd, statBuffer, 0, statBuffer.length, 0);
      return statBuffer.toString('latin1', 0, length);
    }
    bigBuffer ??= Buffer.allocUnsafe(64 * 1024);
    let length = 0;
    for (;;) {
      if (length === bigBuffer.length) {
        const larger = Buffer.allocUnsafe(bigBuffer.length * 2);
        bigBuffer.copy(larger);
        bigBuffer = larger;
      }
      const count = readSync(fd, bigBuffer, length, bigBuffer.length - length, null);
      if (count === 0) break;
      length += count;
    }
    return bigBuffer.toString('latin1', 0, length);
  } catch {
    return undefined; // ESRCH: it exited between open and read
  } finally {
    closeSync(fd);
  }
}

/** Parses one /proc/PID/stat line; the command name may hold spaces and parentheses. */
export function parseStat(
  line: string,
): { pid: number; state: string; pgid: number; sid: number; startTime: number } | null {
  const close = line.lastIndexOf(')');
  if (close < 0) {
    return null;
  }
  const pid = Number.parseInt(line, 10);
  // After ") ": state ppid pgrp session tty_nr … starttime (field 22 of the line, 20th here)
  const fields = line.slice(close + 2).split(' ');
  const state = fields[0];
  const pgid = Number(fields[2]);
  const sid = Number(fields[3]);
  const startTime = Number(fields[19]);
  if (
    state === undefined ||
    !Number.isInteger(pid) ||
    Number.isNaN(pgid) ||
    Number.isNaN(sid) ||
    fields[19] === undefined ||
    !Number.isSafeInteger(startTime)
  ) {
    return null;
  }
  return { pid, state, pgid, sid, startTime };
}

function toEntry(stat: NonNullable<ReturnType<typeof parseStat>>): ProcessEntry {
  // X (dead) is only ever seen for an instant, on its way out of the table.
  const zombie = stat.state === 'Z' || stat.state === 'X';
  return { pid: stat.pid, pgid: stat.pgid, zombie, state: stat.state, startTime: stat.startTime };
}

/** `12345.67 …` (seconds since boot) as clock ticks, the unit of start times (USER_HZ 100). */
function uptimeTicks(text: string): number {
  const match = /^(\d+)\.(\d\d)/.exec(text);
  return match === null ? Number.NaN : Number(match[1]) * 100 + Number(match[2]);
}

/** The pid allocator's counters now; undefined where /proc does not have them. */
export function readPidClock(root = PROC): PidClock | undefined {
  const uptime = readProcFile(`${root}/uptime`);
  const stat = readProcFile(`${root}/stat`, true);
  const loadavg = readProcFile(`${root}/loadavg`);
  if (uptime === undefined || stat === undefined || loadavg === undefined) {
    return undefined;
  }
  const forks = Number(/^processes (\d+)$/m.exec(stat)?.[1]);
  // `0.00 0.01 0.05 2/363 28014`: running/existing tasks, then the last pid handed out.
  const load = /^\S+ \S+ \S+ \d+\/(\d+) (\d+)/.exec(loadavg);
  const clock = {
    at: uptimeTicks(uptime),
    forks,
    tasks: Number(load?.[1]),
    lastPid: Number(load?.[2]),
  };
  return Object.values(clock).every(Number.isSafeInteger) ? clock : undefined;
}

/** /proc/sys/kernel/pid_max; Linux's historical default when it cannot be read. */
function readPidMax(root: string): number {
  const value = Number(readProcFile(`${root}/sys/kernel/pid_max`)?.trim());
  return Number.isSafeInteger(value) && value > 300 ? value : 32768;
}

/** One process now, or undefined when there is none with this pid. */
export function readProcess(pid: number, root = PROC): ProcessEntry | undefined {
  const stat = parseStat(readProcFile(`${root}/${pid}/stat`) ?? '');
  return stat === null || stat.pid !== pid ? undefined : toEntry(stat);
}

/** Reads the whole table under `root` (tests hand it a directory laid out like /proc). */
export function scanProcesses(root = PROC): ProcessScan {
  const startedAt = Date.now();
  const bySession = new Map<number, ProcessEntry[]>();
  const byPid = new Map<number, ProcessEntry>();
  let names: string[];
  let clock: PidClock | undefined;
  let complete = true;
  try {
    clock = readPidClock(root);
    names = readdirSync(root);
  } catch (error) {
    // ENOENT: not Linux (callers fall back to the shell's own process group); EMFILE: blind.
    const blind = isOutOfDescriptors(error);
    return {
      startedAt,
      at: Date.now(),
      clock: undefined,
      pidMax: 32768,
      available: blind,
      complete: false,
      bySession,
      byPid,
    };
  }
  for (const name of names) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) {
      continue;
    }
    let line: string | undefined;
    try {
      line = readProcFile(`${root}/${name}/stat`);
    } catch {
      complete = false; // out of descriptors: this one may exist all the same
      continue;
    }
    const stat = line === undefined ? null : parseStat(line);
    if (stat === null) {
      continue; // exited while we looked
    }
    const entry = toEntry(stat);
    byPid.set(entry.pid, entry);
    const members = bySession.get(stat.sid);
    if (members === undefined) {
      bySession.set(stat.sid, [entry]);
    } else {
      members.push(entry);
    }
  }
  let pidMax = 32768;
  try {
    pidMax = readPidMax(root);
  } catch {
    complete = false;
  }
  // Stamped when the scan ends: a scan that takes longer than the TTL (hundreds of processes on
  // a loaded machine) was otherwise stale at birth, and each of N terminating sessions scanned
  // again in turn, blocking the event loop for N scans (seconds at shutdown).
  return {
    startedAt,
    at: Date.now(),
    clock,
    pidMax,
    available: true,
    complete: complete && clock !== undefined,
    bySession,
    byPid,
  };
}

/**
 * The process table, shared: with `notBefore` (ms since the epoch) it comes from a scan started
 * after that moment, so sessions that signalled before it share one new scan instead of each
 * forcing its own.
 */
export function processScan(notBefore = 0): ProcessScan {
  if (
    snapshot === undefined ||
    Date.now() - snapshot.at > SNAPSHOT_TTL_MS ||
    snapshot.startedAt <= notBefore
  ) {
    snapshot = scanProcesses();
  }
  return snapshot;
}

/**
 * The processes whose session id is `sid` (a shell started by node-pty or the spawner leads its
 * own session, so sid is the shell's pid). Linux keeps a number allocated while it names a live
 * process, process group or session; whether the session found is still the shell's is for
 * terminate.ts to prove (a number comes back once all of them are gone).
 */
export function sessionMembers(sid: number, notBefore = 0): readonly ProcessEntry[] {
  return processScan(notBefore).bySession.get(sid) ?? [];
}

/** Forgets the shared scan, so the next question reads /proc again. */
export function invalidateProcessTable(): void {
  snapshot = undefined;
}
