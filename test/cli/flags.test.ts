// The built command refuses bad flags and bad tokens with exit 2 and a message naming the culprit.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CliProcess, type CliProcessOptions } from '../helpers/cli-process.js';
import { waitFor } from '../helpers/wait-for.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/**
 * How long a process may take to start or stop before the test gives up. Generous: the machine
 * the suites run on may be loaded, and only a hang should ever reach it.
 */
const DEADLINE = 60_000;

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built CLI to its end. One still running after the deadline (it took a bad flag and
 * started serving) is killed, and the test fails.
 */
async function runCli(
  args: string[],
  options: Omit<CliProcessOptions, 'args'> = {},
): Promise<Finished> {
  const cli = CliProcess.start({ args, ...options });
  try {
    const exit = await waitFor(() => cli.exit, {
      timeout: DEADLINE,
      message: `xterm-js-shell ${args.join(' ')} to exit`,
    });
    return { ...exit, stdout: cli.stdout, stderr: cli.stderr };
  } finally {
    await cli.kill();
  }
}

/**
 * Asserts the usage-error contract: exit 2, one `xterm-js-shell: ` message naming `culprit` on
 * stderr, and no URL on stdout and no log line (the server never started).
 */
function assertUsageError(result: Finished, culprit: string): void {
  assert.equal(result.code, 2, `exit code; stderr ${JSON.stringify(result.stderr)}`);
  assert.equal(result.stdout, '', 'nothing on stdout: no URL was printed');
  assert.ok(
    result.stderr.startsWith('xterm-js-shell: '),
    `stderr starts with "xterm-js-shell: ": ${JSON.stringify(result.stderr)}`,
  );
  assert.ok(result.stderr.includes(culprit), `stderr names ${culprit}: ${result.stderr}`);
  assert.ok(!result.stderr.includes('{"level"'), `no server log: ${result.stderr}`);
}

describe('xterm-js-shell with bad flags', { concurrency: 2 }, () => {
  // Every message comes from parseCliArgs, whose unit tests try each flag; these prove the path
  // from a parse error to stderr and the exit code, once per kind of mistake.
  const cases: Array<[string[], string]> = [
    [['--port', '65536'], '--port'],
    [['--port'], '--port'],
    [['--host', ''], '--host'],
    [['--auth', 'basic'], '--auth'],
    [['--log-level', 'verbose'], '--log-level'],
    [['--auth-timeout', '0'], '--auth-timeout'],
    [['--shell-terminate-wait=-1'], '--shell-terminate-wait'],
    [['--allowed-origin', 'example.com'], '--allowed-origin'],
    [['--auth', 'none', '--token-file', '/etc/hostname'], '--token-file'],
    [['--bogus'], '--bogus'],
    [['/bin/bash'], '--'],
  ];
  for (const [args, culprit] of cases) {
    it(`exits 2 for ${args.join(' ')}, naming ${culprit}`, async () => {
      // --port 0 first: were a bad flag taken, the server would not collide with anything.
      const port = args.includes('--port') ? [] : ['--port', '0'];
      assertUsageError(await runCli([...port, ...args]), culprit);
    });
  }

  it('exits 2 for -- without a command, naming --', async () => {
    assertUsageError(await runCli(['--port', '0'], { shell: [] }), '--');
  });
});

describe('xterm-js-shell with a bad token', { concurrency: 2 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-cli-flags-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming --token-file when the file does not exist', async () => {
    const result = await runCli(['--port', '0', '--token-file', join(dir, 'missing')]);
    assertUsageError(result, '--token-file');
    assert.match(result.stderr, /ENOENT/);
  });

  it('exits 2 naming --token-file when the token in it is shorter than 16 characters', async () => {
    const file = join(dir, 'short');
    writeFileSync(file, 'x'.repeat(15) + '\n');
    assertUsageError(await runCli(['--port', '0', '--token-file', file]), '--token-file');
  });

  it('exits 2 naming --token-file when the file is empty', async () => {
    const file = join(dir, 'empty');
    writeFileSync(file, '');
    assertUsageError(await runCli(['--port', '0', '--token-file', file]), '--token-file');
  });

  it('exits 2 naming XTERM_JS_SHELL_TOKEN when that token is too short', async () => {
    assertUsageError(
      await runCli(['--port', '0'], { env: { XTERM_JS_SHELL_TOKEN: 'short-token' } }),
      'XTERM_JS_SHELL_TOKEN',
    );
  });
});

describe('xterm-js-shell on a port in use', () => {
  let blocker: Server;
  let port: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('exits 2 naming --port and saying the address is in use', async () => {
    const result = await runCli(['--host', '127.0.0.1', '--port', String(port)]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, '', 'no URL was printed');
    assert.match(result.stderr, /^xterm-js-shell: .*--port.*in use/m);
  });
});

describe('xterm-js-shell --help and --version', { concurrency: 2 }, () => {
  for (const flag of ['--help', '-h']) {
    it(`${flag} prints the usage on stdout and exits 0`, async () => {
      const result = await runCli([flag]);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, '');
      assert.match(
        result.stdout,
        /^Usage: xterm-js-shell \[options\] \[-- command \[args\.\.\.\]\]\n/,
      );
      assert.match(result.stdout, /--token-file FILE/);
    });
  }

  for (const flag of ['--version', '-V']) {
    it(`${flag} prints the package version and exits 0`, async () => {
      const result = await runCli([flag]);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, '');
      assert.equal(result.stdout, `${VERSION}\n`);
    });
  }
});
