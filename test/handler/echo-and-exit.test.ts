import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

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
    await client.closed;
  });

  it('echoes a command typed in the v1 format', async () => {
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await client.waitForHello();
    client.sendInput('echo hello-$((6*7))\r');
    await client.waitForText('hello-42');
    client.close();
    await client.closed;
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
      assert.deepEqual(await legacy.closed, { code: 1000, reason: 'shell exit code 3' });
      assert.equal(legacy.text(), 'done');

      const v1 = new V1Client(server.wsUrl);
      assert.deepEqual(await v1.closed, { code: 1000, reason: 'shell exit code 3' });
      assert.equal(v1.text(), 'done');
      assert.deepEqual(v1.exit, { code: 3, signal: null });
    } finally {
      await server.close();
    }
  });
});
