// The CLI sent SIGTERM while serving 100 shells, some busy, some with jobs: all end, exit 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import {
  expectNothingLeftBehind,
  snapshotProcess,
  type ProcessSnapshot,
} from '../helpers/leaks.js';
import { allProcesses, openDescriptors, type ProcInfo } from '../helpers/processes.js';
import { TEST_TOKEN } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const SESSIONS = 100;
/** The CLI's waits, in seconds: SIGHUP → SIGKILL, and giving up. */
const LOGOUT_WAIT = 1;
const TERMINATE_WAIT = 3;
/**
 * Slack on top of the waits for the whole shutdown: 100 terminations polling /proc, the close
 * handshakes (cut after 2 s) and process exit, on 2 cores that other suites share.
 */
const SHUTDOWN_SLACK_MS = 12_000;

/**
 * What each shell is doing when SIGTERM comes, by index modulo 10: busy on the CPU, flooding its
 * client, holding background jobs (one ignoring SIGHUP), ignoring SIGHUP itself, or idle. Every
 * tenth idle v1 page has vanished already, so its shell waits detached for a resume.
 */
type Role = 'cpu' | 'flood' | 'jobs' | 'deaf' | 'idle' | 'detached';

function roleOf(index: number): Role {
  const slot = index % 10;
  if (slot === 0) return 'cpu';
  if (slot === 1) return 'flood';
  if (slot === 2 || slot === 3) return 'jobs';
  if (slot === 4) return 'deaf';
  if (slot === 5 && index % 20 === 5) return 'detached';
  return 'idle';
}

interface Session {
  readonly role: Role;
  readonly client: V1Client | LegacyClient;
  readonly shell: number;
}

interface Cli {
  readonly child: ChildProcess;
  readonly port: number;
  readonly logs: Array<{ level: number; msg: string; [field: string]: unknown }>;
  /** Lines on stderr that are not log lines: Node's own warnings, a crash. */
  readonly otherStderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startCli(): Promise<Cli> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      '--port',
      '0',
      '--shell-logout-wait',
      String(LOGOUT_WAIT),
      '--shell-terminate-wait',
      String(TERMINATE_WAIT),
      '--',
      '/bin/bash',
      '--norc',
      '--noprofile',
    ],
    {
      env: { ...process.env, XTERM_JS_SHELL_TOKEN: TEST_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const logs: Cli['logs'] = [];
  const otherStderr: string[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter((entry) => entry !== '')) {
      try {
        logs.push(JSON.parse(line) as Cli['logs'][number]);
      } catch {
        otherStderr.push(line);
      }
    }
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => (stdout += text));
  const port = await waitFor(() => Number(/:(\d+)\/\s*$/m.exec(stdout)?.[1]), {
    message: `the CLI to print its URL (stderr: ${JSON.stringify(logs.slice(-3))})`,
  });
  return { child, port, logs, otherStderr, exited };
}

function sessionMembers(shells: ReadonlySet<number>): ProcInfo[] {
  return allProcesses().filter((info) => shells.has(info.sid));
}

/** Hang guard for each step of opening a session: 100 shells start on a shared 2-core host. */
const STEP = { timeout: 30_000 } as const;

/**
 * Opens a session and sets it doing what its role says; resolves once it is doing it. Its
 * shell's pid goes into `started` as soon as it is known, for the clean-up of a failed test.
 */
async function openSession(port: number, index: number, started: Set<number>): Promise<Session> {
  const role = roleOf(index);
  const url = `ws://127.0.0.1:${port}/`;
  const v1 = role === 'flood' || role === 'detached' || index % 2 === 0;
  const client = v1
    ? new V1Client(url, { credential: TEST_TOKEN })
    : new LegacyClient(url, { credential: TEST_TOKEN });
  await client.opened;
  client.sendInput('echo "shell=$$"\r');
  const shell = Number(/shell=(\d+)/.exec(await client.waitForText(/shell=\d+/, STEP))?.[1]);
  started.add(shell);
  const members = (): ProcInfo[] => sessionMembers(new Set([shell]));
  switch (role) {
    case 'cpu':
      client.sendInput('yes > /dev/null\r');
      await waitFor(() => members().some((info) => info.command === 'yes'), {
        ...STEP,
        message: 'yes',
      });
      break;
    case 'flood': {
      client.sendInput('cat /dev/urandom | base64\r');
      const start = client.outputLength;
      await waitFor(() => client.outputLength > start + 256 * 1024, {
        ...STEP,
        message: 'the flood',
      });
      break;
    }
    case 'jobs':
      // A plain job, one that ignores SIGHUP, and a subshell that ignores HUP and TERM.
      client.sendInput(
        'sleep 1000 & nohup sleep 1000 >/dev/null 2>&1 & (trap \'\' HUP TERM; while :; do sleep 1; done) & echo "jobs=$((1+2))"\r',
      );
      await client.waitForText('jobs=3', STEP);
      await waitFor(() => members().filter((info) => info.command === 'sleep').length >= 3, {
        ...STEP,
        message: 'three sleeping jobs',
      });
      break;
    case 'deaf':
      client.sendInput('trap \'\' HUP; echo "deaf=$((2+2))"\r');
      await client.waitForText('deaf=4', STEP);
      break;
    case 'idle':
    case 'detached':
      break;
  }
  return { role, client, shell };
}

