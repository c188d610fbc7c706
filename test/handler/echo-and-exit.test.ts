// A shell over one connection: what is typed runs, and how the shell ends is how the socket closes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { expectNothingLeft, takeBaseline, type Baseline } from '../helpers/handler-leaks.js';
import { startHandlerServer } from '../helpers/handler-server.js';
import { closeOf, recordMessageTypes } from '../helpers/handler-shell.js';
import { isRunning } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

let baseline: Baseline;
before(() => {
  baseline = takeBaseline();
});
after(() => expectNothingLeft(baseline));

describe('a shell over a WebSocket', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ userShellCommand: ['/bin/bash', '--norc', '--noprofile'] });
  });
  after(() => server.close());

  it('echoes a command typed in the legacy format', async () => {
    const client = new LegacyClient(server.wsUrl, { credential: TEST_TOKEN });
    await client.opened;
    client.sendInput('echo hello-$((6*7))\r');
    await client.waitForText('hello-42');
    client.close();
    await closeOf(client);
  });

  it('echoes a command typed in the v1 format', async () => {
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await client.waitForHello();
    client.sendInput('echo hello-$((6*7))\r');
    await client.waitForText('hello-42');
    client.close();
    await closeOf(client);
  });
});

describe('a shell that exits', () => {
  it('delivers all of its output, then closes with its exit code as the reason', async () => {
    const server = await startServer({
      auth: 'none',
      userShellCommand: ['/bin/sh', '-c', 'printf done; exit 3'],
    });
    try {
      const legacy = new LegacyClient(server.wsUrl);
      assert.deepEqual(await closeOf(legacy), { code: 1000, reason: 'shell exit code 3' });
      assert.equal(legacy.text(), 'done');

      const v1 = new V1Client(server.wsUrl);
      const types = recordMessageTypes(v1);
      assert.deepEqual(await closeOf(v1), { code: 1000, reason: 'shell exit code 3' });
      assert.equal(v1.text(), 'done');
      assert.deepEqual(v1.exit, { code: 3, signal: null });
      // The exit status comes after the last output and is the last message before the close.
      assert.deepEqual(
        types.filter((type, i) => type !== types[i - 1]),
        ['hello', 'output', 'exit'],
      );
    } finally {
      await server.close();
    }
  });

  it('closes with the name of the signal that killed it', async () => {
    const server = await startServer({
      auth: 'none',
      userShellCommand: ['/bin/sh', '-c', 'printf bye; kill -KILL $$'],
    });
    try {
      const legacy = new LegacyClient(server.wsUrl);
      assert.deepEqual(await closeOf(legacy), {
        code: 1000,
        reason: 'shell killed by signal SIGKILL',
      });
      assert.equal(legacy.text(), 'bye');

      const v1 = new V1Client(server.wsUrl);
      assert.deepEqual(await closeOf(v1), { code: 1000, reason: 'shell killed by signal SIGKILL' });
      assert.equal(v1.text(), 'bye');
      assert.deepEqual(v1.exit, { code: null, signal: 'SIGKILL' });
    } finally {
      await server.close();
    }
  });
});

describe('WebSocketHandler.run() on a plain ws server', () => {
  for (const format of ['legacy', 'v1'] as const) {
    it(`resolves with what happened to a ${format} connection: reasons, exit status, termination, close code and byte counts`, async () => {
      const server = await startHandlerServer();
      try {
        const client = format === 'v1' ? new V1Client(server.url) : new LegacyClient(server.url);
        await client.opened;
        client.sendInput('echo ran-$((6*7))\r');
        await client.waitForText('ran-42');
        client.sendInput('exit 3\r');
        assert.deepEqual(await closeOf(client), { code: 1000, reason: 'shell exit code 3' });

        const [result] = await server.waitForResults(1);
        assert.ok(result);
        assert.deepEqual(result.reasons, ['shell exit code 3']);
        assert.equal(result.protocol, format);
        assert.deepEqual(result.exitStatus, { code: 3, signal: null });
        assert.equal(result.termination, 'exited');
        assert.equal(result.closeCode, 1000);
        assert.equal(result.authenticated, false);
        assert.equal(result.bytesIn, 'echo ran-$((6*7))\r'.length + 'exit 3\r'.length);
        // Every byte the shell printed reached the client (ASCII only: legacy sends it as is).
        assert.equal(result.bytesOut, client.outputLength);
        assert.ok(result.shellPid !== undefined && !isRunning(result.shellPid));
        if (format === 'v1') {
          assert.equal(result.sessionId, (client as V1Client).hello?.sessionId);
        }
      } finally {
        await server.close();
      }
    });
  }
});
