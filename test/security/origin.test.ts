// Cross-site WebSocket hijacking: a page of another origin cannot open a shell socket, the
// page's own origin can, and --allowed-origin widens the set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SUBPROTOCOL_V1, ServerType, encodeClientHello } from '../../src/protocol/v1.js';
import { WebSocketHandler } from '../../src/server/index.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { RawConnection, upgradeRequest, wsAttempt, within } from '../helpers/hostile.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];

async function upgradeStatus(port: number, origin: string | undefined): Promise<number> {
  const connection = await RawConnection.open(port);
  try {
    connection.write(upgradeRequest(port, { Origin: origin }));
    const head = await connection.responseHead();
    return head?.status ?? 0;
  } finally {
    connection.destroy();
  }
}

describe('cross-site WebSocket hijacking', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({
      userShellCommand: SHELL,
      allowedOrigins: ['https://console.example.com'],
    });
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('refuses an upgrade from a foreign origin with 403 and a warning naming it', async () => {
    const evil = 'https://evil.example';
    assert.equal(await upgradeStatus(server.port, evil), 403);
    const warning = await waitFor(() =>
      server.logs.find((line) => line.level === 40 && line.origin === evil),
    );
    assert.match(warning.msg, /another origin.*--allowed-origin/);
    assert.equal(warning.peer, '127.0.0.1');
    assert.ok(
      !server.logs.some((line) => line.msg === 'new WebSocket connection'),
      'a refused upgrade must never reach the handler',
    );
  });

  it('refuses origins that only look like the server', async () => {
    const port = server.port;
    for (const origin of [
      'null', // sandboxed iframes, file:// pages
      `http://127.0.0.1:${port + 1}`,
      `http://127.0.0.1.evil.example:${port}`,
      `http://evil.example/?http://127.0.0.1:${port}`,
      `http://localhost:${port}`, // another name than the Host the browser sent
      'https://console.example.com.evil.example',
      `ws://127.0.0.1:${port}`,
      '',
    ]) {
      assert.equal(await upgradeStatus(port, origin), 403, `Origin: ${origin}`);
    }
  });

  it('lets the page at its own origin open a shell', async () => {
    await shellFromOrigin(server, `http://127.0.0.1:${server.port}`);
  });

  it('lets a page at an --allowed-origin open a shell', async () => {
    await shellFromOrigin(server, 'https://console.example.com');
    await shellFromOrigin(server, 'https://CONSOLE.example.com:443');
  });

  it('lets clients that are not browsers (no Origin) through to authentication', async () => {
    assert.equal(await upgradeStatus(server.port, undefined), 101);
  });
});

/** Opens a v1 session from `origin`, sees the server hello (a shell runs), and closes. */
async function shellFromOrigin(server: TestServer, origin: string): Promise<void> {
  const attempt = wsAttempt(server.wsUrl, [SUBPROTOCOL_V1], { Origin: origin });
  await within(attempt.opened, 'the socket to open');
  attempt.socket.send(encodeClientHello({ cols: 80, rows: 24, credential: TEST_TOKEN }));
  let hello = false;
  attempt.socket.on('message', (data: Buffer) => {
    if (data[0] === ServerType.HELLO) {
      hello = true;
      attempt.socket.close(1000);
    }
  });
  const outcome = await within(attempt.outcome, 'the server to close');
  assert.ok(hello, `Origin ${origin}: no shell; closed with ${outcome.code} ${outcome.reason}`);
}

describe('DNS rebinding', () => {
  async function status(port: number, headers: Record<string, string>): Promise<number> {
    const connection = await RawConnection.open(port);
    try {
      connection.write(upgradeRequest(port, headers));
      return (await connection.responseHead())?.status ?? 0;
    } finally {
      connection.destroy();
    }
  }

  it('refuses a rebound host name when there is no authentication, naming the flag', async () => {
    const server = await startServer({ auth: 'none', userShellCommand: SHELL });
    try {
      // A page at http://rebound.example:PORT whose name now resolves to 127.0.0.1.
      const host = `rebound.example:${server.port}`;
      assert.equal(await status(server.port, { Host: host, Origin: `http://${host}` }), 403);
      const warning = await waitFor(() =>
        server.logs.find((line) => line.level === 40 && line.host === host),
      );
      assert.match(warning.msg, /DNS rebinding/);
      assert.match(warning.msg, /--allowed-origin/);
      // The machine's own names still work.
      const local = `127.0.0.1:${server.port}`;
      assert.equal(await status(server.port, { Host: local, Origin: `http://${local}` }), 101);
    } finally {
      await server.close();
    }
  });

  it('accepts any host name when a credential is required (the token stops a rebound page)', async () => {
    const server = await startServer({ userShellCommand: SHELL });
    try {
      const host = `shell.example:${server.port}`;
      assert.equal(await status(server.port, { Host: host, Origin: `http://${host}` }), 101);
    } finally {
      await server.close();
    }
  });
});

describe('WebSocketHandler on its own, given the upgrade request', () => {
  const attempt = async (url: string, origin: string | undefined): Promise<number> => {
    const socket = wsAttempt(url, [SUBPROTOCOL_V1], origin === undefined ? {} : { Origin: origin });
    socket.socket.on('open', () =>
      socket.socket.send(encodeClientHello({ cols: 80, rows: 24, credential: TEST_TOKEN })),
    );
    socket.socket.on('message', (data: Buffer) => {
      if (data[0] === ServerType.HELLO) socket.socket.close(1000);
    });
    return (await within(socket.outcome, 'the close')).code;
  };
  const accept = (message: string): boolean => message === TEST_TOKEN;
  let strict: HandlerServer;
  let widened: HandlerServer;
  let unchecked: HandlerServer;
  before(async () => {
    const common = { userShellCommand: SHELL, authCallback: accept };
    strict = await startHandlerServer(common);
    widened = await startHandlerServer({
      ...common,
      allowedOrigins: ['https://console.example.com'],
    });
    unchecked = await startHandlerServer({ ...common, checkOrigin: false });
  });
  after(async () => {
    await Promise.all([strict.close(), widened.close(), unchecked.close()]);
  });

  it('refuses a page of another site with 4016, and no shell starts', async () => {
    assert.equal(await attempt(strict.url, 'https://evil.example'), 4016);
    assert.equal(await attempt(strict.url, 'null'), 4016);
    const [result] = await strict.waitForResults(2);
    assert.equal(result?.shellPid, undefined);
    assert.ok(
      strict.logs.some((line) => line.level === 40 && line.origin === 'https://evil.example'),
    );
  });

  it('lets the page of its own host in, and clients that send no Origin', async () => {
    const host = new URL(strict.url).host;
    assert.equal(await attempt(strict.url, `http://${host}`), 1000);
    assert.equal(await attempt(strict.url, undefined), 1000);
  });

  it('widens the set with allowedOrigins, and checkOrigin: false turns the check off', async () => {
    assert.equal(await attempt(widened.url, 'https://console.example.com'), 1000);
    assert.equal(await attempt(widened.url, 'https://evil.example'), 4016);
    assert.equal(await attempt(unchecked.url, 'https://evil.example'), 1000);
  });

  it('takes any object with the ws API, and names that API when given something else', () => {
    assert.throws(
      () => new WebSocketHandler({} as never),
      /websocket must be a WebSocket of the ws package \(8\.x\) or have its API: send, close/,
    );
  });
});
