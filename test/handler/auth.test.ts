// Authentication: the right credential gets a shell, anything else gets a reasoned close and no
// shell process at all; the callback sees the credential as sent and the log never does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HandlerResult } from '../../src/server/index.js';
import { WebSocket } from 'ws';
import { decodeServerMessage, SUBPROTOCOL_V1 } from '../../src/protocol/v1.js';
import { LegacyClient, V1Client, type Closed } from '../helpers/clients.js';
import { closeOf } from '../helpers/handler-shell.js';
import {
  expectNothingLeft,
  newDescendants,
  takeBaseline,
  type Baseline,
} from '../helpers/handler-leaks.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];
const WRONG = 'wrong-token-fedcba9876543210';
const FORMATS = ['legacy', 'v1'] as const;
type Format = (typeof FORMATS)[number];

function open(format: Format, url: string, credential?: string): LegacyClient | V1Client {
  const options = credential === undefined ? {} : { credential };
  return format === 'v1' ? new V1Client(url, options) : new LegacyClient(url, options);
}

/** The error a client was told: the ERROR message's code (v1) or the `Error:` frame (legacy). */
function toldError(client: LegacyClient | V1Client): string | undefined {
  return client instanceof V1Client ? client.error?.code : client.frames[0];
}

/** The run() results of a server's connections, as they end. */
function connectionEnds(server: TestServer): HandlerResult[] {
  const results: HandlerResult[] = [];
  server.server.on('connection-end', (result: HandlerResult) => results.push(result));
  return results;
}

/** Connects and sends nothing at all; returns every frame received and how it closed. */
async function silentConnection(
  url: string,
  format: Format,
): Promise<{ closed: Closed; frames: Buffer[] }> {
  const socket = new WebSocket(url, format === 'v1' ? [SUBPROTOCOL_V1] : []);
  const frames: Buffer[] = [];
  let closed: Closed | undefined;
  socket.on('message', (data: Buffer) => frames.push(Buffer.from(data)));
  socket.once('close', (code, reason) => (closed = { code, reason: reason.toString() }));
  return { closed: await waitFor(() => closed, { message: 'the server to close' }), frames };
}

/** The result of connection number `index` (from 0) to end, once it has ended. */
async function endOf(ends: HandlerResult[], index: number): Promise<HandlerResult> {
  return waitFor(() => ends[index], { message: `connection ${index + 1} to end` });
}

