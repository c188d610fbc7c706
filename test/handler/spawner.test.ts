// The spawner (docs/spawner.md): shells are its children, not the server's; it passes the
// environment, directory and terminal exactly; it survives signals meant for the server; it
// goes away when idle; and when it dies, the server carries on.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { V1Client } from '../helpers/clients.js';
import { expectNothingLeft, takeBaseline, type Baseline } from '../helpers/handler-leaks.js';
import { closeOf } from '../helpers/handler-shell.js';
import { DEFAULT_HIGH_WATER_BYTES } from '../../src/server/connection/handler-options.js';
import {
  descendants,
  descriptorTargets,
  SPAWNER_COMMAND,
  type ProcInfo,
} from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const BASH = ['/bin/bash', '--norc', '--noprofile'];

/** Descriptors of pty masters open in this process, where the server runs. */
function ptyMasters(): Set<number> {
  const masters = [...descriptorTargets()].filter(([, target]) => target === '/dev/ptmx');
  return new Set(masters.map(([fd]) => fd));
}

function spawners(): ProcInfo[] {
  return descendants(process.pid, true).filter((info) => info.command === SPAWNER_COMMAND);
}

async function connect(server: TestServer): Promise<V1Client> {
  const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
  await client.waitForHello();
  return client;
}

/** Runs `command` and returns what it printed between two markers. */
async function run(client: V1Client, command: string): Promise<string> {
  const marker = `m${Math.random().toString(36).slice(2, 8)}`;
  const [begin, end] = [`${marker}-begin\r\n`, `${marker}-end\r\n`];
  const start = client.text().length;
  // printf joins the marker only in its output: the echo of the typed line cannot match.
  client.sendInput(`printf '%s-begin\\n' ${marker}; ${command}; printf '%s-end\\n' ${marker}\r`);
  await client.waitForText(end);
  const text = client.text().slice(start);
  return text.slice(text.indexOf(begin) + begin.length, text.indexOf(end));
}

/** The spawner that started the shell of `client`: its parent. */
async function spawnerOf(client: V1Client): Promise<ProcInfo | undefined> {
  const shell = Number((await run(client, 'echo $$')).trim());
  const parent = descendants().find((info) => info.pid === shell)?.ppid;
  return spawners().find((info) => info.pid === parent);
}

let baseline: Baseline;
before(() => {
  baseline = takeBaseline();
});
after(() => expectNothingLeft(baseline));

