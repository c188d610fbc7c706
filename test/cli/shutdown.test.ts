// SIGTERM and SIGINT on the built command: every client closed with 1001, every shell and job gone, exit 0.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../../src/protocol/errors.js';
import { CliProcess, assertNoStrayProcesses, processBaseline } from '../helpers/cli-process.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { descendants, isRunning, sessionProcesses } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';

const SHUTDOWN = { code: 1001, reason: ERRORS.XJS_ERR_SHUTDOWN.reason };

/**
 * Deadlines, generous because the machine running the suites may be loaded; only a hang should
 * reach them. DEADLINE for a process to start or stop, WAIT for what a shell prints.
 */
const DEADLINE = 60_000;
const WAIT = { timeout: 30_000 };

type Client = LegacyClient | V1Client;

/** Runs `command` in the shell and returns the number printed after `label-`. */
async function readNumber(client: Client, command: string, label: string): Promise<number> {
  client.sendInput(`${command}\r`);
  // The typed command echoes too, but with `$$`/`$(...)` where the number will be.
  const text = await client.waitForText(new RegExp(`${label}-\\d+\\r\\n`), WAIT);
  return Number(new RegExp(`${label}-(\\d+)\\r\\n`).exec(text)?.[1]);
}

async function openShell(client: Client): Promise<number> {
  await client.opened;
  if (client instanceof V1Client) {
    await client.waitForHello(WAIT);
  }
  return readNumber(client, 'echo shell-$$', 'shell');
}

/** The pids a test must see gone, killed by pid in `finally` should the test fail first. */
function killLeftovers(pids: readonly number[]): void {
  for (const pid of pids) {
    if (isRunning(pid)) {
      process.kill(pid, 'SIGKILL');
    }
  }
}

describe('xterm-js-shell shutting down', { concurrency: 1 }, () => {
  let baseline: ReadonlySet<number>;
  before(() => {
    baseline = processBaseline();
  });
  after(() => assertNoStrayProcesses(baseline));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal} closes 3 live sessions with 1001, ends their shells and jobs, exits 0`, async () => {
      const cli = CliProcess.start({ args: ['--host', '127.0.0.1', '--port', '0'] });
      const pids: number[] = [];
      try {
        const printed = await cli.printed(DEADLINE);
        const match = /^open http:\/\/127\.0\.0\.1:(\d+)\/#token=(\S+)$/.exec(printed);
        assert.ok(match !== null, `the URL line: ${printed}`);
        const wsUrl = `ws://127.0.0.1:${match[1]}/`;
        const credential = match[2] ?? '';

        // One shell busy in the foreground, one with a background job, one idle at its prompt;
        // both wire formats.
        const busy = new V1Client(wsUrl, { credential });
        const background = new LegacyClient(wsUrl, { credential });
        const idle = new V1Client(wsUrl, { credential });
        const [busyShell, backgroundShell, idleShell] = await Promise.all([
          openShell(busy),
          openShell(background),
          openShell(idle),
        ]);
        pids.push(busyShell, backgroundShell, idleShell);

        busy.sendInput('yes > /dev/null\r');
        const yes = await waitFor(
          () => descendants(busyShell).find((info) => info.command === 'yes' && info.state !== 'Z'),
          { ...WAIT, message: '`yes` running in the busy shell' },
        );
        pids.push(yes.pid);

        background.sendInput('sleep 1000 &\r');
        const sleep = await readNumber(background, 'echo job-$(jobs -p)', 'job');
        pids.push(sleep);
        // Between fork and exec the job is still called bash: wait for the exec.
        await waitFor(
          () =>
            sessionProcesses(backgroundShell).some(
              (info) => info.pid === sleep && info.command === 'sleep',
            ),
          { ...WAIT, message: `sleep ${sleep} running in the session of shell ${backgroundShell}` },
        );
        for (const pid of pids) {
          assert.ok(isRunning(pid), `pid ${pid} runs before the signal`);
        }

        assert.deepEqual(await cli.stop(signal, DEADLINE), { code: 0, signal: null });

        for (const [name, client] of Object.entries({ busy, background, idle })) {
          assert.deepEqual(await client.closed, SHUTDOWN, `the ${name} client's close`);
        }
        assert.equal(busy.error?.code, 'XJS_ERR_SHUTDOWN', 'v1 clients get the error code');
        assert.equal(idle.error?.code, 'XJS_ERR_SHUTDOWN');
        assert.ok(
          background.frames.includes(`Error: ${ERRORS.XJS_ERR_SHUTDOWN.reason}`),
          `legacy clients get an Error: frame; got ${JSON.stringify(background.frames.slice(-3))}`,
        );
        // The CLI waits for its shells before it exits: by now none of them may be left.
        const left = pids.filter((pid) => isRunning(pid));
        assert.deepEqual(left, [], `still running after exit: ${left.join(', ')}`);
      } finally {
        await cli.kill();
        killLeftovers(pids);
      }
    });
  }
});
