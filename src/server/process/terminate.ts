/**
 * Ends a shell's whole session: SIGHUP to the shell's process group (a login shell logs out and
 * hangs up its jobs), SIGKILL to every process still in the session after the logout wait, and
 * an error log when even that has not emptied it by the terminate wait.
 *
 * It never signals a number that may belong to another process by now. A pid, a process group
 * and a session are numbers, and Linux hands a number out again once nothing uses it; on a
 * machine with pid_max 32768 that happens every few minutes of forking. So every signal goes to
 * a process seen in /proc, checked again (same start time) just before, and the session itself
 * is proven to be the shell's before its members count (judgeSession, docs/operations.md).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  processScan,
  readProcess,
  type PidClock,
  type ProcessEntry,
  type ProcessScan,
} from './process-table.js';
import { logDebugMin, type Logger } from '../logger.js';

export interface TerminateOptions {
  /** Milliseconds between SIGHUP and SIGKILL. */
  readonly logoutWaitMs: number;
  /** Milliseconds from the start after which termination gives up. */
  readonly terminateWaitMs: number;
  readonly log: Logger;
}

/** Which shell a session is: its pid alone does not say once the shell has been reaped. */
export interface ShellIdentity {
  readonly pid: number;
  /** Its start time, clock ticks since boot as in /proc/PID/stat; undefined when unknown. */
  readonly startTime?: number | undefined;
  /**
   * The allocator's counters at a moment the shell's number was certainly still its session's
   * (read by the spawner, its parent, while it was not yet reaped: at its start and at its
   * reaping).
   */
  readonly heldProof?: PidClock | undefined;
}

/** `exited`: gone after SIGHUP; `killed`: SIGKILL was needed; `gave-up`: still there. */
export type TerminateOutcome = 'exited' | 'killed' | 'gave-up';

const POLL_MS = 50;
/**
 * Past the terminate wait, a process that is still there after its SIGKILL is given more polls
 * rather than an error when it is dying, not stuck: SIGKILL cannot be caught, so a process not
 * in uninterruptible sleep (state D) only waits to be scheduled (a loaded machine), and one that
 * got its SIGKILL within KILL_GRACE_MS may have been forked just before its parent's and seen
 * only now. At most LAST_ROUNDS polls: counted in polls, not milliseconds, because a server busy
 * ending a hundred shells polls late, and one late poll must not decide.
 */
const KILL_GRACE_MS = 250;
const LAST_ROUNDS = 20;
/** Linux hands out pids from here after it wraps round pid_max (RESERVED_PIDS). */
const FIRST_PID_AFTER_WRAP = 300;

/** What a scan says of the shell's session. */
export type SessionVerdict =
  /** Nothing of it is left. */
  | { readonly kind: 'gone' }
  /**
   * The shell's pid belongs to another process (another start time): Linux hands a number out
   * again only when no process of the session used it any more, so nothing of it is left.
   */
  | { readonly kind: 'recycled'; readonly by: ProcessEntry }
  /** Its processes still alive (zombies left out), and the new proof that the number is held. */
  | {
      readonly kind: 'ours';
      readonly members: readonly ProcessEntry[];
      readonly held: PidClock | undefined;
    }
  /**
   * Processes with the session's number, which cannot be proven to be the shell's: they may be
   * a new session that got the number once the old one was gone.
   */
  | { readonly kind: 'unsure'; readonly members: readonly ProcessEntry[] }
  /** The scan could not read all of /proc (out of descriptors): absence proves nothing. */
  | { readonly kind: 'blind' };

/**
 * How many numbers the allocator must pass, from the one it handed out last, before it hands
 * out `pid` again: it goes up to pid_max, then starts again at 300.
 */
function distanceTo(pid: number, lastPid: number, pidMax: number): number {
  if (pid > lastPid) {
    return pid - lastPid - 1;
  }
  if (pid < FIRST_PID_AFTER_WRAP) {
    return Number.POSITIVE_INFINITY; // never handed out again once the allocator has wrapped
  }
  return pidMax - lastPid - 1 + (pid - FIRST_PID_AFTER_WRAP);
}

/**
 * Whether `pid`, held at `held`, can have been handed to a new process by `now`. To get back to
 * it the allocator must pass every number on the way: each passed number was either handed out
 * (a fork, counted) or skipped as in use, and a number in use is some task's pid, process group
 * or session (at most 3 per task; tasks are those of `held` plus those created since). So it
 * cannot be back while 4 × forks + 3 × tasks is below the distance.
 */
