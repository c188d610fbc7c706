// Shells that die hard or refuse to die: SIGKILL mid-output, and a shell that ignores SIGHUP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HandlerResult } from '../../src/server/index.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import {
  expectNothingLeftBehind,
  snapshotProcess,
  type ProcessSnapshot,
} from '../helpers/leaks.js';
import { isRunning, sessionProcesses } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const BASH = ['/bin/bash', '--norc', '--noprofile'];
const KILLED = 'shell killed by signal SIGKILL';
/** Seconds from SIGHUP to SIGKILL, and until termination gives up (startServer's defaults). */
const LOGOUT_WAIT = 0.5;
const TERMINATE_WAIT = 2;

type Protocol = 'v1' | 'legacy';

function connect(protocol: Protocol, url: string): V1Client | LegacyClient {
  return protocol === 'v1'
    ? new V1Client(url, { credential: TEST_TOKEN })
    : new LegacyClient(url, { credential: TEST_TOKEN });
}

/** The pty turns each `\n` into `\r\n`; these are the lines the program wrote. */
function lines(text: string): string[] {
  return text.split('\r\n');
}

function collectResults(server: TestServer): HandlerResult[] {
  const results: HandlerResult[] = [];
  server.server.on('connection-end', (result: HandlerResult) => results.push(result));
  return results;
}

function livingMembers(shellPid: number): number[] {
  return sessionProcesses(shellPid)
    .filter((info) => info.state !== 'Z')
    .map((info) => info.pid);
}

describe('a shell killed with SIGKILL', () => {
  let ownBefore: ProcessSnapshot;
  before(() => {
    ownBefore = snapshotProcess();
  });
  after(() => expectNothingLeftBehind(ownBefore));

  /** Lines the shell prints before it kills itself: several times the pty's own buffer. */
  const COUNT = 50_000;

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`delivers every byte it printed before the kill, then closes with the signal (${protocol})`, async () => {
      // The kill comes right behind the output, while most of it is still in the pty's buffer.
      const server = await startServer({
        userShellCommand: ['/bin/sh', '-c', `seq 1 ${COUNT}; echo end-$((6*7)); kill -KILL $$`],
      });
      try {
        const client = connect(protocol, server.wsUrl);
        assert.deepEqual(await client.closed, { code: 1000, reason: KILLED });
        const expected = Array.from({ length: COUNT }, (_, index) => String(index + 1));
        assert.deepEqual(lines(client.text()), [...expected, 'end-42', '']);
        if (client instanceof V1Client) {
          assert.deepEqual(client.exit, { code: null, signal: 'SIGKILL' });
        }
      } finally {
        await server.close();
      }
    });
  }

  it('ends with the signal while flooding, and its orphaned foreground job is ended too', async () => {
    const server = await startServer({ userShellCommand: BASH });
    const results = collectResults(server);
    try {
      const client = connect('v1', server.wsUrl) as V1Client;
      await client.opened;
      client.sendInput('echo "shell=$$"; seq 1 100000000\r');
      const shell = Number(/shell=(\d+)/.exec(await client.waitForText(/shell=\d+/))?.[1]);
      const floodStart = client.outputLength;
      await waitFor(() => client.outputLength > floodStart + 256 * 1024, {
        message: 'the flood to be under way',
      });
      const seq = sessionProcesses(shell).find((info) => info.command === 'seq');
      assert.ok(seq !== undefined, 'seq runs in the shell session');

      process.kill(shell, 'SIGKILL');
      assert.deepEqual(await client.closed, { code: 1000, reason: KILLED });
      assert.deepEqual(client.exit, { code: null, signal: 'SIGKILL' });
      // What arrived is an unbroken run of seq's lines, the last one perhaps cut short.
      const printed = lines(client.text().slice(client.text().indexOf('\r\n1\r\n') + 2));
      const complete = printed.slice(0, -1);
      assert.ok(complete.length > 1000, `${complete.length} lines arrived`);
      complete.forEach((line, index) => assert.equal(line, String(index + 1)));

      const result = await waitFor(() => results[0], { message: 'run() to resolve' });
      assert.deepEqual(result.reasons, [KILLED]);
      assert.notEqual(result.termination, 'gave-up');
      assert.equal(isRunning(seq.pid), false, 'seq, left without its shell, is ended');
      assert.deepEqual(livingMembers(shell), []);
    } finally {
      await server.close();
    }
  });
});