describe('the spawner', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xjs-spawner-'));
    server = await startServer({
      userShellCommand: BASH,
      cwd: dir,
      env: { XJS_ODD: 'tab\there\nnewline é ✓', PATH: '/usr/bin:/bin' },
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the shell as its child, not the server’s, on the pty as controlling terminal', async () => {
    const client = await connect(server);
    const pid = Number((await run(client, 'echo $$')).trim());
    const shell = descendants().find((info) => info.pid === pid);
    assert.ok(shell, `the shell ${pid} is a descendant`);
    const parent = spawners().find((info) => info.pid === shell.ppid);
    assert.ok(parent, 'the shell’s parent is the spawner');
    assert.equal(shell.sid, pid, 'the shell leads its own session');
    assert.match(await run(client, 'tty'), /^\/dev\/pts\/\d+\r\n$/);
    // Ctrl+C needs the controlling terminal: it stops a foreground sleep at once.
    client.sendInput('sleep 30\r');
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.sendInput('\x03');
    assert.equal(await run(client, 'echo after-$((6*7))'), 'after-42\r\n');
    client.close();
    await closeOf(client);
  });

  it('passes the environment, directory and terminal modes exactly', async () => {
    const client = await connect(server);
    const odd = await run(client, 'printf %s "$XJS_ODD" | od -An -tx1 | tr -d " \\n"; echo');
    assert.equal(odd, `${Buffer.from('tab\there\nnewline é ✓').toString('hex')}\r\n`);
    assert.equal(await run(client, 'pwd'), `${dir}\r\n`);
    assert.equal(await run(client, 'echo $TERM $PWD'), `xterm-256color ${dir}\r\n`);
    const modes = await run(client, 'stty -a');
    for (const mode of ['iutf8', 'ixany', 'imaxbel', 'brkint', 'icrnl', 'opost', 'onlcr']) {
      assert.match(modes, new RegExp(`(^|\\s)${mode}(\\s|$)`), `stty shows ${mode}`);
    }
    assert.match(await run(client, 'stty size'), /^24 80\r\n$/);
    client.close();
    await closeOf(client);
  });

  it('ignores SIGINT and SIGTERM meant for the server, and still reports exit statuses', async () => {
    const client = await connect(server);
    const spawner = await spawnerOf(client);
    assert.ok(spawner, 'a spawner runs while a shell does');
    process.kill(spawner.pid, 'SIGINT');
    process.kill(spawner.pid, 'SIGTERM');
    client.sendInput('exit 7\r');
    assert.equal((await client.closed).code, 1000);
    assert.deepEqual(client.exit, { code: 7, signal: null });
    assert.ok(
      spawners().some((info) => info.pid === spawner.pid),
      'the same spawner lives on',
    );
  });

  it('ends a second after the last shell, and a new one starts with the next shell', async () => {
    await waitFor(() => spawners().length === 0, {
      timeout: 5000,
      message: 'the idle spawner to end',
    });
    const client = await connect(server);
    assert.equal(await run(client, 'echo again-$((6*7))'), 'again-42\r\n');
    assert.equal(spawners().length, 1);
    client.close();
    await closeOf(client);
  });

  it('ends the shells of clients that left while their shells were starting', async () => {
    const before = descendants().length;
    const clients = Array.from({ length: 20 }, () => {
      const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
      // Cut as soon as the hello is out: the shell starts (or not) after the client left.
      void client.opened.then(() => setImmediate(() => client.socket.terminate()));
      return client;
    });
    await Promise.all(clients.map((client) => client.closed));
    await waitFor(() => descendants().length === before, {
      timeout: 10_000,
      message: 'no shell left of the clients that left',
    });
    const late = server.logs.filter((line) => line.msg === 'shell started after the client left');
    console.log(`# ${late.length} of 20 shells started after their client had left`);
  });

  it('carries on when it is killed: the shell’s status is unknown, the next shell starts', async () => {
    const client = await connect(server);
    const spawner = await spawnerOf(client);
    assert.ok(spawner, 'the shell’s spawner');
    process.kill(spawner.pid, 'SIGKILL');
    client.sendInput('exit 3\r');
    assert.equal((await client.closed).code, 1000);
    assert.deepEqual(client.exit, { code: null, signal: null });
    const next = await connect(server);
    assert.equal(await run(next, 'echo fresh-$((6*7))'), 'fresh-42\r\n');
    next.close();
    await closeOf(next);
  });

  it('closes the pty of a paused shell whose status was lost with the spawner', async () => {
    const before = ptyMasters();
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN, autoAck: false });
    await client.waitForHello();
    const spawner = await spawnerOf(client);
    assert.ok(spawner, 'the shell’s spawner');
    const masters = [...ptyMasters()].filter((fd) => !before.has(fd));
    assert.equal(masters.length, 1, 'the pty of this shell');
    // Unacknowledged output: the server stops reading the pty at the high-water mark.
    client.sendInput('yes\r');
    await waitFor(() => client.receivedOffset >= DEFAULT_HIGH_WATER_BYTES, {
      message: 'the window to fill',
    });
    process.kill(spawner.pid, 'SIGKILL');
    await waitFor(() => spawners().every((info) => info.pid !== spawner.pid));
    client.close();
    await closeOf(client);
    // Nobody reads the paused pty's end and no exit status will come: ending the session
    // must close it all the same.
    await waitFor(() => !ptyMasters().has(masters[0] as number), {
      message: 'the pty to be closed',
    });
  });
});