export function mayHaveComeBack(
  pid: number,
  held: PidClock,
  now: PidClock,
  pidMax: number,
): boolean {
  const forks = now.forks - held.forks;
  return 4 * forks + 3 * held.tasks >= distanceTo(pid, held.lastPid, pidMax);
}

/**
 * Judges one scan: which processes are the session of `identity`, given `held`, the latest
 * moment its number was known to be the shell's. The number stays the shell's session's as long
 * as one of its processes lives (or is an unreaped zombie), so a scan proves it when it finds
 * the shell itself (same start time), or a process with the number that started before `held`
 * (it inherited it then, from the session), or when the allocator cannot have come back to the
 * number since `held`. Proven, every process of the scan in that session is the shell's (modulo
 * the time the scan itself takes: a new session would need the allocator to wrap round within
 * it), and the scan becomes the new `held`.
 */
export function judgeSession(
  identity: ShellIdentity,
  scan: ProcessScan,
  held: PidClock | undefined,
): SessionVerdict {
  const all = scan.bySession.get(identity.pid) ?? [];
  const live = all.filter((entry) => !entry.zombie);
  const ours = (): SessionVerdict => ({ kind: 'ours', members: live, held: scan.clock ?? held });
  const atPid = scan.byPid.get(identity.pid);
  if (identity.startTime === undefined) {
    // Unknown start (not from the spawner, and /proc did not answer at the start): as before.
    return all.length > 0 ? ours() : scan.complete ? { kind: 'gone' } : { kind: 'blind' };
  }
  if (atPid !== undefined) {
    return atPid.startTime === identity.startTime ? ours() : { kind: 'recycled', by: atPid };
  }
  if (!scan.complete) {
    return { kind: 'blind' };
  }
  if (all.length === 0) {
    return { kind: 'gone' };
  }
  if (held !== undefined) {
    if (all.some((entry) => entry.startTime < held.at)) {
      return ours();
    }
    if (scan.clock !== undefined && !mayHaveComeBack(identity.pid, held, scan.clock, scan.pidMax)) {
      return ours();
    }
  }
  return { kind: 'unsure', members: live };
}

function signal(target: number, name: NodeJS.Signals): void {
  try {
    process.kill(target, name);
  } catch {
    // ESRCH: it is gone already, which is what we want. EPERM cannot happen for our own children.
  }
}

/**
 * Signals `entry` (its process group with `group`) only if /proc still shows that same process
 * under its pid: the check and the kill are microseconds apart, where the scan may be 20 ms old.
 */
