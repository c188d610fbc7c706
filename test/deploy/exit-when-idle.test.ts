// --exit-when-idle: the server ends itself gracefully (exit 0, socket removed) once nobody has
// used it for the period; a connection holds it open, and the period starts again after it.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

const TOKEN = 'idle-token-0123456789abcdef';

describe('--exit-when-idle', () => {
  const baseline = processBaseline();
  let dir: string;
  let cli: CliProcess | undefined;

  function start(path: string, seconds: string): CliProcess {
    cli = CliProcess.start({
      args: ['--socket', path, '--exit-when-idle', seconds, '--shell-logout-wait', '0.5'],
      env: { XTERM_JS_SHELL_TOKEN: TOKEN },
    });
    return cli;
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-idle-'));
  });
  afterEach(async () => {
    await cli?.kill();
    cli = undefined;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await assertNoStrayProcesses(baseline);
  });

  it('exits 0 and removes its socket when nobody connects after startup', async () => {
    const path = join(dir, 'unused.sock');
    const server = start(path, '1');
    await server.printed();
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    await server.waitForLog('no connection for --exit-when-idle seconds');
    await server.waitForLog('shutdown complete');
    assert.equal(existsSync(path), false);
  });

  it('stays up while a shell is connected, then exits once it has been idle again', async () => {
    const path = join(dir, 'used.sock');
    const server = start(path, '1');
    await server.printed();
    const client = new V1Client(`ws+unix://${path}:/`, { credential: TOKEN });
    await client.waitForText(TEST_PROMPT);
    // The shell outlives the idle period by a second: its output proves the server stayed up.
    client.sendInput('sleep 2; echo still-here-$((6*7))\r');
    await client.waitForText('still-here-42', { timeout: 15_000 });
    assert.equal(server.exit, undefined);
    client.close();
    assert.equal((await client.closed).code, 1000);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    const idle = await server.waitForLog('no connection for --exit-when-idle seconds');
    const closing = server
      .logs()
      .find((line) => line.msg.startsWith('closing the WebSocket connection'));
    assert.ok(closing !== undefined, 'the connection was closed first');
    // On the server's own clock: the countdown began anew when the connection ended, rather
    // than firing at once or carrying on from startup.
    assert.ok(Number(idle.time) - Number(closing.time) >= 1000, 'a full idle period after it');
  });
});
