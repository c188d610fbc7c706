// Reading /proc: stat lines whose command names hold spaces and parentheses, and session members.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '../../../test/helpers/wait-for.js';
import {
  invalidateProcessTable,
  parseStat,
  readPidClock,
  readProcess,
  scanProcesses,
  sessionMembers,
} from './process-table.js';

/** The fields after the command name of a real stat line, from `state` to `tty_nr` and on. */
const TAIL = '1 40 41 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345';

function ownStat(): ReturnType<typeof parseStat> & object {
  const stat = parseStat(readFileSync('/proc/self/stat', 'latin1'));
  assert.ok(stat !== null, 'parses /proc/self/stat');
  return stat;
}

describe('parseStat', () => {
  const lines: Array<[string, string]> = [
    ['a plain name', `42 (bash) S ${TAIL}`],
    ['a name with spaces', `42 (Web Content) S ${TAIL}`],
    ['a name with parentheses', `42 ((sd-pam)) S ${TAIL}`],
    ['a name that looks like the fields', `42 (x) S 9 9 9 (y) S ${TAIL}`],
    ['a name ending in ") "', `42 (a) ) S ${TAIL}`],
    ['a name with a newline', `42 (a\nb) S ${TAIL}`],
    ['an empty name', `42 () S ${TAIL}`],
  ];
  for (const [name, line] of lines) {
    it(`reads pid, state, process group and session past ${name}`, () => {
      assert.deepEqual(parseStat(line), {
        pid: 42,
        state: 'S',
        pgid: 40,
        sid: 41,
        startTime: 12345,
      });
    });
  }

  it('reads a zombie state', () => {
    assert.equal(parseStat(`7 (defunct) Z ${TAIL}`)?.state, 'Z');
  });

  for (const [name, line] of [
    ['an empty line', ''],
    ['no parentheses', '42 bash S 1 40 41'],
    ['nothing after the name', '42 (bash)'],
    ['too few fields', '42 (bash) S 1'],
    ['no start time', '42 (bash) S 1 40 41 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0'],
    ['a non-numeric start time', '42 (bash) S 1 40 41 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 x'],
    ['a non-numeric session', '42 (bash) S 1 40 x 0'],
    ['no pid', '(bash) S 1 40 41 0'],
  ]) {
    it(`returns null for ${name}`, () => {
      assert.equal(parseStat(line ?? ''), null);
    });
  }

  it('reads this process from /proc/self/stat', () => {
    const stat = ownStat();
    assert.equal(stat.pid, process.pid);
    assert.equal(stat.state, 'R');
  });
});

describe('sessionMembers', () => {
  const children: ChildProcess[] = [];
  after(async () => {
    // Whatever a failed test left behind: every live member of the children's sessions.
    invalidateProcessTable();
    for (const child of children) {
      for (const entry of sessionMembers(child.pid ?? -1).filter((member) => !member.zombie)) {
        try {
          process.kill(entry.pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
    }
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
          }),
      ),
    );
  });

  /** A child in a session of its own (as node-pty starts a shell), waiting on its stdin. */
  function startSessionLeader(script: string): ChildProcess & { pid: number } {
    const child = spawn('/bin/bash', ['--norc', '--noprofile', '-c', script], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    children.push(child);
    assert.ok(child.pid !== undefined, 'the child started');
    return child as ChildProcess & { pid: number };
  }

  it('includes this process in its own session', () => {
    invalidateProcessTable();
    const members = sessionMembers(ownStat().sid);
    assert.ok(
      members.some((entry) => entry.pid === process.pid && !entry.zombie),
      `pid ${process.pid} in ${JSON.stringify(members)}`,
    );
  });

  it('is empty for a session id no process can have', () => {
    invalidateProcessTable();
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    assert.deepEqual(sessionMembers(pidMax + 1), []);
  });

  it('finds a session leader whose command name has spaces and parentheses', async () => {
    // Writing /proc/self/comm renames the process as `ps` and /proc/PID/stat show it.
    const name = 'a) S 1 2 (b';
    const child = startSessionLeader(`printf %s '${name}' > /proc/$$/comm; read -r line`);
    await waitFor(() => readFileSync(`/proc/${child.pid}/comm`, 'latin1').trimEnd() === name, {
      message: 'the child to rename itself',
    });
    const stat = parseStat(readFileSync(`/proc/${child.pid}/stat`, 'latin1'));
    assert.deepEqual(stat, {
      pid: child.pid,
      state: 'S',
      pgid: child.pid,
      sid: child.pid,
      startTime: stat?.startTime,
    });
    assert.ok(Number.isSafeInteger(stat?.startTime) && (stat?.startTime ?? 0) > 0);
    invalidateProcessTable();
    assert.deepEqual(
      sessionMembers(child.pid).map((entry) => entry.pid),
      [child.pid],
    );
  });

  it('lists a background job of the session and marks an unreaped child as a zombie', async () => {
    // bash starts `sleep` and a `read` of its stdin in the background, then becomes `sleep`
    // itself. The `read` exits once the test writes a line; the new `sleep` never reaps it, so
    // it stays a zombie in the session until the leader dies.
    const leader = startSessionLeader('exec 3<&0; sleep 1000 & read -r line <&3 & exec sleep 1000');
    await waitFor(
      () => {
        invalidateProcessTable();
        const exec = readFileSync(`/proc/${leader.pid}/comm`, 'latin1') === 'sleep\n';
        return exec && sessionMembers(leader.pid).length === 3;
      },
      { message: 'the leader to become sleep, with two background jobs' },
    );
    leader.stdin?.write('done\n');
    const members = await waitFor(
      () => {
        invalidateProcessTable();
        const found = sessionMembers(leader.pid);
        return found.length === 3 && found.some((entry) => entry.zombie) ? found : undefined;
      },
      { message: 'three members, one a zombie' },
    );
    assert.ok(members.some((entry) => entry.pid === leader.pid && !entry.zombie));
    assert.equal(members.filter((entry) => entry.zombie).length, 1);
    assert.ok(members.every((entry) => entry.pgid === leader.pid));
    // The background sleep outlives its leader; end it by its pid as well.
    const background = members.filter((entry) => entry.pid !== leader.pid && !entry.zombie);
    assert.equal(background.length, 1);
    leader.kill('SIGKILL');
    for (const entry of background) {
      process.kill(entry.pid, 'SIGKILL');
    }
    await waitFor(
      () => {
        invalidateProcessTable();
        return sessionMembers(leader.pid).every((entry) => entry.zombie);
      },
      { message: 'the session to end' },
    );
  });
});

