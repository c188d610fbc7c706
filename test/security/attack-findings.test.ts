// The findings of the attack pass (F1, F2, F4, F5, F6 of the hardening issue), each reproduced
// as the attacker ran it; every test here failed against the server before its fix.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { SUBPROTOCOL_V1, encodeClientHello, encodeInput } from '../../src/protocol/v1.js';
import { MAX_BYTES_BEFORE_AUTH } from '../../src/server/connection/websocket-handler.js';
import { wsAttempt, within, type WsOutcome } from '../helpers/hostile.js';
import { ServerChild, mebibytes } from '../helpers/leaks.js';
import { login, type Login } from '../helpers/login.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];
const MiB = 1024 * 1024;

/**
 * Sends up to `frames` frames of 1 MiB as fast as the server reads them, never holding more
 * than 4 MiB in our own buffer, for at most `ms`; resolves with the frames that went out.
 */
async function flood(socket: WebSocket, frames: number, ms: number): Promise<number> {
  const frame = Buffer.from(encodeInput(Buffer.alloc(MiB - 16, 0x61)));
  const deadline = Date.now() + ms;
  let sent = 0;
  while (sent < frames && Date.now() < deadline && socket.readyState === WebSocket.OPEN) {
    if (socket.bufferedAmount > 4 * MiB) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    socket.send(frame);
    sent += 1;
  }
  return sent;
}

async function httpGet(
  url: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('F1: what a connection that has not authenticated can make the server hold', () => {
  let server: ServerChild;
  before(async () => {
    // Every refusal held 4 s: the attacker's sockets stay open while it floods them.
    server = await ServerChild.start({
      token: TEST_TOKEN,
      userShellCommand: SHELL,
      authThrottle: { freeAttempts: 0, baseDelay: 4, maxDelay: 4 },
    });
  });
  after(async () => {
    server.kill();
    await server.exited;
  });

  it('holds next to nothing for sockets flooding behind a refused hello', async () => {
    const before = server.snapshot().rssBytes;
    const attempts = Array.from({ length: 4 }, () => wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]));
    await Promise.all(attempts.map((attempt) => within(attempt.opened, 'the socket to open')));
    for (const attempt of attempts) {
      attempt.socket.send(encodeClientHello({ cols: 80, rows: 24, credential: 'wrong-guess' }));
    }
    const sent = await Promise.all(attempts.map((attempt) => flood(attempt.socket, 255, 2500)));
    const grown = server.snapshot().rssBytes - before;
    // The attack pass saw 1,041 MiB here. What is read is bounded by MAX_BYTES_BEFORE_AUTH and
    // one socket read per connection; the rest stays in the kernel's socket buffers.
    assert.ok(
      grown < 32 * MiB,
      `the server grew by ${mebibytes(grown)} (frames sent: ${sent.join(', ')})`,
    );
    assert.ok(
      sent.every((count) => count < 32),
      `the server kept reading while it judged: ${sent.join(', ')} frames went out`,
    );
    for (const attempt of attempts) {
      const outcome = await within(attempt.outcome, 'the refusal', 15_000);
      assert.equal(outcome.code, 4001);
    }
  });

  it('closes a socket that sends more than the limit before any hello, with the reason', async () => {
    const before = server.snapshot().rssBytes;
    const attempt = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]);
    await within(attempt.opened, 'the socket to open');
    const sent = await flood(attempt.socket, 255, 2500);
    const outcome = await within(attempt.outcome, 'the server to close');
    assert.equal(outcome.code, 4003);
    assert.equal(
      outcome.reason,
      `Protocol error: more than ${MAX_BYTES_BEFORE_AUTH / 1024} KiB sent before authentication`,
    );
    const grown = server.snapshot().rssBytes - before;
    assert.ok(grown < 16 * MiB, `the server grew by ${mebibytes(grown)} (frames sent: ${sent})`);
  });
});

