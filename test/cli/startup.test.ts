// The built command serving: the printed URL, where the token comes from, and --auth none.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CliProcess, assertNoStrayProcesses, processBaseline } from '../helpers/cli-process.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { isRunning } from '../helpers/processes.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/**
 * Deadlines, generous because the machine running the suites may be loaded; only a hang should
 * reach them. DEADLINE for a process to start or stop, WAIT for what a shell prints.
 */
const DEADLINE = 60_000;
const WAIT = { timeout: 30_000 };

/** A CLI serving on a free loopback port, with the shells it started for the test. */
interface Serving {
  readonly cli: CliProcess;
  readonly port: number;
  readonly wsUrl: string;
  /** Pids of the shells `openShell` saw, checked gone once the CLI has stopped. */
  readonly shells: number[];
}

/** Starts the CLI on a free loopback port and reads the port from the line it prints. */
async function startCli(args: string[], env: Record<string, string> = {}): Promise<Serving> {
  const cli = CliProcess.start({ args: ['--host', '127.0.0.1', '--port', '0', ...args], env });
  try {
    const printed = await cli.printed(DEADLINE);
    const port = Number(/^open http:\/\/127\.0\.0\.1:(\d+)\//.exec(printed)?.[1]);
    assert.ok(port > 0, `a port in ${JSON.stringify(printed)}`);
    return { cli, port, wsUrl: `ws://127.0.0.1:${port}/`, shells: [] };
  } catch (error) {
    await cli.kill();
    throw error;
  }
}

/**
 * Stops the CLI as an operator would (SIGTERM; SIGKILL only if that fails) and checks that it
 * took its shells with it: once they are orphans, no check of our descendants would see them.
 */
async function stopCli({ cli, shells }: Serving): Promise<void> {
  try {
    assert.deepEqual(await cli.stop('SIGTERM', DEADLINE), { code: 0, signal: null });
  } finally {
    await cli.kill();
    const left = shells.filter((pid) => isRunning(pid));
    for (const pid of left) {
      process.kill(pid, 'SIGKILL');
    }
    assert.deepEqual(left, [], 'shells left running after the CLI exited');
  }
}

/** Waits for the shell and reads its pid with `echo $$`: it runs and takes typed input. */
async function openShell(serving: Serving, client: LegacyClient | V1Client): Promise<void> {
  await client.opened;
  if (client instanceof V1Client) {
    await client.waitForHello(WAIT);
  }
  client.sendInput('echo shell-$$\r');
  // The echoed command line shows `$$`; only the output has digits there.
  const text = await client.waitForText(/shell-\d+\r\n/, WAIT);
  serving.shells.push(Number(/shell-(\d+)\r\n/.exec(text)?.[1]));
}

/** A client that offers `credential` is refused: the server checks the token. */
async function assertRefused(wsUrl: string, credential: string): Promise<void> {
  const client = new V1Client(wsUrl, { credential });
  assert.deepEqual(await client.closed, { code: 4001, reason: 'Authentication failed' });
}

describe('xterm-js-shell serving', { concurrency: 2 }, () => {
  let dir: string;
  let baseline: ReadonlySet<number>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-cli-startup-'));
    baseline = processBaseline();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await assertNoStrayProcesses(baseline);
  });

  it('prints one URL line with a generated token that opens a shell', async () => {
    const serving = await startCli([]);
    const { cli, port, wsUrl } = serving;
    try {
      const line = new RegExp(
        `^xterm-js-shell ${VERSION.replaceAll('.', '\\.')}: open http://127\\.0\\.0\\.1:${port}/#token=([A-Za-z0-9_-]{43})\\n$`,
      ).exec(cli.stdout);
      assert.ok(line !== null, `the URL line: ${JSON.stringify(cli.stdout)}`);
      const token = line[1] ?? '';
      const client = new V1Client(wsUrl, { credential: token });
      await openShell(serving, client);
      await assertRefused(wsUrl, `${token.slice(0, -1)}x`);
      client.close();
      await client.closed;
      assert.ok(!cli.stderr.includes(token), 'the token is never logged');
    } finally {
      await stopCli(serving);
    }
  });

  it('takes the token from --token-file and leaves it out of the URL', async () => {
    const token = 'file-token-0123456789abcdef';
    const file = join(dir, 'token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const serving = await startCli(['--token-file', file]);
    const { cli, port, wsUrl } = serving;
    try {
      assert.equal(cli.stdout, `xterm-js-shell ${VERSION}: open http://127.0.0.1:${port}/\n`);
      const client = new LegacyClient(wsUrl, { credential: token });
      await openShell(serving, client);
      await assertRefused(wsUrl, `${token}\n`);
      client.close();
      await client.closed;
      assert.ok(!cli.stderr.includes(token), 'the token is never logged');
    } finally {
      await stopCli(serving);
    }
  });

  it('takes the token from XTERM_JS_SHELL_TOKEN, and the shell cannot see it', async () => {
    const token = 'env-token-0123456789abcdef';
    const serving = await startCli([], { XTERM_JS_SHELL_TOKEN: token });
    const { cli, port, wsUrl } = serving;
    try {
      assert.equal(cli.stdout, `xterm-js-shell ${VERSION}: open http://127.0.0.1:${port}/\n`);
      await assertRefused(wsUrl, 'some-other-token-0123456789');
      const client = new V1Client(wsUrl, { credential: token });
      await openShell(serving, client);
      // `env` prints the shell's whole environment; the marker after it says it is complete.
      client.sendInput('env; echo env-done-$((1+1))\r');
      const text = await client.waitForText('env-done-2', WAIT);
      const environment = text.slice(text.indexOf('env;'), text.lastIndexOf('env-done-2'));
      assert.match(environment, /^TERM=xterm-256color\r?$/m, 'the env output arrived');
      assert.ok(!environment.includes('XTERM_JS_SHELL_'), `XTERM_JS_SHELL_ in ${environment}`);
      assert.ok(!environment.includes(token), 'the token is not in the environment');
      client.close();
      await client.closed;
      assert.ok(!cli.stderr.includes(token), 'the token is never logged');
    } finally {
      await stopCli(serving);
    }
  });

  it('with --auth none serves without a credential and warns on stderr', async () => {
    const serving = await startCli(['--auth', 'none']);
    const { cli, port, wsUrl } = serving;
    try {
      assert.equal(cli.stdout, `xterm-js-shell ${VERSION}: open http://127.0.0.1:${port}/\n`);
      const warning = cli.logs().find((line) => line.level === 40);
      assert.ok(warning !== undefined, `a warning on stderr: ${cli.stderr}`);
      assert.match(warning.msg, /authentication is off/);
      const client = new LegacyClient(wsUrl);
      await openShell(serving, client);
      client.close();
      await client.closed;
    } finally {
      await stopCli(serving);
    }
  });

  it('prints nothing but the URL line on stdout, and only JSON log lines on stderr', async () => {
    const serving = await startCli([]);
    await stopCli(serving);
    const { cli } = serving;
    assert.equal(cli.stdout.split('\n').length, 2, `stdout: ${JSON.stringify(cli.stdout)}`);
    const lines = cli.stderr.split('\n').filter((text) => text !== '');
    assert.ok(lines.length > 0, 'the CLI logged');
    for (const line of lines) {
      assert.doesNotThrow(() => JSON.parse(line), `a log line that is not JSON: ${line}`);
    }
  });
});