describe('scanProcesses on a /proc laid out in a directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'xjs-fake-proc-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  function stat(pid: number, name: string, state: string, sid: number, start: number): void {
    mkdirSync(join(root, String(pid)), { recursive: true });
    const tail = `1 ${pid} ${sid} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 ${start} 1 1`;
    writeFileSync(join(root, String(pid), 'stat'), `${pid} (${name}) ${state} ${tail}\n`);
  }

  it('reads start times, the pid allocator’s counters and pid_max', () => {
    writeFileSync(join(root, 'uptime'), '1234.56 2000.00\n');
    writeFileSync(join(root, 'loadavg'), '0.10 0.20 0.30 2/345 6789\n');
    // /proc/stat: the interrupt line may be long; the fork counter comes after it.
    const interrupts = Array.from({ length: 20_000 }, () => '0').join(' ');
    writeFileSync(
      join(root, 'stat'),
      `cpu  1 2 3 4\nintr 99 ${interrupts}\nctxt 5\nbtime 6\nprocesses 90123\nprocs_running 2\n`,
    );
    mkdirSync(join(root, 'sys', 'kernel'), { recursive: true });
    writeFileSync(join(root, 'sys', 'kernel', 'pid_max'), '4194304\n');
    stat(5000, 'bash', 'S', 5000, 1000);
    stat(5001, 'sleep (job)', 'S', 5000, 1500);
    stat(5002, 'defunct', 'Z', 5000, 1600);
    stat(6000, 'other', 'R', 6000, 2000);
    mkdirSync(join(root, 'self'), { recursive: true }); // not a pid: skipped

    assert.deepEqual(readPidClock(root), { at: 123456, forks: 90123, lastPid: 6789, tasks: 345 });
    const table = scanProcesses(root);
    assert.equal(table.available, true);
    assert.equal(table.complete, true);
    assert.equal(table.pidMax, 4194304);
    assert.deepEqual(table.clock, { at: 123456, forks: 90123, lastPid: 6789, tasks: 345 });
    assert.deepEqual(
      table.bySession.get(5000)?.map((entry) => [entry.pid, entry.startTime, entry.zombie]),
      [
        [5000, 1000, false],
        [5001, 1500, false],
        [5002, 1600, true],
      ],
    );
    assert.equal(table.byPid.get(6000)?.startTime, 2000);
    assert.deepEqual(readProcess(5001, root), {
      pid: 5001,
      pgid: 5001,
      zombie: false,
      state: 'S',
      startTime: 1500,
    });
    assert.equal(readProcess(7000, root), undefined);
  });

  it('says when there is no /proc at all', () => {
    const table = scanProcesses(join(root, 'missing'));
    assert.equal(table.available, false);
    assert.equal(table.bySession.size, 0);
  });

  it('reads this machine’s counters', () => {
    const clock = readPidClock();
    assert.ok(clock !== undefined, 'Linux /proc has them');
    assert.ok(clock.forks > 0 && clock.tasks > 0 && clock.lastPid > 0 && clock.at > 0);
    assert.equal(readProcess(process.pid)?.pid, process.pid);
  });
});
