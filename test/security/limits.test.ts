// The server's limits, seen from a client: frame size (1009), connection count (4006), terminal
// size, slow handshakes, the auth timeout, and no shell before authentication.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SUBPROTOCOL_V1, encodeInput, encodeResize } from '../../src/protocol/v1.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import {
  OPCODE,
  RawConnection,
  encodeFrame,
  rawClose,
  rawUpgrade,
  upgradeRequest,
  wsAttempt,
  within,
} from '../helpers/hostile.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];
const MAX_MESSAGE = 64 * 1024;

function noStrayProcesses(baseline: number): Promise<unknown> {
  return waitFor(() => descendants().length === baseline, {
    message: `descendants back to ${baseline}; now ${JSON.stringify(descendants().map((p) => p.command))}`,
  });
}

describe('the frame size limit', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, maxMessageBytes: MAX_MESSAGE });
  });
  after(async () => {
    await server.close();
    await noStrayProcesses(baseline);
  });

  it('closes with 1009 a frame one byte too big, before authentication', async () => {
    const v1 = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]);
    await within(v1.opened, 'the socket to open');
    v1.socket.send(Buffer.alloc(MAX_MESSAGE + 1));
    assert.equal((await within(v1.outcome, 'the server to close')).code, 1009);

    const legacy = wsAttempt(server.wsUrl);
    await within(legacy.opened, 'the socket to open');
    legacy.socket.send('x'.repeat(MAX_MESSAGE + 1));
    assert.equal((await within(legacy.outcome, 'the server to close')).code, 1009);
  });

  it('closes with 1009 a frame one byte too big in a running session', async () => {
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await client.waitForHello();
    client.socket.send(encodeInput(Buffer.alloc(MAX_MESSAGE, 0x61)));
    assert.equal((await within(client.closed, 'the connection to close')).code, 1009);
  });

  it('accepts a frame of exactly the limit, and the session goes on', async () => {
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const hello = await client.waitForHello();
    assert.equal(hello.limits.maxMessageBytes, MAX_MESSAGE);
    client.socket.send(encodeInput(Buffer.alloc(MAX_MESSAGE - 1, 0x61)));
    client.sendInput('\x15echo limit-$((20+22))\r'); // Ctrl+U drops the long line first
    await client.waitForText('limit-42');
    client.close();
    assert.equal((await within(client.closed, 'the connection to close')).code, 1000);
  });
});

describe('the connection limit', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, maxConnections: 2 });
  });
  after(async () => {
    await server.close();
    await noStrayProcesses(baseline);
  });

  it('turns away one connection more with 4006, the reason and a warning', async () => {
    const first = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const second = new LegacyClient(server.wsUrl, { credential: TEST_TOKEN });
    await first.waitForHello();
    await within(second.opened, 'the socket to open');
    await waitFor(() => server.server.connections === 2);

    const third = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    assert.deepEqual(await within(third.closed, 'the connection to close'), {
      code: 4006,
      reason: 'Too many connections',
    });
    assert.equal(third.error?.code, 'XJS_ERR_SERVER_FULL');
    const fourth = new LegacyClient(server.wsUrl, { credential: TEST_TOKEN });
    assert.deepEqual(await within(fourth.closed, 'the connection to close'), {
      code: 4006,
      reason: 'Too many connections',
    });
    assert.deepEqual(fourth.frames, ['Error: Too many connections']);
    const warning = server.logs.find((line) => line.level === 40 && line.maxConnections === 2);
    assert.match(warning?.msg ?? '', /--max-connections/);

    first.close();
    await within(first.closed, 'the connection to close');
    await waitFor(() => server.server.connections === 1);
    const next = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await next.waitForHello();
    next.close();
    second.close();
    await within(Promise.all([next.closed, second.closed]), 'both to close');
  });
});

