/**
 * Ends a shell's whole session: SIGHUP to the shell's process group (a login shell logs out and
 * hangs up its jobs), SIGKILL to every process still in the session after the logout wait, and
 * an error log when even that has not emptied it by the terminate wait.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sessionMembers, type ProcessEntry } from './process-table.js';
import { logDebugMin, type Logger } from '../logger.js';

export interface TerminateOptions {
  /** Milliseconds between SIGHUP and SIGKILL. */
  readonly logoutWaitMs: number;
  /** Milliseconds from the start after which termination gives up. */
  readonly terminateWaitMs: number;
  readonly log: Logger;
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

function signal(target: number, name: NodeJS.Signals): void {
  try {
    process.kill(target, name);
  } catch {
    // ESRCH: it is gone already, which is what we want. EPERM cannot happen for our own children.
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

/**
 * Processes of the session that can still be signalled (zombies are dead already), as seen by a
 * scan started after `notBefore` when given.
 */
function liveMembers(sid: number, notBefore?: number): ProcessEntry[] {
  return sessionMembers(sid, notBefore).filter((entry) => !entry.zombie);
}

/**
 * Terminates the session led by `shellPid`. Safe to call when the shell has exited already:
 * background jobs it left behind in its session are hung up and killed the same way.
 */
export async function terminateSession(
  shellPid: number,
  options: TerminateOptions,
): Promise<TerminateOutcome> {
  const { log } = options;
  const start = Date.now();
  const alive = (notBefore?: number): ProcessEntry[] | null => {
    const members = liveMembers(shellPid, notBefore);
    // Without /proc (not Linux) the list is empty: fall back to the shell itself.
    return members.length > 0 || isAlive(shellPid) ? members : null;
  };

  let members = alive();
  if (members === null) {
    return 'exited';
  }
  logDebugMin(log, { shellPid, processes: members.length }, 'sending SIGHUP to the shell');
  signal(-shellPid, 'SIGHUP');
  // Jobs the shell put in process groups of their own, or left behind when it exited.
  const groups = new Set(members.map((entry) => entry.pgid));
  groups.delete(shellPid);
  for (const pgid of groups) {
    signal(-pgid, 'SIGHUP');
  }

  let killed = false;
  /** When each process first got SIGKILL: only surviving it for a while means giving up. */
  const killedAt = new Map<number, number>();
  let lastRounds = 0;
  let lastKillAt = 0;
  for (;;) {
    await sleep(POLL_MS);
    members = alive();
    if (members === null) {
      return killed ? 'killed' : 'exited';
    }
    const elapsed = Date.now() - start;
    // Give up only once SIGKILL was sent and had a round to act: when the event loop runs late
    // (a loaded server, a shutdown of many shells) the first poll after the logout wait may
    // already be past the terminate wait, and the SIGKILL stage must not be skipped.
    if (killed && elapsed >= options.terminateWaitMs) {
      // Decide on a scan newer than our last SIGKILL (shared with the sessions that ask too).
      members = alive(lastKillAt);
      if (members === null) {
        return 'killed';
      }
      const now = Date.now();
      const dying = members.some(
        (entry) => entry.state !== 'D' || now - (killedAt.get(entry.pid) ?? now) < KILL_GRACE_MS,
      );
      if (dying && ++lastRounds < LAST_ROUNDS) {
        lastKillAt = killSession(shellPid, members, killedAt);
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
      lastKillAt = killSession(shellPid, members, killedAt);
    }
  }
}

/** SIGKILL to the shell and every member, noting when each was first sent it; returns now. */
function killSession(
  shellPid: number,
  members: readonly ProcessEntry[],
  killedAt: Map<number, number>,
): number {
  const now = Date.now();
  signal(shellPid, 'SIGKILL');
  for (const entry of members) {
    signal(entry.pid, 'SIGKILL');
    if (!killedAt.has(entry.pid)) {
      killedAt.set(entry.pid, now);
    }
  }
  return now;
}