function signalProcess(entry: ProcessEntry, name: NodeJS.Signals, group = false): void {
  let now: ProcessEntry | undefined;
  try {
    now = readProcess(entry.pid);
  } catch {
    return; // out of descriptors: it cannot be checked, so it is not signalled (next poll)
  }
  if (now !== undefined && now.startTime === entry.startTime && !now.zombie) {
    signal(group ? -entry.pid : entry.pid, name);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The live members to act on, or null when the session is over (or was never ours to end). */
type Look = (notBefore?: number) => ProcessEntry[] | null;

/**
 * Terminates the session led by `shell` (its identity, or for callers that know only the pid, a
 * pid). Safe to call when the shell has exited already: background jobs it left behind in its
 * session are hung up and killed the same way.
 */
export async function terminateSession(
  shell: number | ShellIdentity,
  options: TerminateOptions,
): Promise<TerminateOutcome> {
  const identity: ShellIdentity = typeof shell === 'number' ? { pid: shell } : shell;
  const shellPid = identity.pid;
  const { log } = options;
  const start = Date.now();
  let held = identity.heldProof;
  let legacy = false;
  let unsureLogged = false;
  /** Set when a scan shows what is left cannot be proven to be the session's. */
  let unsure: readonly ProcessEntry[] | undefined;
  const look: Look = (notBefore) => {
    const scan = processScan(notBefore);
    if (!scan.available) {
      // Without /proc (not Linux) the list is empty: fall back to the shell itself.
      legacy = true;
      return isAlive(shellPid) ? [] : null;
    }
    // Its reaping, reported by the spawner meanwhile, is a newer proof than its start.
    const reported = identity.heldProof;
    if (reported !== undefined && (held === undefined || reported.forks > held.forks)) {
      held = reported;
    }
    const verdict = judgeSession(identity, scan, held);
    switch (verdict.kind) {
      case 'ours':
        held = verdict.held;
        return verdict.members.length > 0 ? [...verdict.members] : null;
      case 'gone':
        return null;
      case 'recycled':
        logDebugMin(
          log,
          { shellPid, by: verdict.by.pid },
          'the shell’s pid belongs to another process now: its session is over',
        );
        return null;
      case 'blind':
        return []; // nothing to signal this round; the next poll looks again
      case 'unsure':
        unsure = verdict.members;
        return null;
    }
  };

  let members = look();
  if (members === null) {
    return reportUnsure() ?? 'exited';
  }
  logDebugMin(log, { shellPid, processes: members.length }, 'sending SIGHUP to the shell');
  if (legacy) {
    signal(-shellPid, 'SIGHUP');
  } else {
    hangUp(members);
  }

  let killed = false;
  /** When each process first got SIGKILL: only surviving it for a while means giving up. */
  const killedAt = new Map<number, number>();
  let lastRounds = 0;
  let lastKillAt = 0;
  for (;;) {
    await sleep(POLL_MS);
    members = look();
    if (members === null) {
      return reportUnsure() ?? (killed ? 'killed' : 'exited');
    }
    const elapsed = Date.now() - start;
    // Give up only once SIGKILL was sent and had a round to act: when the event loop runs late
    // (a loaded server, a shutdown of many shells) the first poll after the logout wait may
    // already be past the terminate wait, and the SIGKILL stage must not be skipped.
    if (killed && elapsed >= options.terminateWaitMs) {
      // Decide on a scan newer than our last SIGKILL (shared with the sessions that ask too).
      members = look(lastKillAt);
      if (members === null) {
        return reportUnsure() ?? 'killed';
      }
      const now = Date.now();
      const dying = members.some(
        (entry) => entry.state !== 'D' || now - (killedAt.get(entry.pid) ?? now) < KILL_GRACE_MS,
      );
      if (dying && ++lastRounds < LAST_ROUNDS) {
        lastKillAt = killSession(shellPid, members, killedAt, legacy);
        continue;
      }
      log.error(
        {
          shellPid,
          processes: members.map((entry) => entry.pid),
          // What an operator needs to tell a process stuck in the kernel (D) from a slow one.
          left: members.map((entry) => ({
            pid: entry.pid,
            state: entry.state,
            killedMsAgo: now - (killedAt.get(entry.pid) ?? now),
          })),
          elapsedMs: elapsed,
        },
        'shell did not terminate; leaving it alive',
      );
      return 'gave-up';
    }
    if (elapsed >= options.logoutWaitMs) {
      if (!killed) {
        log.warn(
          { shellPid, processes: members.length },
          'shell still running after SIGHUP; sending SIGKILL to its session',
        );
        killed = true;
      }
      // Again on every round: a process forked meanwhile must not escape.
      lastKillAt = killSession(shellPid, members, killedAt, legacy);
    }
  }

  /** The one error log for processes that cannot be proven to be the session's. */
  function reportUnsure(): TerminateOutcome | undefined {
    if (unsure === undefined) {
      return undefined;
    }
    if (!unsureLogged) {
      unsureLogged = true;
      log.error(
        { shellPid, processes: unsure.map((entry) => entry.pid) },
        'cannot prove these processes are still the shell’s session (its number may have been ' +
          'handed to a new one); leaving them alive',
      );
    }
    return unsure.length > 0 ? 'gave-up' : undefined;
  }
}

/**
 * SIGHUP to each process group led by a member (processes forked meanwhile in it get it too),
 * and to each member whose group leader is gone, one by one.
 */
function hangUp(members: readonly ProcessEntry[]): void {
  const leaders = new Set<number>();
  for (const entry of members) {
    if (entry.pgid === entry.pid) {
      leaders.add(entry.pid);
      signalProcess(entry, 'SIGHUP', true);
    }
  }
  for (const entry of members) {
    if (!leaders.has(entry.pgid)) {
      signalProcess(entry, 'SIGHUP');
    }
  }
}

/** SIGKILL to every member, noting when each was first sent it; returns now. */
function killSession(
  shellPid: number,
  members: readonly ProcessEntry[],
  killedAt: Map<number, number>,
  legacy: boolean,
): number {
  const now = Date.now();
  if (legacy) {
    signal(shellPid, 'SIGKILL');
  }
  for (const entry of members) {
    signalProcess(entry, 'SIGKILL');
    if (!killedAt.has(entry.pid)) {
      killedAt.set(entry.pid, now);
    }
  }
  return now;
}