describe('the terminal size', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL });
  });
  after(async () => {
    await server.close();
    await noStrayProcesses(baseline);
  });

  it('is clamped to 2000 columns and 1000 rows, at the start and on resize (v1)', async () => {
    const client = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      cols: 65535,
      rows: 65535,
    });
    await client.waitForHello();
    client.sendInput('echo size=$(stty size)\r');
    await client.waitForText('size=1000 2000');
    client.resize(50000, 3);
    client.sendInput('echo again=$(stty size)\r');
    await client.waitForText('again=3 2000');
    client.close();
    await within(client.closed, 'the connection to close');
  });

  it('is clamped on a legacy resize too', async () => {
    const client = new LegacyClient(server.wsUrl, { credential: TEST_TOKEN });
    await within(client.opened, 'the socket to open');
    client.resize(99999, 99999);
    client.sendInput('echo size=$(stty size)\r');
    await client.waitForText('size=1000 2000');
    client.close();
    await within(client.closed, 'the connection to close');
  });

  it('of zero is a protocol error (4003) in v1', async () => {
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await client.waitForHello();
    const zero = Buffer.from(encodeResize(1, 1));
    zero.writeUInt16BE(0, 1);
    client.socket.send(zero);
    const closed = await within(client.closed, 'the connection to close');
    assert.equal(closed.code, 4003);
    assert.match(closed.reason, /cols must be/);
  });
});

describe('slow handshakes', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ auth: 'none', headersTimeout: 1 });
  });
  after(() => server.close());

  /** Sends `request` one byte every 100 ms; resolves with how many bytes went out. */
  async function drip(request: string): Promise<{ sent: number; status: number | undefined }> {
    const connection = await RawConnection.open(server.port);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < request.length && !connection.isClosed) {
        connection.write(request[sent] ?? '');
        sent += 1;
      }
    }, 100);
    try {
      await connection.waitClosed(15_000);
    } finally {
      clearInterval(timer);
    }
    const head = await connection.responseHead();
    return { sent, status: head?.status };
  }

  it('are cut off with 408 before a request that trickles in one byte at a time is done', async () => {
    const request = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(300)}\r\n\r\n`;
    const { sent, status } = await drip(request);
    assert.equal(status, 408);
    assert.ok(sent < request.length, `the server waited for all ${sent} bytes`);
  });

  it('are cut off the same way for a WebSocket upgrade', async () => {
    const request = upgradeRequest(server.port, { 'X-Padding': 'a'.repeat(300) });
    const { sent, status } = await drip(request);
    assert.equal(status, 408);
    assert.ok(sent < request.length, `the server waited for all ${sent} bytes`);
    assert.equal(server.server.connections, 0);
  });
});

describe('authentication', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, authTimeout: 1 });
  });
  after(async () => {
    await server.close();
    await noStrayProcesses(baseline);
  });

  it('comes before any shell, and times out with 4002 and the reason', async () => {
    const v1 = Array.from({ length: 4 }, () => wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]));
    const legacy = Array.from({ length: 4 }, () => wsAttempt(server.wsUrl));
    await within(
      Promise.all([...v1, ...legacy].map((attempt) => attempt.opened)),
      'every socket to open',
    );
    await waitFor(() => server.server.connections === 8);
    assert.equal(descendants().length, baseline, 'a shell started before authentication');

    for (const attempt of v1) {
      const outcome = await within(attempt.outcome, 'the server to close');
      assert.equal(outcome.code, 4002);
      assert.equal(outcome.reason, 'Authentication timed out');
      const error = outcome.messages[0] as Buffer;
      const payload = JSON.parse(error.subarray(1).toString()) as { code: string };
      assert.equal(payload.code, 'XJS_ERR_AUTH_TIMEOUT');
    }
    for (const attempt of legacy) {
      const outcome = await within(attempt.outcome, 'the server to close');
      assert.equal(outcome.code, 4002);
      assert.deepEqual(outcome.messages, ['Error: Authentication timed out']);
    }
  });

  it('times out a client that stalls in the middle of its first frame', async () => {
    const { connection, head } = await rawUpgrade(server.port);
    const frame = encodeFrame({ opcode: OPCODE.TEXT, payload: Buffer.from(TEST_TOKEN) });
    connection.write(frame.subarray(0, 4));
    const skip = head.rest.length === 0 ? connection.received().indexOf('\r\n\r\n') + 4 : 0;
    const close = await rawClose(connection, skip);
    assert.equal(close.code, 4002);
    await connection.waitClosed();
  });

  it('refuses input sent before the hello, starting no shell', async () => {
    const attempt = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1]);
    await within(attempt.opened, 'the socket to open');
    attempt.socket.send(encodeInput(Buffer.from('touch /tmp/should-not-exist\r')));
    const outcome = await within(attempt.outcome, 'the server to close');
    assert.equal(outcome.code, 4003);
    assert.match(outcome.reason, /first message must be a hello/);
    assert.equal(descendants().length, baseline);
  });
});