/** SIGKILL to whatever is left of these sessions: a failed test must not leave shells behind. */
function endSessions(shells: ReadonlySet<number>): void {
  for (const info of sessionMembers(shells)) {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The built CLI, started after a snapshot of this process. */
async function startSuiteCli(): Promise<{ ownBefore: ProcessSnapshot; cli: Cli }> {
  assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const ownBefore = snapshotProcess();
  return { ownBefore, cli: await startCli() };
}

/**
 * Kills the CLI if a test left it running, ends what is left of `shells` (also what a crash's
 * hangup did not end), and checks that nothing outlives the suite.
 */
async function endSuiteCli(
  cli: Cli,
  shells: ReadonlySet<number>,
  ownBefore: ProcessSnapshot,
): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) {
    cli.child.kill('SIGKILL');
  }
  await cli.exited;
  endSessions(shells);
  await expectNothingLeftBehind(ownBefore, { timeout: 20_000 });
}

describe('the CLI sent SIGTERM while serving 100 live sessions', () => {
  let ownBefore: ProcessSnapshot;
  let cli: Cli;
  const shells = new Set<number>();

  before(async () => {
    ({ ownBefore, cli } = await startSuiteCli());
  });
  after(() => endSuiteCli(cli, shells, ownBefore));

  it('ends every shell and job within the waits, closes every client with 1001, exits 0', async () => {
    const sessions: Session[] = [];
    // Ten at a time, as pages would trickle in; all are live together before the signal.
    for (let index = 0; index < SESSIONS; index += 10) {
      const batch = Array.from({ length: 10 }, (_, offset) =>
        openSession(cli.port, index + offset, shells),
      );
      sessions.push(...(await Promise.all(batch)));
    }
    assert.equal(shells.size, SESSIONS);

    // Some pages vanish first: their shells wait, detached, for a resume that will not come.
    const detached = sessions.filter((session) => session.role === 'detached');
    for (const session of detached) {
      session.client.socket.terminate();
    }
    await waitFor(
      () =>
        cli.logs.filter((line) => line.msg.startsWith('shell detached')).length >= detached.length,
      { message: `${detached.length} shells to be detached` },
    );

    const members = sessionMembers(shells);
    const living = members.filter((info) => info.state !== 'Z');
    const byCommand = new Map<string, number>();
    for (const info of living) {
      byCommand.set(info.command, (byCommand.get(info.command) ?? 0) + 1);
    }
    console.log(
      `# before SIGTERM: ${living.length} processes in ${shells.size} shell sessions: ${JSON.stringify(Object.fromEntries(byCommand))}`,
    );

    const signalledAt = Date.now();
    cli.child.kill('SIGTERM');
    const exit = await waitFor(
      () =>
        cli.child.exitCode !== null || cli.child.signalCode !== null
          ? { code: cli.child.exitCode, signal: cli.child.signalCode }
          : undefined,
      {
        timeout: (LOGOUT_WAIT + TERMINATE_WAIT) * 1000 + SHUTDOWN_SLACK_MS,
        message: 'the CLI to exit',
        interval: 10,
      },
    );
    const exitedAfter = Date.now() - signalledAt;
    // Right at exit: nothing of any shell session may still run (an orphan), and no shell may
    // be an unreaped zombie of the server (it would be reparented, still a zombie, now).
    const leftAtExit = sessionMembers(shells);
    const orphans = leftAtExit.filter((info) => info.state !== 'Z');
    const zombieShells = leftAtExit.filter((info) => shells.has(info.pid));
    const zombieJobs = leftAtExit.filter((info) => info.state === 'Z' && !shells.has(info.pid));
    console.log(
      `# SIGTERM → exit ${exit.code} after ${exitedAfter} ms (waits ${LOGOUT_WAIT} + ${TERMINATE_WAIT} s); at exit: ${orphans.length} orphans, ${zombieShells.length} zombie shells, ${zombieJobs.length} dead jobs awaiting init's reaping`,
    );

    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(orphans, [], 'no process of any shell session outlived the server');
    assert.deepEqual(zombieShells, [], 'the server reaped every shell it started');

    const connected = sessions.filter((session) => session.role !== 'detached');
    const closes = await Promise.all(connected.map((session) => session.client.closed));
    const codes = new Map<number, number>();
    for (const { code } of closes) {
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(codes), { 1001: connected.length }, 'close codes');

    assert.ok(
      cli.logs.some((line) => line.msg === 'shutdown complete'),
      'the CLI logged its shutdown',
    );
    const errors = cli.logs.filter((line) => line.level >= 50);
    assert.deepEqual(errors, [], 'no errors (termination never gave up)');
    const killed = cli.logs.filter((line) =>
      line.msg.startsWith('shell still running after SIGHUP'),
    ).length;
    console.log(`# ${killed} sessions needed the SIGKILL stage`);
    assert.ok(killed >= sessions.filter((session) => session.role === 'deaf').length);

    // Jobs that died after their shell are reparented to init; it reaps them in its own time.
    await waitFor(() => sessionMembers(shells).length === 0, {
      timeout: 20_000,
      message: 'init to reap the last dead jobs',
    });
    // Last, so that a warning does not hide the checks above.
    assert.deepEqual(cli.otherStderr, [], 'Node printed no warnings for the CLI');
  });
});

