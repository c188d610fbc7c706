// How a shell's session ends: hang-up first, SIGKILL for what ignores it, background jobs swept
// even after the shell left, shutdown of every session at once, and nothing left behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import {
  assertAllGone,
  expectNothingLeft,
  takeBaseline,
  zombies,
  type Baseline,
} from '../helpers/handler-leaks.js';
import { startHandlerServer } from '../helpers/handler-server.js';
import { closeOf, startJob, typeAndMatch } from '../helpers/handler-shell.js';
import { isRunning } from '../helpers/processes.js';

const FORMATS = ['legacy', 'v1'] as const;

function open(format: (typeof FORMATS)[number], url: string): LegacyClient | V1Client {
  return format === 'v1' ? new V1Client(url) : new LegacyClient(url);
}

let baseline: Baseline;
before(() => {
  baseline = takeBaseline();
});
after(() => expectNothingLeft(baseline));

describe('a client that disconnects', () => {
  for (const format of FORMATS) {
    it(`takes its shell and a background job down with the hang-up (${format})`, async () => {
      const server = await startHandlerServer();
      try {
        const client = open(format, server.url);
        const pids = await startJob(client, 'sleep 1000 &');
        assert.ok(isRunning(pids.job), 'the job runs before the disconnect');
        client.close();
        await closeOf(client);
        const [result] = await server.waitForResults(1);
        assert.deepEqual(result?.reasons, ['WebSocket client disconnected']);
        assert.equal(result?.closeCode, 1000);
        assert.equal(result?.termination, 'exited');
        assertAllGone([pids.shell, pids.job], 'after run() resolved');
        assert.deepEqual(zombies(), []);
      } finally {
        await server.close();
      }
    });
  }

  it('without a close frame (the TCP connection dropped) ends the same way', async () => {
    const server = await startHandlerServer();
    try {
      const client = new V1Client(server.url);
      const pids = await startJob(client);
      client.socket.terminate();
      const [result] = await server.waitForResults(1);
      assert.deepEqual(result?.reasons, ['WebSocket client disconnected']);
      assert.equal(result?.closeCode, 1006);
      assert.equal(result?.termination, 'exited');
      assertAllGone([pids.shell, pids.job], 'after run() resolved');
    } finally {
      await server.close();
    }
  });
});

describe('a session that ignores the hang-up', () => {
  it('is killed after shellLogoutWait: the shell and its nohup and HUP-ignoring jobs', async () => {
    const server = await startHandlerServer({ shellLogoutWait: 0.3 });
    try {
      const client = new V1Client(server.url);
      const match = await typeAndMatch(
        client,
        "trap '' HUP; nohup sleep 1000 >/dev/null 2>&1 & a=$!; (trap '' HUP; exec sleep 1001) & " +
          'echo "pids=$$,$a,$!:"',
        /pids=(\d+),(\d+),(\d+):/,
      );
      const pids = match.slice(1, 4).map(Number);
      client.close();
      await closeOf(client);
      const [result] = await server.waitForResults(1);
      assert.equal(result?.termination, 'killed');
      assertAllGone(pids, 'after SIGKILL');
      assert.ok(
        server.logs.some((line) => /sending SIGKILL/.test(line.msg)),
        'the SIGKILL stage is logged',
      );
    } finally {
      await server.close();
    }
  });
});

describe('a shell that exits by itself', () => {
  it('does not leave a disowned background job behind', async () => {
    const server = await startHandlerServer();
    try {
      const client = new V1Client(server.url);
      const match = await typeAndMatch(
        client,
        'sleep 1000 & disown; echo "pids=$$,$!:"; exit',
        /pids=(\d+),(\d+):/,
      );
      assert.deepEqual(await closeOf(client), { code: 1000, reason: 'shell exit code 0' });
      const [result] = await server.waitForResults(1);
      assert.equal(result?.termination, 'exited');
      assertAllGone([Number(match[1]), Number(match[2])], 'after the shell exited');
    } finally {
      await server.close();
    }
  });
});

describe('the shutdown signal', () => {
  it('closes 5 live sessions with 1001 and an error message, and leaves no shell or job', async () => {
    const server = await startHandlerServer();
    try {
      const clients = FORMATS.flatMap((format) => [0, 1, 2].map(() => open(format, server.url)));
      clients.pop(); // 3 legacy, 2 v1
      const pids = (await Promise.all(clients.map((client) => startJob(client)))).flatMap(
        ({ shell, job }) => [shell, job],
      );
      assert.equal(pids.length, 10);
      server.shutdown.abort();
      for (const client of clients) {
        assert.deepEqual(await closeOf(client), { code: 1001, reason: 'Server shutting down' });
        if (client instanceof V1Client) {
          assert.equal(client.error?.code, 'XJS_ERR_SHUTDOWN');
        } else {
          assert.equal(client.frames.at(-1), 'Error: Server shutting down');
        }
      }
      const results = await server.waitForResults(5);
      assert.deepEqual(
        results.map((result) => result.reasons),
        Array.from({ length: 5 }, () => ['server shutdown']),
      );
      assert.deepEqual(
        results.map((result) => result.termination),
        Array.from({ length: 5 }, () => 'exited'),
      );
      assertAllGone(pids, 'after shutdown');
      assert.deepEqual(zombies(), []);
    } finally {
      await server.close();
    }
  });
});
