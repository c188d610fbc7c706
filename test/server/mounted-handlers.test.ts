// The shell mounted in an app of its own under /shell/: the app keeps its own paths, the shell
// answers below /shell/ with the ready server's headers, API, origin check and auth, and a
// command typed through the socket there runs in a real bash.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  createLogger,
  createShellHandlers,
  createShellServer,
  type ShellHandlers,
} from '../../src/server/index.js';
import { WebSocketServer } from 'ws';
import { V1Client } from '../helpers/clients.js';
import { RawConnection, upgradeRequest, wsAttempt, within } from '../helpers/hostile.js';
import { login } from '../helpers/login.js';
import { descendants } from '../helpers/processes.js';
import { TEST_TOKEN } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];

async function upgradeStatus(port: number, path: string, origin?: string): Promise<number> {
  const connection = await RawConnection.open(port);
  try {
    connection.write(upgradeRequest(port, { Origin: origin }, `GET ${path} HTTP/1.1`));
    return (await connection.responseHead())?.status ?? 0;
  } finally {
    connection.destroy();
  }
}

describe('createShellHandlers under /shell/ in an app of its own', () => {
  let shell: ShellHandlers;
  let app: Server;
  let base: string;
  let port: number;
  const logs: string[] = [];
  const baseline = descendants().length;

  before(async () => {
    shell = createShellHandlers({
      basePath: '/shell',
      token: TEST_TOKEN,
      userShellCommand: SHELL,
      shellLogoutWait: 0.5,
      resumeWindow: 0,
      logger: createLogger({
        level: 'debug',
        destination: new Writable({
          write(chunk: Buffer, _encoding, done) {
            logs.push(chunk.toString('utf8'));
            done();
          },
        }),
      }),
    });
    app = createServer((request, response) =>
      shell.handleRequest(request, response, () => {
        response.writeHead(200, { 'Content-Type': 'text/plain' }).end(`app: ${request.url}`);
      }),
    );
    app.on('upgrade', (request, socket, head) =>
      shell.handleUpgrade(request, socket, head, () => {
        socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\n\r\n');
      }),
    );
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    port = (app.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await shell.close();
    await new Promise((resolve) => app.close(resolve));
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('normalises the base path and leaves every other path to the app', async () => {
    assert.equal(shell.basePath, '/shell/');
    for (const path of ['/', '/shellfish', '/other/shell/', '/healthz']) {
      const response = await fetch(base + path);
      assert.equal(await response.text(), `app: ${path}`, path);
      assert.equal(response.headers.get('content-security-policy'), null, path);
    }
  });

  it('serves the page at /shell/ with the ready server’s headers, and redirects /shell there', async () => {
    const page = await fetch(`${base}/shell/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>/);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const redirect = await fetch(`${base}/shell?theme=light`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/shell/?theme=light');
    assert.deepEqual(await (await fetch(`${base}/shell/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${base}/shell/nothing-here`)).status, 404);
  });

  it('answers the session API below /shell/ with the credential only, from its own origin only', async () => {
    const url = `${base}/shell/api/sessions`;
    assert.equal((await fetch(url)).status, 401);
    const auth = { Authorization: `Bearer ${TEST_TOKEN}` };
    const listed = await fetch(url, { headers: auth });
    assert.equal(listed.status, 200);
    assert.deepEqual(await listed.json(), { sessions: [] });
    const foreign = await fetch(url, { headers: { ...auth, Origin: 'https://evil.example' } });
    assert.equal(foreign.status, 403);
  });

  it('runs a command through the socket at /shell/', async () => {
    const client = new V1Client(`ws://127.0.0.1:${port}/shell/`, { credential: TEST_TOKEN });
    await client.waitForHello();
    assert.equal(shell.connections, 1);
    client.sendInput('echo mounted-$((6*7))\r');
    await client.waitForText('mounted-42');
    client.close();
    await client.closed;
    await waitFor(() => shell.connections === 0, { message: 'the connection to end' });
  });

  it('refuses another site’s upgrade (403), a wrong token (4001), and hands other paths on', async () => {
    assert.equal(await upgradeStatus(port, '/shell/', 'https://evil.example'), 403);
    assert.ok(
      logs.some((line) => line.includes('another origin') && line.includes('evil.example')),
    );
    assert.equal(await upgradeStatus(port, '/shell/assets/x'), 404);
    assert.equal(await upgradeStatus(port, '/chat'), 418);
    const refused = await login(`ws://127.0.0.1:${port}/shell/`, 'not-the-token-at-all');
    assert.deepEqual([refused.in, refused.code], [false, 4001]);
  });

  it('never logs the token', () => {
    assert.ok(logs.length > 0);
    assert.ok(!logs.some((line) => line.includes(TEST_TOKEN)));
  });
});

describe('createShellHandlers without a next handler, and bad options', () => {
  it('answers 404 for paths and upgrades outside the base path', async () => {
    const shell = createShellHandlers({ basePath: '/x/', auth: 'none', logLevel: 'error' });
    const app = createServer(shell.handleRequest).on('upgrade', shell.handleUpgrade);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const port = (app.address() as AddressInfo).port;
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/y`)).status, 404);
      assert.equal(await upgradeStatus(port, '/y'), 404);
      assert.equal((await fetch(`http://127.0.0.1:${port}/x/healthz`)).status, 200);
    } finally {
      await shell.close();
      await new Promise((resolve) => app.close(resolve));
    }
  });

  it('refuses a base path that is not a plain absolute path, naming the option', () => {
    for (const basePath of ['shell/', '//evil.example/', '/a/../b/', '/a?b', '/a#b']) {
      assert.throws(
        () => createShellHandlers({ basePath, auth: 'none' }),
        /options\.basePath must be an absolute path/,
        basePath,
      );
    }
  });

  it('is what the ready server runs: its page and socket under a base path too', async () => {
    const server = createShellServer({ basePath: '/s/', auth: 'none', logLevel: 'error' });
    const { port } = await server.listen(0, '127.0.0.1');
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/s/`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
    } finally {
      await server.close();
    }
  });
});

describe('createShellHandlers.handleConnection, behind a ws server of the app', () => {
  it('runs a command, and closes another site’s socket with 4016', async () => {
    const baseline = descendants().length;
    const shell = createShellHandlers({
      basePath: '/shell/',
      token: TEST_TOKEN,
      userShellCommand: SHELL,
      shellLogoutWait: 0.5,
      resumeWindow: 0,
      logLevel: 'error',
    });
    const app = createServer(shell.handleRequest);
    const wss = new WebSocketServer({ server: app, path: '/shell/', maxPayload: 1 << 20 });
    wss.on('connection', shell.handleConnection);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(app.address() as AddressInfo).port}/shell/`;
    try {
      const client = new V1Client(url, { credential: TEST_TOKEN });
      await client.waitForHello();
      client.sendInput('echo own-ws-$((6*7))\r');
      await client.waitForText('own-ws-42');
      client.close();
      await client.closed;
      const foreign = wsAttempt(url, ['xterm-js-shell.v1'], { Origin: 'https://evil.example' });
      assert.equal((await within(foreign.outcome, 'the refusal')).code, 4016);
    } finally {
      await shell.close();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => app.close(resolve));
    }
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });
});
