// Reading /proc: stat lines whose command names hold spaces and parentheses, and session members.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { waitFor } from '../../../test/helpers/wait-for.js';
import { invalidateProcessTable, parseStat, sessionMembers } from './process-table.js';

/** The fields after the command name of a real stat line, from `state` to `tty_nr` and on. */
const TAIL = '1 40 41 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345';

function ownStat(): { pid: number; state: string; pgid: number; sid: number } {
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
      assert.deepEqual(parseStat(line), { pid: 42, state: 'S', pgid: 40, sid: 41 });
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
    assert.deepEqual(parseStat(readFileSync(`/proc/${child.pid}/stat`, 'latin1')), {
      pid: child.pid,
      state: 'S',
      pgid: child.pid,
      sid: child.pid,
    });
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
