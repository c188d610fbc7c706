// A shell command that cannot start: the client is told why, in its own format, with close 4005.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { closeOf } from '../helpers/handler-shell.js';
import { expectNothingLeft, takeBaseline, type Baseline } from '../helpers/handler-leaks.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

let baseline: Baseline;
let server: HandlerServer;
before(async () => {
  baseline = takeBaseline();
  server = await startHandlerServer({ userShellCommand: ['/nonexistent'] });
});
after(async () => {
  await server.close();
  await expectNothingLeft(baseline);
});

describe('a shell command that does not exist', () => {
  it('gets a v1 client XJS_ERR_SPAWN_FAILED naming the command, and close 4005', async () => {
    const client = new V1Client(server.url);
    const closed = await closeOf(client);
    assert.equal(closed.code, 4005);
    assert.match(closed.reason, /^Unable to start shell: /);
    assert.equal(client.error?.code, 'XJS_ERR_SPAWN_FAILED');
    assert.match(client.error?.message ?? '', /^Unable to start shell: .*\/nonexistent/);
    assert.equal(client.hello, undefined, 'no hello: no session was started');
  });

  it('gets a legacy client `Error: Unable to start shell: ...` naming the command, and close 4005', async () => {
    const client = new LegacyClient(server.url);
    const closed = await closeOf(client);
    assert.equal(closed.code, 4005);
    assert.equal(client.frames.length, 1);
    assert.match(client.frames[0] ?? '', /^Error: Unable to start shell: .*\/nonexistent/);
  });

  it('is logged as an error, and run() reports the reason without a shell', async () => {
    const results = await server.waitForResults(2);
    for (const result of results) {
      assert.match(result.reasons[0] ?? '', /^unable to start shell: .*\/nonexistent/);
      assert.equal(result.shellPid, undefined);
      assert.equal(result.termination, undefined);
      assert.equal(result.closeCode, 4005);
    }
    const errors = server.logs.filter((line) => line.level >= 50);
    assert.equal(errors.length, 2);
    assert.match(errors[0]?.msg ?? '', /unable to start shell/);
  });
});