/** A promise settled from outside: the answer of a slow auth callback. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

let baseline: Baseline;
before(() => {
  baseline = takeBaseline();
});
after(() => expectNothingLeft(baseline));

describe('the built-in token auth', () => {
  let server: TestServer;
  let ends: HandlerResult[];
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, authTimeout: 0.3 });
    ends = connectionEnds(server);
  });
  after(() => server.close());

  for (const format of FORMATS) {
    it(`starts the shell for the right token (${format})`, async () => {
      const before = ends.length;
      const client = open(format, server.wsUrl, TEST_TOKEN);
      await client.opened;
      client.sendInput('echo in-$((6*7))\r');
      await client.waitForText('in-42');
      client.close();
      await closeOf(client);
      // The next test reads its own connection's result: let this one end first.
      const result = await endOf(ends, before);
      assert.equal(result.authenticated, true);
    });

    it(`refuses a wrong token with an error and close 4001, and starts no shell (${format})`, async () => {
      const before = ends.length;
      const client = open(format, server.wsUrl, WRONG);
      const closed = await closeOf(client);
      assert.deepEqual(closed, { code: 4001, reason: 'Authentication failed' });
      if (format === 'v1') {
        assert.equal(toldError(client), 'XJS_ERR_AUTH_FAILED');
      } else {
        assert.equal(toldError(client), 'Error: Authentication failed');
      }
      const result = await endOf(ends, before);
      assert.equal(result.authenticated, false);
      assert.equal(result.shellPid, undefined);
      assert.deepEqual(newDescendants(baseline), []);
    });

    it(`closes a client that stays silent with 4002 after authTimeout (${format})`, async () => {
      const before = ends.length;
      const { closed, frames } = await silentConnection(server.wsUrl, format);
      const result = await endOf(ends, before);
      assert.deepEqual(result.reasons, ['authentication timed out']);
      assert.equal(result.shellPid, undefined);
      assert.deepEqual(closed, { code: 4002, reason: 'Authentication timed out' });
      assert.equal(frames.length, 1);
      const frame = frames[0] as Buffer;
      if (format === 'v1') {
        const message = decodeServerMessage(frame);
        assert.equal(message.type === 'error' && message.error.code, 'XJS_ERR_AUTH_TIMEOUT');
      } else {
        assert.equal(frame.toString('utf8'), 'Error: Authentication timed out');
      }
    });
  }

  it('never writes a credential, right or wrong, to the log', () => {
    assert.ok(server.logs.length > 0);
    const log = JSON.stringify(server.logs);
    assert.ok(!log.includes(TEST_TOKEN), 'the right token is not in the log');
    assert.ok(!log.includes(WRONG), 'the wrong token is not in the log');
    assert.ok(log.includes('authentication failed'), 'the failure itself is logged');
  });
});

describe('an auth callback', () => {
  it('that throws refuses the client with 4001 and logs an error', async () => {
    const server = await startServer({
      userShellCommand: SHELL,
      auth: () => {
        throw new Error('directory unreachable');
      },
    });
    try {
      for (const format of FORMATS) {
        const client = open(format, server.wsUrl, TEST_TOKEN);
        assert.equal((await closeOf(client)).code, 4001);
      }
      const errors = server.logs.filter((line) => line.level >= 50);
      assert.equal(errors.length, 2);
      assert.match(JSON.stringify(errors[0]), /directory unreachable/);
    } finally {
      await server.close();
    }
  });

  it('may answer asynchronously', async () => {
    const server = await startServer({
      userShellCommand: SHELL,
      auth: async (credential) => {
        await new Promise((resolve) => setImmediate(resolve));
        return credential === TEST_TOKEN;
      },
    });
    try {
      for (const format of FORMATS) {
        const client = open(format, server.wsUrl, TEST_TOKEN);
        await client.opened;
        client.sendInput('echo async-$((6*7))\r');
        await client.waitForText('async-42');
        client.close();
        await closeOf(client);
        assert.equal((await closeOf(open(format, server.wsUrl, WRONG))).code, 4001);
      }
    } finally {
      await server.close();
    }
  });

  it('receives the credential exactly as the client sent it', async () => {
    const credentials: string[] = [];
    const server = await startServer({
      userShellCommand: SHELL,
      auth: (credential) => {
        credentials.push(credential);
        return false;
      },
    });
    // Spaces at both ends, a newline, quotes, JSON and non-ASCII: nothing may be trimmed or parsed.
    const sent = ' Bearer "a b"\n{"x":1} é中😀 ';
    try {
      for (const format of FORMATS) {
        await closeOf(open(format, server.wsUrl, sent));
      }
      assert.deepEqual(credentials, [sent, sent]);
      assert.ok(!JSON.stringify(server.logs).includes('é中😀'), 'not in the log either');
    } finally {
      await server.close();
    }
  });

  for (const format of FORMATS) {
    it(`runs before any shell process exists, and none starts when it refuses (${format})`, async () => {
      const answers = [deferred<boolean>(), deferred<boolean>()];
      let calls = 0;
      const server = await startServer({
        userShellCommand: SHELL,
        auth: () => (answers[calls++] as { promise: Promise<boolean> }).promise,
      });
      const ends = connectionEnds(server);
      try {
        const accepted = open(format, server.wsUrl, TEST_TOKEN);
        await waitFor(() => calls === 1, { message: 'the auth callback to be called' });
        assert.deepEqual(newDescendants(baseline), [], 'no process while auth is pending');
        answers[0]?.resolve(true);
        await waitFor(() => newDescendants(baseline).some((info) => info.command === 'bash'), {
          message: 'the shell to start once auth succeeded',
        });
        accepted.close();
        await closeOf(accepted);
        await waitFor(() => ends.length === 1, { message: 'the first connection to end' });
        assert.deepEqual(newDescendants(baseline), [], 'its shell is gone');

        const refused = open(format, server.wsUrl, WRONG);
        await waitFor(() => calls === 2, { message: 'the second auth callback call' });
        answers[1]?.resolve(false);
        assert.equal((await closeOf(refused)).code, 4001);
        const result = await endOf(ends, 1);
        assert.equal(result.shellPid, undefined);
        assert.deepEqual(newDescendants(baseline), []);
        assert.equal(server.logs.filter((line) => line.msg === 'shell started').length, 1);
      } finally {
        await server.close();
      }
    });

    it(`keeps input typed before it answered and runs it once the shell starts (${format})`, async () => {
      const answer = deferred<boolean>();
      let called = false;
      const server = await startServer({
        userShellCommand: SHELL,
        auth: () => {
          called = true;
          return answer.promise;
        },
      });
      try {
        const client = open(format, server.wsUrl, TEST_TOKEN);
        await waitFor(() => called, { message: 'the auth callback to be called' });
        client.sendInput('echo early-');
        client.sendInput('$((6*7))\r');
        answer.resolve(true);
        await client.waitForText('early-42');
        client.close();
        await closeOf(client);
      } finally {
        await server.close();
      }
    });
  }
});
