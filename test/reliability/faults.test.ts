// Faults, each with a test (hardening issue, section 4): --record-dir on a full filesystem, the
// server out of file descriptors, a spawner stopped or killed (and one that talks nonsense),
// and termination that never signals a pid handed to another process. Real processes, a real
// tmpfs, real rlimits, loopback only; every process started here is ended by its pid.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../src/server/index.js';
import { spawnShell } from '../../src/server/process/pty-process.js';
import { readPidClock, readProcess } from '../../src/server/process/process-table.js';
import {
  ShellSpawner,
  shellSpawner,
  spawnerUnavailable,
  spawnerUnavailableReason,
} from '../../src/server/process/shell-spawner.js';
import { terminateSession } from '../../src/server/process/terminate.js';
import { CliProcess, TEST_SHELL } from '../helpers/cli-process.js';
import { V1Client, type Closed } from '../helpers/clients.js';
import { cpuMilliseconds } from '../helpers/leaks.js';
import {
  descendants,
  descriptorTargets,
  isRunning,
  SPAWNER_COMMAND,
  type ProcInfo,
} from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type LogLine, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';
import { asciinemaCat } from '../helpers/asciinema.js';

const BASH = [...TEST_SHELL];

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    assert.fail(`${what}: this test must run as root (CI does); it is not skipped`);
  }
}

async function connectV1(url: string): Promise<V1Client> {
  const client = new V1Client(url, { credential: TEST_TOKEN });
  await client.waitForHello();
  return client;
}

/** Runs `command` in the client's shell and returns what it printed between two markers. */
async function run(client: V1Client, command: string, timeout = 10_000): Promise<string> {
  const marker = `m${Math.random().toString(36).slice(2, 8)}`;
  const [begin, end] = [`${marker}-begin\r\n`, `${marker}-end\r\n`];
  const start = client.text().length;
  client.sendInput(`printf '%s-begin\\n' ${marker}; ${command}; printf '%s-end\\n' ${marker}\r`);
  await client.waitForText(end, { timeout });
  const text = client.text().slice(start);
  return text.slice(text.indexOf(begin) + begin.length, text.indexOf(end));
}

/** The shell still runs and answers: the user's view of "unaffected". */
async function assertEchoes(client: V1Client, label: string): Promise<void> {
  assert.equal(await run(client, `echo ${label}-$((6*7))`), `${label}-42\r\n`, label);
}

function spawnersBelow(root: number): ProcInfo[] {
  return descendants(root, true).filter((info) => info.command === SPAWNER_COMMAND);
}

/** The spawner that started the client's shell: the shell's parent. */
async function spawnerOf(client: V1Client, root = process.pid): Promise<ProcInfo> {
  const shell = Number((await run(client, 'echo $$')).trim());
  const parent = descendants(root, true).find((info) => info.pid === shell)?.ppid;
  const spawner = spawnersBelow(root).find((info) => info.pid === parent);
  assert.ok(spawner, `the shell ${shell} has a spawner for a parent`);
  return spawner;
}

/** Resolves with how the socket closed, or undefined if it is still open after `ms`. */
async function closedWithin(client: V1Client, ms: number): Promise<Closed | undefined> {
  return Promise.race([client.closed, sleep(ms).then(() => undefined)]);
}

/** A logger whose lines the test reads. */
function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

