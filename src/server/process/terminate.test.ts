// Which processes termination may signal, judged on made-up process tables: a pid that came
// back to another process is never the shell's, and a session whose leader is gone counts only
// when it is proven to be the shell's (test/reliability/faults.test.ts does it with real ones).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PidClock, ProcessEntry, ProcessScan } from './process-table.js';
import { judgeSession, mayHaveComeBack, type ShellIdentity } from './terminate.js';

const PID_MAX = 32768;

function entry(pid: number, startTime: number, extra: Partial<ProcessEntry> = {}): ProcessEntry {
  return { pid, pgid: pid, zombie: false, state: 'S', startTime, ...extra };
}

/** A table of processes, each in session `sid` unless given as `[sid, entry]`. */
function scan(
  clock: PidClock,
  processes: ReadonlyArray<readonly [number, ProcessEntry]>,
  complete = true,
): ProcessScan {
  const bySession = new Map<number, ProcessEntry[]>();
  const byPid = new Map<number, ProcessEntry>();
  for (const [sid, process] of processes) {
    byPid.set(process.pid, process);
    bySession.set(sid, [...(bySession.get(sid) ?? []), process]);
  }
  return {
    startedAt: 0,
    at: 0,
    clock,
    pidMax: PID_MAX,
    available: true,
    complete,
    bySession,
    byPid,
  };
}

const SHELL: ShellIdentity = { pid: 5000, startTime: 1000 };
/** When the shell was reaped: the spawner read these just before. */
const REAPED: PidClock = { at: 2000, forks: 90_000, lastPid: 6000, tasks: 300 };
const NOW: PidClock = { at: 2100, forks: 90_050, lastPid: 6050, tasks: 300 };

describe('judgeSession', () => {
  it('counts the whole session while the shell itself is there (same start time)', () => {
    const job = entry(5001, 1500, { pgid: 5001 });
    const zombie = entry(5002, 1600, { zombie: true, state: 'Z' });
    const verdict = judgeSession(
      SHELL,
      scan(NOW, [
        [5000, entry(5000, 1000)],
        [5000, job],
        [5000, zombie],
      ]),
      undefined,
    );
    assert.equal(verdict.kind, 'ours');
    assert.deepEqual(
      verdict.kind === 'ours' && verdict.members.map((member) => member.pid),
      [5000, 5001],
    );
    assert.deepEqual(verdict.kind === 'ours' && verdict.held, NOW, 'the scan is the new proof');
  });

  it('sees a recycled pid: the shell’s number with another start time ends the session', () => {
    // A new shell got the number after ours and all of its jobs were gone; it has jobs too.
    const stranger = entry(5000, 1800);
    const verdict = judgeSession(
      SHELL,
      scan(NOW, [
        [5000, stranger],
        [5000, entry(5003, 1900)],
      ]),
      REAPED,
    );
    assert.deepEqual(verdict, { kind: 'recycled', by: stranger });
  });

  it('sees a recycled pid even when the number is now an ordinary process elsewhere', () => {
    const verdict = judgeSession(SHELL, scan(NOW, [[4000, entry(5000, 1800)]]), REAPED);
    assert.equal(verdict.kind, 'recycled');
  });

  it('counts jobs that outlived their shell when one started before the proof', () => {
    const verdict = judgeSession(
      SHELL,
      scan(NOW, [
        [5000, entry(5004, 1999)],
        [5000, entry(5005, 2050)],
      ]),
      REAPED,
    );
    assert.equal(verdict.kind, 'ours');
    assert.equal(verdict.kind === 'ours' && verdict.members.length, 2);
  });

  it('counts jobs started since the proof while the allocator cannot have come back', () => {
    // 50 forks since the reaping; 5000 is almost a whole round away from the cursor at 6000.
    const verdict = judgeSession(SHELL, scan(NOW, [[5000, entry(5006, 2050)]]), REAPED);
    assert.equal(verdict.kind, 'ours');
  });

  it('is unsure of jobs started since the proof when the number may have come back', () => {
    // The cursor was right behind the number at the proof; 20 forks could have reached it.
    const near: PidClock = { ...REAPED, lastPid: 4990, tasks: 0 };
    const now: PidClock = { ...NOW, forks: REAPED.forks + 20 };
    const job = entry(5006, 2050);
    assert.deepEqual(judgeSession(SHELL, scan(now, [[5000, job]]), near), {
      kind: 'unsure',
      members: [job],
    });
    // Without any proof, the same.
    assert.equal(judgeSession(SHELL, scan(NOW, [[5000, job]]), undefined).kind, 'unsure');
  });

  it('is over when nothing has the number, and blind when /proc could not all be read', () => {
    assert.deepEqual(judgeSession(SHELL, scan(NOW, []), REAPED), { kind: 'gone' });
    assert.deepEqual(judgeSession(SHELL, scan(NOW, [], false), REAPED), { kind: 'blind' });
    // Only zombies left: nothing to signal.
    const zombie = entry(5007, 1500, { zombie: true, state: 'Z' });
    const verdict = judgeSession(SHELL, scan(NOW, [[5000, zombie]]), REAPED);
    assert.deepEqual(verdict.kind === 'ours' && verdict.members, []);
  });

  it('without a start time judges as before: whatever has the session id', () => {
    const verdict = judgeSession({ pid: 5000 }, scan(NOW, [[5000, entry(5008, 3000)]]), undefined);
    assert.equal(verdict.kind, 'ours');
  });
});

describe('mayHaveComeBack', () => {
  const at = (lastPid: number, forks: number, tasks = 0): PidClock => ({
    at: 0,
    forks,
    lastPid,
    tasks,
  });

  it('counts the numbers between the cursor and the pid, upward', () => {
    // From 1000 to 1100 the allocator passes 99 numbers: 24 forks (96 with the bound) are not
    // enough, 25 are.
    assert.equal(mayHaveComeBack(1100, at(1000, 0), at(0, 24), PID_MAX), false);
    assert.equal(mayHaveComeBack(1100, at(1000, 0), at(0, 25), PID_MAX), true);
  });

  it('goes round pid_max and starts again at 300', () => {
    // From 32000 round to 1000: 767 numbers to the top, then 700 from 300.
    const distance = PID_MAX - 32000 - 1 + (1000 - 300);
    const forks = Math.floor((distance - 1) / 4);
    assert.equal(mayHaveComeBack(1000, at(32000, 0), at(0, forks), PID_MAX), false);
    assert.equal(mayHaveComeBack(1000, at(32000, 0), at(0, forks + 1), PID_MAX), true);
  });

  it('counts numbers in use as passed: three per task (pid, group, session)', () => {
    assert.equal(mayHaveComeBack(2000, at(1000, 0, 100), at(0, 100), PID_MAX), false);
    assert.equal(mayHaveComeBack(2000, at(1000, 0, 300), at(0, 100), PID_MAX), true);
  });

  it('never brings back a pid below 300 once it has wrapped', () => {
    assert.equal(mayHaveComeBack(200, at(30000, 0), at(0, 1e9), PID_MAX), false);
  });

  it('brings back the pid the allocator just handed out only after a whole round', () => {
    assert.equal(mayHaveComeBack(5000, at(5000, 0), at(0, 8000), PID_MAX), false);
    assert.equal(mayHaveComeBack(5000, at(5000, 0), at(0, 8200), PID_MAX), true);
  });
});
