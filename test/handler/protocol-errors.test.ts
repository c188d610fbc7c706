// Malformed frames end the connection with a named protocol error and the matching close code,
// and the shell that was running is terminated.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeAck, encodeClientHello } from '../../src/protocol/v1.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { expectNothingLeft, takeBaseline, type Baseline } from '../helpers/handler-leaks.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { closeOf, typeAndMatch } from '../helpers/handler-shell.js';
import { isRunning } from '../helpers/processes.js';

/** The shell's pid, asked of the shell itself. */
async function shellPid(client: LegacyClient | V1Client): Promise<number> {
  return Number((await typeAndMatch(client, 'echo "pid=$$:"', /pid=(\d+):/))[1]);
}

let baseline: Baseline;
before(() => {
  baseline = takeBaseline();
});
after(() => expectNothingLeft(baseline));

describe('a v1 connection', () => {
  let server: HandlerServer;
  before(async () => {
    server = await startHandlerServer();
  });
  after(() => server.close());

  const CASES: ReadonlyArray<{
    name: string;
    send: (client: V1Client) => void;
    names: RegExp;
  }> = [
    {
      name: 'a text frame',
      send: (client) => client.socket.send('ls\r'),
      names: /binary frames only/,
    },
    {
      name: 'an unknown message type',
      send: (client) => client.socket.send(Buffer.from([0x7f, 1, 2])),
      names: /unknown client message type 0x7f/,
    },
    {
      name: 'a second hello',
      send: (client) => client.socket.send(encodeClientHello({ cols: 80, rows: 24 })),
      names: /hello may only be sent once/,
    },
    {
      name: 'an acknowledgement beyond the output sent',
      send: (client) => client.socket.send(encodeAck(client.receivedOffset + 1_000_000)),
      names: /beyond the sent offset/,
    },
    {
      name: 'a resize to 0 columns',
      send: (client) => client.socket.send(Buffer.from([0x02, 0, 0, 0, 24])),
      names: /cols must be an integer from 1 to 65535/,
    },
  ];

  for (const { name, send, names } of CASES) {
    it(`ends with XJS_ERR_PROTOCOL and close 4003 on ${name}, and terminates the shell`, async () => {
      const ended = server.results.length;
      const client = new V1Client(server.url);
      const pid = await shellPid(client);
      send(client);
      const closed = await closeOf(client);
      assert.equal(closed.code, 4003);
      assert.match(closed.reason, /^Protocol error: /);
      assert.equal(client.error?.code, 'XJS_ERR_PROTOCOL');
      assert.match(client.error?.message ?? '', names);
      const [result] = (await server.waitForResults(ended + 1)).slice(ended);
      assert.match(result?.reasons[0] ?? '', /^protocol error: /);
      assert.equal(result?.shellPid, pid);
      assert.ok(!isRunning(pid), 'the shell is gone');
    });
  }
});

describe('a legacy connection', () => {
  it('ends with `Error: Protocol error` and close 4003 on a binary frame, and terminates the shell', async () => {
    const server = await startHandlerServer();
    try {
      const client = new LegacyClient(server.url);
      const pid = await shellPid(client);
      client.socket.send(Buffer.from('ls\r'), { binary: true });
      const closed = await closeOf(client);
      assert.equal(closed.code, 4003);
      assert.match(client.frames.at(-1) ?? '', /^Error: Protocol error: .*text frames only/);
      await server.waitForResults(1);
      assert.ok(!isRunning(pid), 'the shell is gone');
    } finally {
      await server.close();
    }
  });
});

describe('a frame over maxMessageBytes', () => {
  for (const format of ['legacy', 'v1'] as const) {
    it(`closes a ${format} connection with 1009 and terminates the shell`, async () => {
      const server = await startHandlerServer({ maxMessageBytes: 1024 });
      try {
        const client = format === 'v1' ? new V1Client(server.url) : new LegacyClient(server.url);
        const pid = await shellPid(client);
        // One byte too many for v1 (type byte + payload) and for legacy (the text itself).
        client.sendInput('x'.repeat(format === 'v1' ? 1024 : 1025));
        assert.equal((await closeOf(client)).code, 1009);
        await server.waitForResults(1);
        assert.ok(!isRunning(pid), 'the shell is gone');
      } finally {
        await server.close();
      }
    });

    it(`accepts a ${format} frame of exactly maxMessageBytes`, async () => {
      const server = await startHandlerServer({ maxMessageBytes: 1024 });
      try {
        const client = format === 'v1' ? new V1Client(server.url) : new LegacyClient(server.url);
        await shellPid(client);
        // `: ` then padding: a no-op command line whose frame is exactly at the limit.
        const line = `: ${'y'.repeat((format === 'v1' ? 1023 : 1024) - 3)}\r`;
        client.sendInput(line);
        await typeAndMatch(client, 'echo "still=$((6*7)):"', /still=42:/);
        client.close();
        await closeOf(client);
      } finally {
        await server.close();
      }
    });
  }
});

describe('frames sent ahead of a bad one', () => {
  let server: HandlerServer;
  before(async () => {
    // Authentication that takes a moment: the frames below wait in the queue meanwhile.
    server = await startHandlerServer({
      authCallback: () => new Promise((resolve) => setTimeout(() => resolve(true), 200)),
    });
  });
  after(() => server.close());

  it('are written up to the bad frame, and nothing after it reaches the shell', async () => {
    const client = new V1Client(server.url, { credential: 'anything' });
    await client.opened;
    client.sendInput('echo first\r'); // 11 bytes, queued before the error
    client.socket.send(Buffer.from([0x7f])); // an unknown message type
    client.sendInput('echo second, after the error\r');
    assert.equal((await closeOf(client)).code, 4003);
    const [result] = await server.waitForResults(1);
    assert.equal(result?.bytesIn, 'echo first\r'.length);
  });
});

describe('a thrown bug after the shell started', () => {
  let server: HandlerServer;
  before(async () => {
    server = await startHandlerServer({
      metrics: {
        sessionStarted: () => {
          throw new Error('a metrics bug');
        },
        authFailed: () => undefined,
        spawnFailed: () => undefined,
        flowPaused: () => undefined,
      },
    });
  });
  after(() => server.close());

  it('closes with 4500, ends the shell that was started, and run() still resolves', async () => {
    const client = new V1Client(server.url);
    assert.equal((await closeOf(client)).code, 4500);
    const [result] = await server.waitForResults(1);
    assert.equal(result?.sessionFate, 'terminated');
    assert.ok(result?.shellPid !== undefined);
    assert.equal(isRunning(result.shellPid), false, 'the shell is gone');
    assert.ok(
      server.logs.some((line) => line.msg === 'starting the session failed after the spawn'),
    );
  });
});
