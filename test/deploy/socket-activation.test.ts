// systemd socket activation with the real systemd-socket-activate: it binds, waits for the first
// connection, then execs the CLI with LISTEN_FDS; the CLI must serve that very connection.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { V1Client } from '../helpers/clients.js';
import {
  assertNoStrayProcesses,
  CliProcess,
  freePort,
  processBaseline,
  TEST_PROMPT,
} from '../helpers/cli-process.js';
import { waitFor } from '../helpers/wait-for.js';

const ACTIVATE = '/usr/bin/systemd-socket-activate';
const TOKEN = 'activation-token-0123456789';

/**
 * Starts systemd-socket-activate listening on `listen` (one or more `-l` addresses) and waits
 * until it does. It passes on only PATH, HOME and TERM of its own environment, so the rest
 * goes through -E.
 */
async function activate(
  listen: readonly string[],
  fdNames: string,
  args: readonly string[] = [],
): Promise<CliProcess> {
  const launcher = [
    ACTIVATE,
    ...listen.flatMap((address) => ['-l', address]),
    `--fdname=${fdNames}`,
    '-E',
    `XTERM_JS_SHELL_TOKEN=${TOKEN}`,
    '-E',
    `PS1=${TEST_PROMPT}`,
    '-E',
    'LANG=C.UTF-8',
  ];
  const cli = CliProcess.start({ launcher, args: ['--shell-logout-wait', '0.5', ...args] });
  await waitFor(
    () => listen.every((address) => cli.stderr.includes(`Listening on ${address} as `)),
    { message: `systemd-socket-activate to listen on ${listen.join(', ')}` },
  );
  assert.equal(cli.stdout, '', 'nothing runs before the first connection');
  return cli;
}

/** Runs commands in a shell reached at `url` and returns its output once `until` shows. */
async function runInShell(url: string, command: string, until: RegExp): Promise<string> {
  const client = new V1Client(url, { credential: TOKEN });
  try {
    await client.waitForHello({ timeout: 15_000 });
    await client.waitForText(TEST_PROMPT);
    client.sendInput(`${command}\r`);
    return await client.waitForText(until);
  } finally {
    client.close();
    await client.closed;
  }
}

/** What a shell prints about the activation it must not see: the variables and the sockets. */
const PROBE =
  'echo "activated-$((6*7)) fds=${LISTEN_FDS-unset} pid=${LISTEN_PID-unset} sockets=$(ls -l /proc/$$/fd | grep -c socket:)"';
const PROBE_OUTPUT = /activated-42 fds=unset pid=unset sockets=0/;

describe('systemd socket activation', () => {
  const baseline = processBaseline();
  let dir: string;
  let cli: CliProcess | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-activate-'));
  });
  afterEach(async () => {
    await cli?.kill();
    cli = undefined;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await assertNoStrayProcesses(baseline);
  });

  it('starts on the first TCP connection and serves a shell on it', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    cli = await activate([address], 'web');
    const output = await runInShell(`ws://${address}/`, PROBE, PROBE_OUTPUT);
    assert.match(output, PROBE_OUTPUT, 'the shell inherits neither LISTEN_* nor the socket');
    assert.equal(await cli.printed(), `open http://${address}/`);
    const taken = await cli.waitForLog(
      'socket activation: serving the sockets systemd passed (--host, --port and --socket are not used)',
    );
    assert.deepEqual(taken.fds, [{ fd: 3, name: 'web' }]);
    // The server is the process systemd-socket-activate became, not a child of it.
    assert.equal(taken.pid, cli.pid);
    assert.deepEqual(await cli.stop('SIGTERM'), { code: 0, signal: null });
  });

  it('starts on the first connection to a UNIX socket and serves a shell on it', async () => {
    const path = join(dir, 'activated.sock');
    cli = await activate([path], 'web');
    const output = await runInShell(`ws+unix://${path}:/`, PROBE, PROBE_OUTPUT);
    assert.match(output, PROBE_OUTPUT);
    assert.equal(
      await cli.printed(),
      `listening on fd 3 (web) unix:${path}; open it through your proxy`,
    );
    assert.deepEqual(await cli.stop('SIGTERM'), { code: 0, signal: null });
    // The file is systemd's (it binds it again for the next start): the server leaves it.
    assert.ok(lstatSync(path).isSocket());
  });

  it('serves every socket passed, TCP and UNIX, named from LISTEN_FDNAMES', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const path = join(dir, 'both.sock');
    cli = await activate([address, path], 'tcp:unix');
    // The first connection arrives on the second descriptor.
    assert.match(await runInShell(`ws+unix://${path}:/`, PROBE, PROBE_OUTPUT), PROBE_OUTPUT);
    assert.match(await runInShell(`ws://${address}/`, PROBE, PROBE_OUTPUT), PROBE_OUTPUT);
    const taken = await cli.waitForLog('listening');
    assert.deepEqual(taken.listening, [`fd 3 (tcp) ${address}`, `fd 4 (unix) unix:${path}`]);
    assert.deepEqual(await cli.stop('SIGTERM'), { code: 0, signal: null });
  });

  it('refuses --auth none on a passed TCP socket that is not loopback, exiting 2', async () => {
    const port = await freePort();
    cli = await activate([`0.0.0.0:${port}`], 'web', ['--auth', 'none']);
    const probe = connect({ host: '127.0.0.1', port });
    probe.on('error', () => {});
    assert.deepEqual(await cli.exited, { code: 2, signal: null });
    probe.destroy();
    assert.match(
      cli.stderr,
      new RegExp(
        `xterm-js-shell: --auth none on fd 3 \\(web\\) 0\\.0\\.0\\.0:${port} would give a shell to anyone`,
      ),
    );
    assert.equal(cli.stdout, '', 'nothing was served');
  });

  it('exits 0 when idle if the connection that started it never became a session', async () => {
    const path = join(dir, 'idle.sock');
    cli = await activate([path], 'web', ['--exit-when-idle', '1']);
    // A health probe that connects and leaves: it starts the server but opens no shell.
    const probe = connect({ path });
    await new Promise<void>((resolve, reject) => {
      probe.once('connect', () => resolve());
      probe.once('error', reject);
    });
    probe.end();
    await cli.waitForLog('listening', () => true, 15_000);
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    await cli.waitForLog('no connection for --exit-when-idle seconds');
    assert.ok(existsSync(path), "systemd's socket file stays for the next activation");
  });
});
