// A client that stops reading while its shell floods: the shell waits, memory stays bounded,
// and the connection either carries on losslessly or, when cut, takes the shell with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import {
  ServerChild,
  expectNothingLeftBehind,
  mebibytes,
  snapshotProcess,
  type ProcessSnapshot,
  type ServerMemory,
} from '../helpers/leaks.js';
import { descendants, isRunning, sessionProcesses } from '../helpers/processes.js';
import { FreezableProxy, type ProxiedConnection } from '../helpers/proxy.js';
import { TEST_TOKEN } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

/** Lines of the flood: about 9 MB, several times every buffer between the shell and the client. */
const LINES = 1_200_000;
/** How long the producer must stay blocked while the link is frozen. */
const FROZEN_MS = 3000;
/**
 * Server memory (heap and Buffers) the frozen connection may add. The server holds at most
 * `highWaterBytes` (256 KiB) of unsent or unacknowledged output plus a pty read or two; a server
 * that buffered the flood instead would hold megabytes within a second. 4 MiB is 8 times the
 * mark, room for the garbage a busy connection leaves between collections.
 */
const MEMORY_MARGIN_BYTES = 4 * 1024 * 1024;

type Protocol = 'v1' | 'legacy';

function connect(protocol: Protocol, url: string): V1Client | LegacyClient {
  return protocol === 'v1'
    ? new V1Client(url, { credential: TEST_TOKEN })
    : new LegacyClient(url, { credential: TEST_TOKEN });
}

/** Bytes the process has written so far (all of seq's output goes to the pty). */
function bytesWritten(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'latin1');
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1]);
}

function heldBytes(measured: ServerMemory): number {
  return measured.memory.heapUsed + measured.memory.arrayBuffers;
}

interface Frozen {
  readonly connection: ProxiedConnection;
  readonly client: V1Client | LegacyClient;
  readonly seq: number;
  readonly shell: number;
}

/**
 * Connects through the proxy, lets the flood run, freezes the link and waits until the shell
 * has been still for FROZEN_MS: the server paused it rather than buffering for the client.
 */
async function floodThenFreeze(
  server: ServerChild,
  proxy: FreezableProxy,
  protocol: Protocol,
): Promise<Frozen> {
  const client = connect(protocol, proxy.wsUrl);
  await waitFor(() => client.outputLength > 1024 * 1024, { message: 'the flood to be under way' });
  const connection = await proxy.connection(proxy.connections.length - 1);
  const before = await server.measure();
  connection.freeze();
  const frozenAt = Date.now();
  const seq = descendants(server.pid).find((info) => info.command === 'seq');
  assert.ok(seq !== undefined, 'seq is still printing');

  let written = bytesWritten(seq.pid);
  let stillSince = Date.now();
  await waitFor(
    () => {
      const now = bytesWritten(seq.pid);
      if (now !== written) {
        written = now;
        stillSince = Date.now();
      }
      return Date.now() - stillSince >= FROZEN_MS;
    },
    { timeout: 30_000, interval: 50, message: `seq to stay blocked for ${FROZEN_MS} ms` },
  );
  const during = await server.measure();
  const inFlight = written - client.outputLength;
  console.log(
    `# ${protocol}: shell blocked ${stillSince - frozenAt} ms after the freeze; ${mebibytes(inFlight)} written but not received (kernel and server buffers); server heap+buffers ${mebibytes(heldBytes(before))} → ${mebibytes(heldBytes(during))}, rss ${mebibytes(server.snapshot().rssBytes)}`,
  );
  assert.equal(client.closeInfo, undefined, 'the connection is still open');
  assert.ok(
    heldBytes(during) - heldBytes(before) <= MEMORY_MARGIN_BYTES,
    `the server held ${mebibytes(heldBytes(during) - heldBytes(before))} more while frozen`,
  );
  return { connection, client, seq: seq.pid, shell: seq.sid };
}

describe('a client whose link freezes while its shell floods', () => {
  let ownBefore: ProcessSnapshot;
  let server: ServerChild;
  let proxy: FreezableProxy;

  before(async () => {
    ownBefore = snapshotProcess();
    server = await ServerChild.start({
      token: TEST_TOKEN,
      userShellCommand: ['/bin/sh', '-c', `seq 1 ${LINES}; echo end-$((6*7))`],
      // No pings: a link frozen this long would otherwise be cut (see vanished-peer.test.ts).
      pingInterval: 0,
      resumeWindow: 0,
    });
  });
  afterEach(() => proxy?.close());
  after(async () => {
    await server.close();
    await expectNothingLeftBehind(ownBefore);
  });

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`pauses the shell and, once the link is back, delivers everything (${protocol})`, async () => {
      proxy = await FreezableProxy.start(server.port);
      const { connection, client } = await floodThenFreeze(server, proxy, protocol);

      connection.resume();
      assert.deepEqual(await client.closed, { code: 1000, reason: 'shell exit code 0' });
      const lines = client.text().split('\r\n');
      // Nothing lost, doubled or reordered across the freeze: an unbroken run from 1.
      const numbers = lines.filter((line) => /^\d+$/.test(line));
      const broken = numbers.findIndex((line, index) => line !== String(index + 1));
      assert.equal(broken, -1, `line ${broken + 1} reads ${numbers[broken]}`);
      // And the shell's last words arrived too.
      assert.equal(numbers.length, LINES, `${numbers.length} of ${LINES} lines arrived`);
      assert.deepEqual(lines.slice(-2), ['end-42', '']);
    });
  }

  for (const protocol of ['v1', 'legacy'] as const) {
    it(`terminates the paused shell when the frozen link is cut (${protocol})`, async () => {
      proxy = await FreezableProxy.start(server.port);
      const { connection, client, seq, shell } = await floodThenFreeze(server, proxy, protocol);

      connection.cut('reset');
      assert.equal((await client.closed).code, 1006);
      const result = await waitFor(() => server.results.find((entry) => entry.shellPid === shell), {
        message: 'run() to resolve',
      });
      assert.deepEqual(result.reasons, ['WebSocket client disconnected']);
      assert.equal(result.closeCode, 1006);
      assert.equal(result.sessionFate, 'terminated');
      assert.notEqual(result.termination, 'gave-up');
      assert.equal(isRunning(seq), false, 'the blocked seq is gone');
      assert.equal(isRunning(shell), false, 'the shell is gone');
      assert.deepEqual(
        sessionProcesses(shell).filter((info) => info.state !== 'Z'),
        [],
      );
    });
  }
});