describe('the CLI killed with SIGKILL (a crash, the OOM killer)', () => {
  let ownBefore: ProcessSnapshot;
  let cli: Cli;
  const shells = new Set<number>();

  before(async () => {
    ({ ownBefore, cli } = await startSuiteCli());
  });
  after(() => endSuiteCli(cli, shells, ownBefore));

  it('leaves no shell running: the pty hangup ends them, the spawner what ignores it', async () => {
    const idle: Session[] = [];
    for (let index = 0; index < 4; index += 1) {
      // Idle shells, v1 and legacy, that do not ignore SIGHUP: the kernel's hangup alone must
      // end them once the server's end of their pty is closed.
      idle.push(await openSession(cli.port, 10 * index + 6 + (index % 2), shells));
    }
    // Opened last, a shell that ignores SIGHUP and waits for a job that ignores it too: the
    // hangup cannot end it (nor does it read its terminal), and it must not keep the others
    // alive.
    const deaf = await openSession(cli.port, 44, shells);
    assert.equal(deaf.role, 'deaf');
    deaf.client.sendInput('sleep 1000\r');
    await waitFor(
      () => sessionMembers(new Set([deaf.shell])).some((info) => info.command === 'sleep'),
      { ...STEP, message: 'the deaf shell to wait for its sleep' },
    );

    cli.child.kill('SIGKILL');
    await cli.exited;
    const others = new Set(idle.map((session) => session.shell));
    await waitFor(() => sessionMembers(others).every((info) => info.state === 'Z'), {
      message: 'every idle shell to end with its pty',
    }).catch(() => undefined); // the assertion says which survived, and what keeps them
    const survivors = sessionMembers(others).filter((info) => info.state !== 'Z');
    const masters = (pid: number): number =>
      openDescriptors(pid).filter((target) => target === '/dev/ptmx').length;
    assert.deepEqual(
      survivors.map((info) => `${info.command} ${info.pid}`),
      [],
      `shells outlived the server; the SIGHUP-ignoring shell holds ${masters(deaf.shell)} pty masters of other sessions`,
    );
    // The spawner outlives the server, hangs up its shells and kills their sessions 3 s later
    // (docs/spawner.md): the deaf shell and its deaf job too.
    const deafSession = new Set([deaf.shell]);
    await waitFor(() => sessionMembers(deafSession).every((info) => info.state === 'Z'), {
      timeout: 10_000,
      message: 'the shell that ignores SIGHUP, and its job, to be killed after the crash',
    }).catch(() => undefined);
    assert.deepEqual(
      sessionMembers(deafSession)
        .filter((info) => info.state !== 'Z')
        .map((info) => `${info.command} ${info.pid}`),
      [],
      'processes that ignore SIGHUP outlived the server by more than 10 s',
    );
  });
});
