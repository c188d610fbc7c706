// Server pings: a peer gone without a close frame is cut and its shell ended; an idle one stays.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { HandlerResult } from '../../src/server/index.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import {
  expectNothingLeftBehind,
  snapshotProcess,
  type ProcessSnapshot,
} from '../helpers/leaks.js';
import { isRunning, sessionProcesses } from '../helpers/processes.js';
import { FreezableProxy } from '../helpers/proxy.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

/** Seconds between server pings: short, so a test spans many intervals. */
const PING_INTERVAL = 0.3;
/**
 * Scheduling slack on top of the two intervals a vanished peer may take to notice: the
 * machine runs other suites at once, and a timer fires late under load.
 */
const DETECTION_SLACK_MS = 1500;
const HEARTBEAT_REASON = 'heartbeat timeout: peer stopped answering pings';
const BASH = ['/bin/bash', '--norc', '--noprofile'];

type Client = V1Client | LegacyClient;

function connect(protocol: 'v1' | 'legacy', url: string): Client {
  return protocol === 'v1'
    ? new V1Client(url, { credential: TEST_TOKEN })
    : new LegacyClient(url, { credential: TEST_TOKEN });
}

/** Pings the client has received (and, being a `ws` client, answered). */
function countPings(client: Client): () => number {
  let pings = 0;
  client.socket.on('ping', () => (pings += 1));
  return () => pings;
}

/** Starts `sleep` in the background and reads back its pid and the shell's. */
async function startBackgroundJob(client: Client): Promise<{ shell: number; job: number }> {
  await client.opened;
  // $! and $$ expand in the output only, so the echoed command line cannot match the pattern.
  client.sendInput('sleep 1000 & echo "job=$! shell=$$"\r');
  const text = await client.waitForText(/job=\d+ shell=\d+/);
  const match = /job=(\d+) shell=(\d+)/.exec(text) as RegExpExecArray;
  return { job: Number(match[1]), shell: Number(match[2]) };
}

function resultsOf(server: TestServer): HandlerResult[] {
  const results: HandlerResult[] = [];
  server.server.on('connection-end', (result: HandlerResult) => results.push(result));
  return results;
}

/** A server that pings every PING_INTERVAL; `ownBefore` is this process before it started. */
async function startPingingServer(
  resumeWindow: number,
): Promise<{ ownBefore: ProcessSnapshot; server: TestServer }> {
  const ownBefore = snapshotProcess();
  const server = await startServer({
    userShellCommand: BASH,
    pingInterval: PING_INTERVAL,
    resumeWindow,
  });
  return { ownBefore, server };
}

/** Stops the server and checks that it left no process or descriptor behind. */
async function stopPingingServer(server: TestServer, ownBefore: ProcessSnapshot): Promise<void> {
  await server.close();
  await expectNothingLeftBehind(ownBefore);
}

describe('a client that vanishes without a close frame', () => {
  let ownBefore: ProcessSnapshot;
  let server: TestServer;
  let proxy: FreezableProxy;
  let results: HandlerResult[];

  before(async () => {
    // No resume window: the shell ends with its connection, as in the original.
    ({ ownBefore, server } = await startPingingServer(0));
    results = resultsOf(server);
  });
  afterEach(() => proxy?.close());
  after(() => stopPingingServer(server, ownBefore));

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`is cut within two ping intervals and its shell and job are ended (${protocol})`, async () => {
      proxy = await FreezableProxy.start(server.port);
      const client = connect(protocol, proxy.wsUrl);
      const pings = countPings(client);
      const { shell, job } = await startBackgroundJob(client);
      await waitFor(() => pings() >= 1, { message: 'a first ping, answered' });
      const ended = results.length;
      const logged = server.logs.length;

      // The laptop sleeps: nothing more passes in either direction, and no FIN or RST is sent.
      const frozenAt = Date.now();
      (await proxy.connection(0)).freeze();
      const cut = await waitFor(
        () =>
          server.logs
            .slice(logged)
            .find((line) => line.msg.startsWith('peer stopped answering pings')),
        {
          timeout: 2 * PING_INTERVAL * 1000 + DETECTION_SLACK_MS,
          message: 'the server to notice the silent peer',
        },
      );
      const result = await waitFor(() => results[ended], { message: 'run() to resolve' });
      console.log(
        `# ${protocol}: silent peer noticed after ${(cut.time as number) - frozenAt} ms (ping interval ${PING_INTERVAL * 1000} ms); run() resolved after ${Date.now() - frozenAt} ms, termination ${result.termination}`,
      );

      assert.deepEqual(result.reasons, [HEARTBEAT_REASON]);
      assert.equal(result.closeCode, 1006, 'the socket was cut, not closed with a handshake');
      assert.equal(result.shellPid, shell);
      assert.equal(result.sessionFate, 'terminated');
      assert.ok(
        result.termination === 'exited' || result.termination === 'killed',
        `termination ${result.termination}`,
      );
      assert.equal(isRunning(shell), false, 'the shell is gone');
      assert.equal(isRunning(job), false, 'its background job is gone');
      assert.deepEqual(
        sessionProcesses(shell).filter((info) => info.state !== 'Z'),
        [],
        'nothing is left in the shell session',
      );

      // The vanished peer never hears why: when its link comes back the socket is just dead.
      assert.equal(client.closeInfo, undefined);
      (await proxy.connection(0)).cut();
      assert.equal((await client.closed).code, 1006);
      if (client instanceof V1Client) {
        assert.equal(client.error, undefined, 'no XJS_ERR_HEARTBEAT_TIMEOUT could reach it');
      }
    });
  }

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`keeps a live client that answers pings but sends nothing (${protocol})`, async () => {
      proxy = await FreezableProxy.start(server.port);
      const logged = server.logs.length;
      const ended = results.length;
      const client = connect(protocol, proxy.wsUrl);
      const pings = countPings(client);
      await client.opened;
      await client.waitForText(/[$#] $/); // the prompt: the shell is up

      // Ten intervals of silence from the user: only the automatic pongs go back.
      const bytesBefore = (await proxy.connection(0)).bytesToServer;
      await waitFor(() => pings() >= 10, { message: 'ten pings', timeout: 20_000 });
      const pongBytes = (await proxy.connection(0)).bytesToServer - bytesBefore;

      assert.equal(client.closeInfo, undefined, 'the connection is still open');
      assert.equal(results.length, ended, 'its run() has not resolved');
      assert.deepEqual(
        server.logs.slice(logged).filter((line) => line.level >= 40),
        [],
        'no warnings, no heartbeat timeout',
      );
      // A pong of an empty ping is 6 bytes on the wire (masked, no payload): nothing else went.
      assert.equal(pongBytes % 6, 0, `only pongs went to the server (${pongBytes} bytes)`);

      client.sendInput('echo still-here-$((40+2))\r');
      await client.waitForText('still-here-42');
      client.close();
      assert.equal((await client.closed).code, 1000);
      // Its shell is ended before the next test counts connections.
      await waitFor(() => results.length > ended, { message: 'run() to resolve' });
    });
  }
});

