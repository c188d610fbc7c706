// The CLI on a UNIX socket (--socket, --socket-mode) as a proxy reaches it: the page, /healthz
// and a shell over the socket; stale files replaced, live ones refused, the file gone on exit.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { V1Client } from '../helpers/clients.js';
import {
  assertNoStrayProcesses,
  CliProcess,
  processBaseline,
  TEST_PROMPT,
} from '../helpers/cli-process.js';

const TOKEN = 'unix-socket-token-0123456789';

function getOverSocket(
  socketPath: string,
  path: string,
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get({ socketPath, path, headers: { Host: 'shell.example.com' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          type: response.headers['content-type'] ?? '',
          body,
        }),
      );
    }).on('error', reject);
  });
}

function mode(path: string): number {
  return lstatSync(path).mode & 0o777;
}

describe('the CLI on a UNIX socket', () => {
  const baseline = processBaseline();
  let dir: string;
  const started: CliProcess[] = [];

  function start(args: readonly string[], env: Record<string, string> = {}): CliProcess {
    const cli = CliProcess.start({ args: ['--shell-logout-wait', '0.5', ...args], env });
    started.push(cli);
    return cli;
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-unix-'));
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((cli) => cli.kill()));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await assertNoStrayProcesses(baseline);
  });

  it('serves the page, /healthz and a shell on a socket of mode 0600, and says where', async () => {
    const path = join(dir, 'shell.sock');
    const cli = start(['--socket', path]);
    const line = await cli.printed();
    const token = /^listening on unix:(\S+); open it through your proxy with #token=(\S+)$/.exec(
      line,
    );
    assert.ok(token !== null, line);
    assert.equal(token[1], path);
    assert.equal(mode(path), 0o600);

    const page = await getOverSocket(path, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /<title>xterm-js-shell<\/title>/);
    assert.deepEqual(JSON.parse((await getOverSocket(path, '/healthz')).body), { status: 'ok' });

    const client = new V1Client(`ws+unix://${path}:/`, { credential: token[2] });
    await client.waitForHello();
    client.sendInput('echo unix-$((6*7))\r');
    await client.waitForText('unix-42');
    client.close();
    await client.closed;
  });

  it('creates the socket file with the mode --socket-mode gives', async () => {
    const path = join(dir, 'grouped.sock');
    const cli = start(['--socket', path, '--socket-mode', '0660'], { XTERM_JS_SHELL_TOKEN: TOKEN });
    assert.equal(await cli.printed(), `listening on unix:${path}; open it through your proxy`);
    assert.equal(mode(path), 0o660);
  });

  it('replaces the socket file a crashed server left behind', async () => {
    const path = join(dir, 'crashed.sock');
    const crashed = start(['--socket', path], { XTERM_JS_SHELL_TOKEN: TOKEN });
    await crashed.printed();
    assert.deepEqual(await crashed.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
    assert.ok(lstatSync(path).isSocket(), 'a killed server cannot remove its file');

    const next = start(['--socket', path], { XTERM_JS_SHELL_TOKEN: TOKEN });
    await next.printed();
    const client = new V1Client(`ws+unix://${path}:/`, { credential: TOKEN });
    await client.waitForText(TEST_PROMPT);
    client.close();
    await client.closed;
  });

  it('refuses a socket a live server answers on, naming --socket, and exits 2', async () => {
    const path = join(dir, 'taken.sock');
    const first = start(['--socket', path], { XTERM_JS_SHELL_TOKEN: TOKEN });
    await first.printed();
    const second = start(['--socket', path], { XTERM_JS_SHELL_TOKEN: TOKEN });
    assert.deepEqual(await second.exited, { code: 2, signal: null });
    assert.equal(
      second.stderr,
      `xterm-js-shell: --socket: ${path}: another server is listening on this socket\n`,
    );
    // The first server still owns its socket and serves on it.
    assert.equal((await getOverSocket(path, '/healthz')).status, 200);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`removes its socket file and exits 0 on ${signal}`, async () => {
      const path = join(dir, `${signal}.sock`);
      const cli = start(['--socket', path], { XTERM_JS_SHELL_TOKEN: TOKEN });
      await cli.printed();
      const client = new V1Client(`ws+unix://${path}:/`, { credential: TOKEN });
      await client.waitForText(TEST_PROMPT);
      assert.deepEqual(await cli.stop(signal), { code: 0, signal: null });
      assert.equal((await client.closed).code, 1001);
      assert.equal(existsSync(path), false);
    });
  }
});