describe('F2 and F4: strangers on the same address do not lock the user out', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    // The defaults: the throttle as shipped, a 5 s auth timeout.
    server = await startServer({ userShellCommand: SHELL });
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('lets the right token in at once while another local client fails once a second', async () => {
    let guessing = true;
    const guesses: Array<Promise<Login>> = [];
    const guesser = (async () => {
      for (let index = 0; guessing && index < 30; index++) {
        guesses.push(login(server.wsUrl, `wrong-guess-${index}`));
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
    // Long enough for the refusals to reach the 4 s cap, which used to queue the user behind.
    await new Promise((resolve) => setTimeout(resolve, 9000));
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(await login(server.wsUrl, TEST_TOKEN), { in: true, code: 1000, reason: '' });
    }
    guessing = false;
    await guesser;
    const refusals = await Promise.all(guesses);
    assert.ok(refusals.every((refusal) => !refusal.in && refusal.code === 4001));
  });

  it('serves the user while 1,000 unauthenticated sockets are reopened as they are cut', async () => {
    let flooding = true;
    let opened = 0;
    let evicted = 0;
    const keepOne = async (): Promise<void> => {
      while (flooding && opened < 20_000) {
        opened += 1;
        const attempt = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]);
        const outcome: WsOutcome = await attempt.outcome;
        if (outcome.code === 4012) evicted += 1;
      }
    };
    const flooders = Array.from({ length: 1030 }, () => keepOne());
    await waitFor(() => opened > 2000, { timeout: 30_000, message: 'the flood to be reopened' });
    for (let round = 0; round < 5; round++) {
      assert.deepEqual(await login(server.wsUrl, TEST_TOKEN), { in: true, code: 1000, reason: '' });
    }
    flooding = false;
    await Promise.all(flooders);
    assert.ok(evicted > 0, 'idle sockets made room (4012)');
    await waitFor(() => server.server.connections === 0, { message: 'every flood socket to end' });
  });
});

describe('F5: /metrics and /healthz tell strangers nothing', () => {
  let server: TestServer;
  let open: TestServer;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, metrics: true });
    open = await startServer({ userShellCommand: SHELL, metrics: true, auth: 'none' });
  });
  after(async () => {
    await server.close();
    await open.close();
  });

  it('asks for the credential on /metrics', async () => {
    const anonymous = await httpGet(`${server.httpUrl}metrics`);
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(anonymous.body, /xterm_js_shell_/);
    const wrong = await httpGet(`${server.httpUrl}metrics`, { Authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const right = await httpGet(`${server.httpUrl}metrics`, {
      Authorization: `Bearer ${TEST_TOKEN}`,
    });
    assert.equal(right.status, 200);
    assert.match(right.body, /xterm_js_shell_input_bytes_total/);
    assert.match(right.body, /xterm_js_shell_auth_failures_total\{reason="refused"\} [1-9]/);
  });

  it('answers /healthz with a bare status', async () => {
    const health = await httpGet(`${server.httpUrl}healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
  });

  it('without authentication, refuses every endpoint for a Host that can be rebound', async () => {
    const port = new URL(open.httpUrl).port;
    for (const path of ['metrics', 'healthz', '']) {
      const rebound = await httpGet(`${open.httpUrl}${path}`, { Host: `evil.example:${port}` });
      assert.equal(rebound.status, 403, path);
      const local = await httpGet(`${open.httpUrl}${path}`, { Host: `localhost:${port}` });
      assert.equal(local.status, 200, path);
    }
  });
});

describe('F6: X-Forwarded-For counts only from a trusted proxy', () => {
  let server: TestServer;
  let proxied: TestServer;
  const throttle = { freeAttempts: 2, baseDelay: 60, maxDelay: 60 };
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, authTimeout: 1, authThrottle: throttle });
    proxied = await startServer({
      userShellCommand: SHELL,
      authTimeout: 1,
      authThrottle: throttle,
      trustedProxies: ['127.0.0.1'],
    });
  });
  after(async () => {
    await server.close();
    await proxied.close();
  });

  it('ignores the header of a local client, so a fresh address per try gains nothing', async () => {
    const codes = [];
    for (let index = 0; index < 4; index++) {
      const result = await login(server.wsUrl, `wrong-${index}`, {
        'X-Forwarded-For': `198.51.100.${index + 1}`,
      });
      codes.push(result.code);
    }
    // Free, free, then held until the auth timeout: one peer, whatever the header said.
    assert.deepEqual(codes, [4001, 4001, 4002, 4002]);
  });

  it('believes it from a configured proxy', async () => {
    const codes = [];
    for (let index = 0; index < 4; index++) {
      const result = await login(proxied.wsUrl, `wrong-${index}`, {
        'X-Forwarded-For': `198.51.100.${index + 1}`,
      });
      codes.push(result.code);
    }
    assert.deepEqual(codes, [4001, 4001, 4001, 4001]);
  });
});

describe('a frame ws refuses before authentication', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, maxMessageBytes: 128 * 1024 });
  });
  after(() => server.close());

  it('frees the connection within the 2 s close handshake, not ws’s 30 s', async () => {
    const attempt = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]);
    await within(attempt.opened, 'the socket to open');
    attempt.socket.send(Buffer.alloc(200 * 1024, 0x01)); // over maxMessageBytes and 64 KiB
    assert.equal((await within(attempt.outcome, 'the close')).code, 1009);
    await waitFor(() => server.server.connections === 0, {
      timeout: 5000,
      message: 'the server to let the connection go',
    });
  });
});