describe('a client whose typing waits for a busy shell', () => {
  let ownBefore: ProcessSnapshot;
  let server: TestServer;
  let proxy: FreezableProxy;

  before(async () => {
    ({ ownBefore, server } = await startPingingServer(0));
    proxy = await FreezableProxy.start(server.port);
  });
  after(async () => {
    await proxy.close();
    await stopPingingServer(server, ownBefore);
  });

  it('is not cut while the server has stopped reading its socket', async () => {
    const results = resultsOf(server);
    const logged = server.logs.length;
    const client = connect('v1', proxy.wsUrl) as V1Client;
    await client.waitForHello();
    // The shell will not read for 3 s (10 ping intervals); then cat swallows the paste.
    client.sendInput('stty -echo; sleep 3; cat > /dev/null\r');
    // 8 MB pasted: more than the server's input mark and every kernel buffer on the way, so
    // the server stops reading the socket, with the client's pongs queued behind the paste.
    const lines = `${'x'.repeat(1023)}\n`.repeat(64);
    for (let chunk = 0; chunk < 128; chunk += 1) {
      client.sendInput(lines);
    }
    const connection = await proxy.connection(0);
    await waitFor(() => connection.queuedToServer > 0 || client.closeInfo !== undefined, {
      message: 'the server to stop reading the socket',
    });
    const stoppedAt = Date.now();
    await waitFor(() => connection.queuedToServer === 0 || client.closeInfo !== undefined, {
      timeout: 60_000,
      message: 'the shell to take the whole paste',
    });
    console.log(`# the server did not read the socket for ${Date.now() - stoppedAt} ms`);

    assert.equal(client.closeInfo, undefined, 'the connection is still open');
    assert.deepEqual(
      server.logs.slice(logged).filter((line) => line.level >= 40),
      [],
      'no heartbeat timeout',
    );
    client.sendBytes(Buffer.from([4])); // Ctrl-D: cat ends
    client.sendInput('echo done-$((2+2))\r');
    await client.waitForText('done-4', { timeout: 30_000 });
    client.close();
    assert.equal((await client.closed).code, 1000);
    await waitFor(() => results[0], { message: 'run() to resolve' });
  });
});

describe('a v1 page that vanishes while resume is on', () => {
  const RESUME_WINDOW = 1;
  let ownBefore: ProcessSnapshot;
  let server: TestServer;
  let proxy: FreezableProxy;

  before(async () => {
    ({ ownBefore, server } = await startPingingServer(RESUME_WINDOW));
    proxy = await FreezableProxy.start(server.port);
  });
  after(async () => {
    await proxy.close();
    await stopPingingServer(server, ownBefore);
  });

  it('keeps its shell for the resume window, then ends the shell and its job', async () => {
    const results = resultsOf(server);
    const client = connect('v1', proxy.wsUrl);
    const pings = countPings(client);
    const { shell, job } = await startBackgroundJob(client);
    await waitFor(() => pings() >= 1, { message: 'a first ping, answered' });

    (await proxy.connection(0)).freeze();
    const result = await waitFor(() => results[0], {
      timeout: 2 * PING_INTERVAL * 1000 + DETECTION_SLACK_MS,
      message: 'the server to notice the silent peer',
    });
    assert.deepEqual(result.reasons, [HEARTBEAT_REASON]);
    assert.equal(result.sessionFate, 'detached');
    assert.equal(isRunning(shell), true, 'the shell waits for its page');
    const detachedAt = Date.now();

    await waitFor(() => !isRunning(shell) && !isRunning(job), {
      // The window, then SIGHUP and at worst the SIGKILL stage (startServer: 0.5 s, 2 s).
      timeout: RESUME_WINDOW * 1000 + 2000 + DETECTION_SLACK_MS,
      message: 'the shell and its job to end once the resume window passed',
    });
    console.log(`# detached shell ended ${Date.now() - detachedAt} ms after the cut`);
    assert.deepEqual(
      sessionProcesses(shell).filter((info) => info.state !== 'Z'),
      [],
    );
    (await proxy.connection(0)).cut();
    assert.equal((await client.closed).code, 1006);
  });
});