describe('a shell that exits while the server is busy', () => {
  let ownBefore: ProcessSnapshot;
  before(() => {
    ownBefore = snapshotProcess();
  });
  after(() => expectNothingLeftBehind(ownBefore));

  const COUNT = 50_000;

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`still delivers its last output (${protocol})`, async () => {
      const server = await startServer({
        userShellCommand: ['/bin/sh', '-c', `seq 1 ${COUNT}; echo end-$((6*7))`],
      });
      // The server runs in this process: keep its event loop three-quarters busy, as hundreds
      // of sessions would, while the shell prints and exits.
      const busy = setInterval(() => {
        const until = Date.now() + 30;
        while (Date.now() < until) {
          // a burst of work for other sessions
        }
      }, 10);
      try {
        const client = connect(protocol, server.wsUrl);
        assert.deepEqual(await client.closed, { code: 1000, reason: 'shell exit code 0' });
        clearInterval(busy);
        const printed = lines(client.text());
        assert.equal(printed.length, COUNT + 2, `${printed.length - 2} of ${COUNT + 1} lines`);
        assert.deepEqual(printed.slice(-3), [String(COUNT), 'end-42', '']);
      } finally {
        clearInterval(busy);
        await server.close();
      }
    });
  }
});

describe('a shell that ignores SIGHUP', () => {
  let ownBefore: ProcessSnapshot;
  let server: TestServer;
  let results: HandlerResult[];

  before(async () => {
    ownBefore = snapshotProcess();
    server = await startServer({
      userShellCommand: BASH,
      shellLogoutWait: LOGOUT_WAIT,
      shellTerminateWait: TERMINATE_WAIT,
      resumeWindow: 0,
    });
    results = collectResults(server);
  });
  after(async () => {
    await server.close();
    await expectNothingLeftBehind(ownBefore);
  });

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`is killed at the SIGKILL stage with its nohup job when the client leaves (${protocol})`, async () => {
      const ended = results.length;
      const logged = server.logs.length;
      const client = connect(protocol, server.wsUrl);
      await client.opened;
      client.sendInput(
        `trap '' HUP; nohup sleep 1000 >/dev/null 2>&1 & echo "job=$! shell=$$ trap=$(trap -p HUP)"\r`,
      );
      const text = await client.waitForText(/job=\d+ shell=\d+ trap=.+HUP/);
      const [, job, shell] = (/job=(\d+) shell=(\d+)/.exec(text) as RegExpExecArray).map(Number);
      assert.ok(job !== undefined && shell !== undefined);

      const closedAt = Date.now();
      client.close();
      assert.equal((await client.closed).code, 1000);
      const result = await waitFor(() => results[ended], {
        // The SIGKILL stage acts by the terminate wait; give-up would also resolve by then.
        timeout: (TERMINATE_WAIT + 3) * 1000,
        message: 'run() to resolve',
      });
      console.log(
        `# ${protocol}: run() resolved ${Date.now() - closedAt} ms after the close (logout wait ${LOGOUT_WAIT * 1000} ms, terminate wait ${TERMINATE_WAIT * 1000} ms), termination ${result.termination}`,
      );

      assert.equal(result.termination, 'killed', 'SIGHUP was not enough, SIGKILL was needed');
      assert.equal(result.shellPid, shell);
      assert.equal(isRunning(shell), false, 'the shell is gone');
      assert.equal(isRunning(job), false, 'its nohup job is gone');
      assert.deepEqual(livingMembers(shell), []);
      const warning = server.logs
        .slice(logged)
        .find((line) => line.msg.startsWith('shell still running after SIGHUP'));
      assert.ok(warning !== undefined, 'the SIGKILL stage is logged');
      assert.equal(
        server.logs.slice(logged).filter((line) => line.level >= 50).length,
        0,
        'no error: termination did not give up',
      );
    });
  }
});