function killIfRunning(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

describe('--record-dir on a full filesystem', () => {
  let dir: string;
  let mounted = false;
  let server: TestServer | undefined;
  before(() => {
    requireRoot('mounting a 256 KiB tmpfs for --record-dir');
    dir = mkdtempSync(join(tmpdir(), 'xjs-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir]);
    mounted = true;
  });
  after(async () => {
    await server?.close();
    if (mounted) execFileSync('umount', [dir]);
    if (dir !== undefined) rmdirSync(dir);
  });

  it('keeps every shell running, logs one error per session, counts it, and leaves whole events', async () => {
    server = await startServer({ userShellCommand: BASH, recordDir: dir, metrics: true });
    const logs = server.logs;
    const failures = (sessionId: string): LogLine[] =>
      logs.filter(
        (line) =>
          line.level === 50 &&
          line.msg.startsWith('recording stopped') &&
          String(line.path).includes(sessionId),
      );
    const clients: V1Client[] = [];
    const ids: string[] = [];
    // Three sessions, one after another, each printing more than the whole filesystem holds:
    // the first fills it, the later ones find it full (header or first output refused).
    for (let index = 0; index < 3; index++) {
      const client = await connectV1(server.wsUrl);
      const id = client.hello?.sessionId as string;
      clients.push(client);
      ids.push(id);
      await run(client, 'head -c 300000 /dev/zero | tr "\\0" a; echo');
      await waitFor(() => failures(id).length > 0, {
        message: `session ${index + 1}'s recording to fail`,
      });
    }
    // Each goes on printing, one event after another, well after its recording stopped.
    await Promise.all(
      clients.map((client) => run(client, 'for i in $(seq 40); do echo "x$i"; sleep 0.01; done')),
    );
    for (const [index, client] of clients.entries()) {
      await assertEchoes(client, `alive${index}`);
    }
    for (const id of ids) {
      assert.equal(failures(id).length, 1, `one error line for session ${id}, not one per write`);
      assert.match(failures(id)[0]?.msg ?? '', /the disk is full/);
    }
    const metrics = await fetch(`${server.httpUrl}metrics`, {
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
    }).then((response) => response.text());
    assert.match(metrics, /^xterm_js_shell_recording_failures_total 3$/m);

    for (const client of clients) {
      client.sendInput('exit\r');
      await client.closed;
    }
    // The documented state: cut to the events written whole (asciicast lines that parse), or
    // removed when not even the header was.
    for (const id of ids) {
      const failure = failures(id)[0] as LogLine;
      const path = String(failure.path);
      const kept = Number(failure.keptBytes);
      if (kept === 0) {
        await waitFor(() => !existsSync(path), { message: `${path} to be removed` });
        continue;
      }
      await waitFor(() => statSync(path).size === kept, { message: `${path} cut to ${kept}` });
      const text = readFileSync(path, 'utf8');
      assert.ok(text.endsWith('\n'), 'the file ends with a whole line');
      const [header, ...events] = text
        .slice(0, -1)
        .split('\n')
        .map((line) => JSON.parse(line) as unknown);
      assert.equal((header as { version: number }).version, 2);
      for (const event of events as unknown[][]) {
        assert.equal(typeof event[0], 'number');
        assert.ok(['o', 'r', 'i'].includes(event[1] as string));
      }
      // asciinema itself reads it, up to the moment the disk filled.
      const played = await asciinemaCat(path);
      const output = (events as unknown[][]).filter((event) => event[1] === 'o');
      assert.equal(played, output.map((event) => String(event[2])).join(''));
    }
    console.log(
      `# kept bytes per session: ${ids.map((id) => failures(id)[0]?.keptBytes).join(', ')}; ` +
        `files left: ${readdirSync(dir).length}`,
    );
  });
});

describe('the server out of file descriptors (prlimit --nofile=64)', () => {
  const LIMIT = 64;
  let cli: CliProcess;
  let port: number;
  const clients: V1Client[] = [];
  const sockets: Socket[] = [];
  before(async () => {
    cli = CliProcess.start({
      launcher: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`],
      args: ['--port', '0', '--shell-logout-wait', '0.5', '--shell-terminate-wait', '1'],
      env: { XTERM_JS_SHELL_TOKEN: TEST_TOKEN },
    });
    port = Number(/:(\d+)\//.exec(await cli.printed())?.[1]);
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    for (const client of clients) client.socket.terminate();
    await cli.kill();
  });

  it('refuses new shells with the reason and a warning, keeps the others, never spins, and recovers', async () => {
    const url = `ws://127.0.0.1:${port}/`;
    // Shells until one is refused: 64 descriptors hold a dozen or so.
    let refused: V1Client | undefined;
    for (let index = 0; index < 40 && refused === undefined; index++) {
      const client = new V1Client(url, { credential: TEST_TOKEN });
      await waitFor(() => client.hello !== undefined || client.closeInfo !== undefined, {
        message: `session ${index + 1} to start or be refused`,
      });
      if (client.hello === undefined) refused = client;
      else clients.push(client);
    }
    assert.ok(refused, 'a client was refused before 40 sessions');
    assert.ok(clients.length >= 5, `${clients.length} sessions fit`);
    console.log(`# ${clients.length} sessions fit in ${LIMIT} descriptors`);
    const closed = await refused.closed;
    assert.equal(closed.code, 4005);
    assert.match(closed.reason, /^Unable to start shell: out of file descriptors \(limit 64\)/);
    assert.equal(refused.error?.code, 'XJS_ERR_SPAWN_FAILED');
    assert.match(refused.error?.message ?? '', /ulimit -n or LimitNOFILE=/);
    const warning = await cli.waitForLog('unable to start shell');
    assert.equal(warning.level, 40, 'a warning, not an error: the operator has to raise a limit');

    // Fill what is left with bare TCP connections, until the server sheds them at accept
    // (libuv accepts and closes them when accept() fails with EMFILE).
    let shed = 0;
    for (let index = 0; index < 30; index++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => (shed += 1));
      sockets.push(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
    }
    await waitFor(() => shed > 0, { message: 'the server to shed connections at its limit' });
    const open = descriptorTargets(cli.pid).size;
    assert.ok(open >= LIMIT - 1, `${open} descriptors open: at the limit`);

    // At the limit, with connections arriving: no spinning on accept.
    const cpuBefore = cpuMilliseconds(cli.pid);
    const started = Date.now();
    for (let index = 0; index < 20; index++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
      await sleep(100);
    }
    const cpu = cpuMilliseconds(cli.pid) - cpuBefore;
    const window = Date.now() - started;
    console.log(`# at the limit: ${cpu} ms of server CPU in ${window} ms, ${shed} shed`);
    assert.ok(cpu <= 300, `server CPU ${cpu} ms over ${window} ms at the limit`);
    assert.equal(cli.exit, undefined, 'the server is still running');

    // The sessions it has are unaffected.
    for (const [index, client] of clients.entries()) {
      await assertEchoes(client, `fine${index}`);
    }

    // Descriptors come back: a new client gets a shell again.
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const client of clients.splice(0, 2)) {
      client.sendInput('exit\r');
      await client.closed;
    }
    await waitFor(() => descriptorTargets(cli.pid).size <= LIMIT - 12, {
      message: 'descriptors to be given back',
    });
    const fresh = await connectV1(url);
    clients.push(fresh);
    await assertEchoes(fresh, 'again');

    for (const client of clients.splice(0)) {
      client.sendInput('exit\r');
      await client.closed;
    }
    assert.deepEqual(await cli.stop(), { code: 0, signal: null });
  });
});

describe('a spawner stopped with SIGSTOP, killed mid-start, or talking nonsense', () => {
  let server: TestServer;
  /** Spawners stopped or started here: a failed test must not leave one behind. */
  const started: number[] = [];
  before(async () => {
    server = await startServer({ userShellCommand: BASH });
  });
  after(async () => {
    for (const pid of started) killIfRunning(pid);
    await server.close();
  });

  it('fails a start it does not answer after 5 s, is replaced, and the others carry on', async () => {
    const first = await connectV1(server.wsUrl);
    const spawner = await spawnerOf(first);
    started.push(spawner.pid);
    process.kill(spawner.pid, 'SIGSTOP');
    const since = Date.now();
    const waiting = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const closed = await closedWithin(waiting, 10_000);
    const elapsed = Date.now() - since;
    assert.ok(closed, 'the start got an answer within 10 s');
    console.log(`# a start waiting on a stopped spawner failed after ${elapsed} ms`);
    assert.equal(closed.code, 4005);
    assert.match(waiting.error?.message ?? '', /spawner did not answer for 5 s/);
    assert.ok(elapsed >= 4500 && elapsed < 8000, `failed after ${elapsed} ms`);
    // It was ended (SIGKILL reaches a stopped process), so it cannot act on that start later.
    await waitFor(() => !isRunning(spawner.pid), { message: 'the stopped spawner to be ended' });
    assert.ok(server.logs.some((line) => line.msg === 'shell spawner failed'));

    // The shell it had started lives on; its status went with the spawner.
    await assertEchoes(first, 'first');
    const next = await connectV1(server.wsUrl);
    const replacement = await spawnerOf(next);
    assert.notEqual(replacement.pid, spawner.pid);
    first.sendInput('exit 3\r');
    await first.closed;
    assert.deepEqual(first.exit, { code: null, signal: null });
    next.sendInput('exit 4\r');
    await next.closed;
    assert.deepEqual(next.exit, { code: 4, signal: null });
  });

  it('answers the start once continued with SIGCONT within the bound', async () => {
    const first = await connectV1(server.wsUrl);
    const spawner = await spawnerOf(first);
    started.push(spawner.pid);
    process.kill(spawner.pid, 'SIGSTOP');
    const waiting = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    assert.equal(await closedWithin(waiting, 1000), undefined);
    assert.equal(waiting.hello, undefined, 'no shell while the spawner is stopped');
    process.kill(spawner.pid, 'SIGCONT');
    await waiting.waitForHello({ timeout: 3000 });
    await assertEchoes(waiting, 'continued');
    assert.equal((await spawnerOf(waiting)).pid, spawner.pid, 'the same spawner');
    for (const client of [first, waiting]) {
      client.sendInput('exit 0\r');
      await client.closed;
      assert.deepEqual(client.exit, { code: 0, signal: null });
    }
  });

  it('fails a start on a malformed reply instead of dropping it, and starts a new spawner', async () => {
    const { log, lines } = capturingLogger();
    // A spawner program that reads a start and answers nonsense (no pid), then waits.
    const answer = (reply: string): ShellSpawner =>
      new ShellSpawner({
        command: ['/usr/bin/perl', '-e', `$| = 1; <STDIN>; print "${reply}\\n"; sleep 60`],
      });
    const request = { tty: '/dev/null', cwd: '/', argv: ['/bin/true'], env: {} };
    const spawner = answer('P 1 not-a-pid');
    const first = spawner.spawn(request, () => undefined, { log });
    const firstPid = spawner.pid as number;
    started.push(firstPid);
    await assert.rejects(first, /malformed reply \(a start reply needs an id and a pid\)/);
    await assert.rejects(first, /"P 1 not-a-pid"/);
    await waitFor(() => !isRunning(firstPid), { message: 'the lying spawner to be ended' });
    const failed = lines.filter((line) => line.msg === 'shell spawner failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.level, 50);
    // Not "cannot run here": the next start launches a new one (which lies again).
    assert.equal(spawner.broken, undefined);
    const second = spawner.spawn(request, () => undefined, { log });
    started.push(spawner.pid as number);
    assert.notEqual(spawner.pid, firstPid);
    await assert.rejects(second, /malformed reply/);

    // An answer to a start nobody asked for, and an exit of a shell it never started.
    for (const reply of ['P 7 4242 1 1 1 1 1', 'X 4242 0 - 1 1 1 1']) {
      const liar = answer(reply);
      const start = liar.spawn(request, () => undefined, { log });
      started.push(liar.pid as number);
      await assert.rejects(start, /it was not asked|unknown pid 4242/);
    }
  });

  it('is disabled for good only when it exits by itself before answering anything', async () => {
    const request = { tty: '/dev/null', cwd: '/', argv: ['/bin/true'], env: {} };
    const broken = new ShellSpawner({ command: ['/usr/bin/perl', '-e', 'exit 2'] });
    await assert.rejects(
      broken.spawn(request, () => undefined),
      /shell spawner exited \(code 2\); later shells are forked by node-pty/,
    );
    assert.equal(broken.broken, 'shell spawner exited (code 2)');
    const killed = new ShellSpawner({ command: ['/usr/bin/perl', '-e', 'sleep 60'] });
    const start = killed.spawn(request, () => undefined);
    process.kill(killed.pid as number, 'SIGKILL');
    await assert.rejects(start, /shell spawner exited \(SIGKILL\)$/);
    assert.equal(killed.broken, undefined);
  });

  it('is started again after being killed before it answered anything', async () => {
    await waitFor(() => spawnersBelow(process.pid).length === 0, {
      message: 'the idle spawner to end (a second after the last shell)',
    });
    const env = { PATH: '/usr/bin:/bin', HOME: tmpdir(), TERM: 'xterm-256color' };
    const starting = spawnShell(BASH, { cols: 80, rows: 24, env });
    // The spawner now exists and has not even read its script: kill it there.
    const pid = shellSpawner?.pid;
    assert.ok(pid !== undefined, 'a spawner was started for the shell');
    process.kill(pid, 'SIGKILL');
    await assert.rejects(starting, /shell spawner exited \(SIGKILL\)/);
    assert.equal(shellSpawner?.broken, undefined, 'a killed spawner is not "cannot run here"');
    const shell = await spawnShell(BASH, { cols: 80, rows: 24, env });
    try {
      const parent = descendants(process.pid, true).find((info) => info.pid === shell.pid);
      assert.ok(parent, 'the shell runs');
      const spawner = spawnersBelow(process.pid).find((info) => info.pid === parent.ppid);
      assert.ok(spawner, `the shell's parent (${parent.ppid}) is a new spawner, not this server`);
    } finally {
      const { log } = capturingLogger();
      await terminateSession(shell, { logoutWaitMs: 500, terminateWaitMs: 2000, log });
      shell.close();
    }
  });

  it('says once why it is not used where it cannot run', () => {
    assert.equal(spawnerUnavailableReason, undefined, 'it runs on this machine');
    assert.equal(spawnerUnavailable('darwin', true, true), 'not Linux (darwin)');
    assert.match(spawnerUnavailable('linux', false, true) ?? '', /\/usr\/bin\/perl is missing/);
    assert.match(spawnerUnavailable('linux', true, false) ?? '', /shell-spawner\.pl is missing/);
    assert.ok(!server.logs.some((line) => line.msg.startsWith('shells are forked by node-pty')));
  });
});

describe('SIGTERM while the spawner is stopped', () => {
  let cli: CliProcess;
  let spawnerPid: number | undefined;
  after(async () => {
    killIfRunning(spawnerPid);
    await cli?.kill();
  });

  it('still shuts down within the terminate wait plus 2 s, ending the spawner', async () => {
    const TERMINATE_WAIT = 1;
    cli = CliProcess.start({
      args: [
        '--port',
        '0',
        '--shell-logout-wait',
        '0.5',
        '--shell-terminate-wait',
        String(TERMINATE_WAIT),
      ],
      env: { XTERM_JS_SHELL_TOKEN: TEST_TOKEN },
    });
    const url = `ws://127.0.0.1:${/:(\d+)\//.exec(await cli.printed())?.[1]}/`;
    const first = await connectV1(url);
    const spawner = await spawnerOf(first, cli.pid);
    spawnerPid = spawner.pid;
    process.kill(spawner.pid, 'SIGSTOP');
    const waiting = new V1Client(url, { credential: TEST_TOKEN });
    await cli.waitForLog('authentication succeeded', (line) => line.conn === 'c2');
    await sleep(200); // its start goes out on a later turn of the server's event loop
    const started = Date.now();
    const exit = await cli.stop('SIGTERM');
    const elapsed = Date.now() - started;
    console.log(`# shutdown with a stopped spawner and a start waiting on it: ${elapsed} ms`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(elapsed < (TERMINATE_WAIT + 2) * 1000 + 1500, `shutdown took ${elapsed} ms`);
    assert.equal((await first.closed).code, 1001);
    assert.ok([1001, 4005].includes((await waiting.closed).code));
    assert.ok(cli.logs().some((line) => line.msg === 'shutdown complete'));
    const failed = cli.logs().find((line) => line.msg === 'shell spawner failed');
    assert.match(String(failed?.err), /did not answer for 0\.5 s/);
    await waitFor(() => !isRunning(spawner.pid), { message: 'the stopped spawner to be ended' });
  });
});

describe('termination never signals a pid that may be another process’s', () => {
  const started: number[] = [];
  after(() => {
    for (const pid of started) killIfRunning(pid);
  });

  /**
   * A session leader with a background job (what a recycled shell pid may belong to); with
   * `leave`, the leader exits at once and the job stays in its session.
   */
  async function stranger(leave = false): Promise<{ leader: number; job: number }> {
    const script = `sleep 300 & echo $!; ${leave ? 'exit 0' : 'wait'}`;
    const child: ChildProcess = spawn(
      '/usr/bin/setsid',
      ['/bin/bash', '--norc', '--noprofile', '-c', script],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const leader = child.pid as number;
    started.push(leader);
    let printed = '';
    child.stdout?.setEncoding('latin1').on('data', (text: string) => (printed += text));
    const job = await waitFor(() => Number(/^(\d+)\n/.exec(printed)?.[1]), {
      message: 'the stranger to start its job',
    });
    started.push(job);
    return { leader, job };
  }

  const waits = { logoutWaitMs: 200, terminateWaitMs: 1000 };

  it('leaves alone a process that has the shell’s pid but another start time', async () => {
    const { leader, job } = await stranger();
    const startTime = readProcess(leader)?.startTime as number;
    const { log } = capturingLogger();
    // As if our shell had this pid once, started a tick earlier, and was reaped since.
    const outcome = await terminateSession(
      { pid: leader, startTime: startTime - 1 },
      {
        ...waits,
        log,
      },
    );
    assert.equal(outcome, 'exited');
    await sleep(300);
    assert.ok(isRunning(leader) && isRunning(job), 'the stranger and its job were not signalled');

    // What the pid alone made termination do to whoever held the number: hang it up.
    assert.ok(['exited', 'killed'].includes(await terminateSession(leader, { ...waits, log })));
    await waitFor(() => !isRunning(leader) && !isRunning(job), {
      message: 'a bare pid to be hung up, whoever it is',
    });
  });

  it('leaves a leaderless session alone unless it can prove it is the shell’s', async () => {
    // The leader exits at once, leaving its job in the session: a shell reaped, or a stranger.
    const { leader: sid, job } = await stranger(true);
    await waitFor(() => !isRunning(sid), { message: 'the leader to exit' });
    const clock = readPidClock() as NonNullable<ReturnType<typeof readPidClock>>;
    const { log, lines } = capturingLogger();
    // Proof from long ago: before the job started, with the allocator right behind the number
    // and many forks since: the number may have come back to a new session.
    const stale = { at: 0, forks: clock.forks - 1_000_000, lastPid: sid - 1, tasks: clock.tasks };
    const outcome = await terminateSession(
      { pid: sid, startTime: 1, heldProof: stale },
      { ...waits, log },
    );
    assert.equal(outcome, 'gave-up');
    assert.ok(isRunning(job), 'an unproven process is not signalled');
    assert.ok(lines.some((line) => line.level === 50 && line.msg.startsWith('cannot prove')));

    // Proof from after the job started (the spawner reads it at the reaping): it is ended.
    const fresh = readPidClock() as NonNullable<ReturnType<typeof readPidClock>>;
    assert.equal(
      await terminateSession({ pid: sid, startTime: 1, heldProof: fresh }, { ...waits, log }),
      'exited',
    );
    await waitFor(() => !isRunning(job), { message: 'the proven job to be hung up' });
  });

  for (const forkServer of [false, true]) {
    const by = forkServer ? 'node-pty (where the spawner cannot run)' : 'the spawner';
    it(`gets the shell’s start time and pid counters from ${by}, at start and at exit`, async () => {
      await provesAndEndsJob(forkServer);
    });
  }

  async function provesAndEndsJob(forkServer: boolean): Promise<void> {
    const env = { PATH: '/usr/bin:/bin', HOME: tmpdir(), TERM: 'xterm-256color' };
    const shell = await spawnShell(BASH, { cols: 80, rows: 24, env, forkServer });
    const { log } = capturingLogger();
    try {
      assert.equal(shell.startTime, readProcess(shell.pid)?.startTime);
      const atStart = shell.heldProof;
      assert.ok(atStart !== undefined && atStart.forks > 0 && atStart.tasks > 0);
      // A job that ignores the hang-up outlives its shell, which exits and is reaped.
      let output = '';
      shell.onData((chunk) => (output += chunk.toString('latin1')));
      const exited = new Promise((resolve) => shell.onExit(resolve));
      shell.write("trap '' HUP; sleep 300 & echo job=$!; exit 5\r");
      const status = await exited;
      assert.deepEqual(status, { code: 5, signal: null });
      const job = Number(/job=(\d+)/.exec(output)?.[1]);
      started.push(job);
      assert.ok(isRunning(job), 'the job outlived its shell');
      assert.ok((shell.heldProof?.forks ?? 0) > atStart.forks, 'a newer proof, from the reaping');
      assert.equal(readProcess(shell.pid), undefined, 'the shell is reaped');
      // Its number is free, the job is proven to be its session's: it is killed.
      assert.equal(await terminateSession(shell, { ...waits, log }), 'killed');
      assert.ok(!isRunning(job));
    } finally {
      shell.close();
    }
  }
});
