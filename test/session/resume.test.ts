// Resume: a v1 shell outlives a dropped connection and the page gets exactly the missing bytes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { V1Client } from '../helpers/clients.js';
import { isRunning } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];

/** Cuts the client's TCP connection without a close frame, as a network drop would. */
function cut(client: V1Client): void {
  (client.socket as WebSocket & { _socket: { destroy(): void } })._socket.destroy();
}

async function pidOf(client: V1Client): Promise<number> {
  client.sendInput('echo "pid=$$"\r');
  const text = await client.waitForText(/pid=\d+/);
  return Number(/pid=(\d+)/.exec(text)?.[1]);
}

/** The numbers printed by `seq`, from the output as a whole. */
function numbers(output: string): number[] {
  return [...output.matchAll(/^(\d+)\r$/gm)].map((match) => Number(match[1]));
}

describe('resume', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, resumeWindow: 30 });
  });
  after(() => server.close());

  it('survives three cuts of `seq 1 200000` and delivers every number once, in order', async () => {
    let client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const hello = await client.waitForHello();
    assert.equal(hello.resumed, false);
    assert.equal(hello.limits.resumeWindowSeconds, 30);
    const parts: Buffer[] = [];
    client.sendInput('seq 1 200000; echo seq-$((40+2))-done\r');
    for (let cutNumber = 1; cutNumber <= 3; cutNumber++) {
      const target = cutNumber * 250_000;
      await waitFor(() => client.receivedOffset > target, { message: `output past ${target}` });
      const offset = client.receivedOffset;
      parts.push(client.output());
      cut(client);
      await client.closed;
      client = new V1Client(server.wsUrl, {
        credential: TEST_TOKEN,
        resume: { sessionId: hello.sessionId, offset },
      });
      const resumed = await client.waitForHello();
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.offset, offset);
      assert.equal(resumed.lostBytes, 0);
    }
    await client.waitForText('seq-42-done', { timeout: 30_000 });
    parts.push(client.output());
    const all = numbers(Buffer.concat(parts).toString('utf8'));
    assert.equal(all.length, 200_000);
    assert.ok(
      all.every((value, index) => value === index + 1),
      'numbers out of order or repeated',
    );
    client.close();
    await client.closed;
  });

  it('ends, rather than keeps for a resume, the session of a page that sent a frame too big', async () => {
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const hello = await client.waitForHello();
    const pid = await pidOf(client);
    client.socket.send(Buffer.alloc(2 * 1024 * 1024, 0x01)); // twice maxMessageBytes
    assert.equal((await client.closed).code, 1009);
    await waitFor(() => !isRunning(pid), { message: 'the shell to be terminated' });
    assert.equal(server.server.detachedSessions, 0);
    const again = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId: hello.sessionId, offset: 0 },
    });
    assert.equal((await again.closed).code, 4007);
  });

  it('lets a second connection take over a live session and tells the first why', async () => {
    const first = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const hello = await first.waitForHello();
    const pid = await pidOf(first);
    const second = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId: hello.sessionId, offset: first.receivedOffset },
    });
    assert.equal((await second.waitForHello()).resumed, true);
    assert.deepEqual(await first.closed, {
      code: 4008,
      reason: 'Session taken over by another connection',
    });
    assert.equal(first.error?.code, 'XJS_ERR_SESSION_TAKEN_OVER');
    assert.equal(await pidOf(second), pid);
    assert.ok(isRunning(pid), 'the shell survived the takeover');
    second.close();
    await second.closed;
    await waitFor(() => !isRunning(pid), { message: 'the shell to end with a clean close' });
  });

  it('refuses an unknown session id with 4007', async () => {
    const client = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId: 'f'.repeat(32), offset: 0 },
    });
    assert.equal((await client.closed).code, 4007);
    assert.equal(client.error?.code, 'XJS_ERR_SESSION_NOT_FOUND');
  });

  it('refuses an offset beyond the output with a protocol error and keeps the session', async () => {
    const first = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    const hello = await first.waitForHello();
    const pid = await pidOf(first);
    cut(first);
    const bad = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId: hello.sessionId, offset: first.receivedOffset + 1_000_000 },
    });
    assert.equal((await bad.closed).code, 4003);
    assert.ok(isRunning(pid), 'a bad resume does not end the session');
    const good = new V1Client(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId: hello.sessionId, offset: first.receivedOffset },
    });
    assert.equal((await good.waitForHello()).resumed, true);
    assert.equal(await pidOf(good), pid);
    good.close();
    await good.closed;
  });
});

describe('resume limits', () => {
  it('refuses a session to another credential with 4009', async () => {
    const tokens = new Set(['alice-token-0123456789', 'bob-token-0123456789ab']);
    const server = await startServer({
      auth: (credential) => tokens.has(credential),
      userShellCommand: SHELL,
      resumeWindow: 30,
    });
    try {
      const alice = new V1Client(server.wsUrl, { credential: 'alice-token-0123456789' });
      const hello = await alice.waitForHello();
      const pid = await pidOf(alice);
      cut(alice);
      const bob = new V1Client(server.wsUrl, {
        credential: 'bob-token-0123456789ab',
        resume: { sessionId: hello.sessionId, offset: alice.receivedOffset },
      });
      assert.equal((await bob.closed).code, 4009);
      assert.equal(bob.error?.code, 'XJS_ERR_SESSION_FORBIDDEN');
      assert.ok(isRunning(pid));
    } finally {
      await server.close();
    }
  });

  it('says how many bytes were lost when the replay buffer no longer holds the gap', async () => {
    const server = await startServer({
      userShellCommand: SHELL,
      resumeWindow: 30,
      replayBufferBytes: 4096,
    });
    try {
      const first = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
      const hello = await first.waitForHello();
      first.sendInput('seq 1 20000; echo printed-$((1+1))\r');
      await first.waitForText('printed-2');
      const end = first.receivedOffset;
      cut(first);
      await first.closed;
      const second = new V1Client(server.wsUrl, {
        credential: TEST_TOKEN,
        resume: { sessionId: hello.sessionId, offset: hello.offset },
      });
      const resumed = await second.waitForHello();
      // The shell may print its prompt after `end` was read: the replay holds the last 4096
      // bytes of everything it printed, which the hello's liveOffset counts.
      assert.ok(resumed.liveOffset >= end);
      assert.equal(resumed.offset, resumed.liveOffset - 4096);
      assert.equal(resumed.lostBytes, resumed.offset - hello.offset);
      await waitFor(() => second.receivedOffset >= end);
      const seen = first.output().subarray(resumed.offset - hello.offset);
      assert.deepEqual(second.output().subarray(0, seen.length), seen);
      second.close();
      await second.closed;
    } finally {
      await server.close();
    }
  });

  it('delivers the exit status of a shell that exited while detached', async () => {
    const server = await startServer({ userShellCommand: SHELL, resumeWindow: 30 });
    try {
      const first = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
      const hello = await first.waitForHello();
      const pid = await pidOf(first);
      const offset = first.receivedOffset;
      first.sendInput('sleep 0.3; echo bye-$((3+4)); exit 7\r');
      cut(first);
      await first.closed;
      // The shell is paused while detached, so its last words wait in the pty; it still exits.
      await waitFor(() => !isRunning(pid), { message: 'the detached shell to exit' });
      const second = new V1Client(server.wsUrl, {
        credential: TEST_TOKEN,
        resume: { sessionId: hello.sessionId, offset },
      });
      assert.deepEqual(await second.closed, { code: 1000, reason: 'shell exit code 7' });
      assert.deepEqual(second.exit, { code: 7, signal: null });
      assert.match(second.text(), /bye-7/);
    } finally {
      await server.close();
    }
  });

  it('terminates a detached shell and its jobs when the resume window ends', async () => {
    const server = await startServer({ userShellCommand: SHELL, resumeWindow: 0.5 });
    try {
      const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
      const hello = await client.waitForHello();
      const pid = await pidOf(client);
      client.sendInput('sleep 1000 & echo "job=$!"\r');
      const job = Number(/job=(\d+)/.exec(await client.waitForText(/job=\d+/))?.[1]);
      cut(client);
      await client.closed;
      await waitFor(() => server.server.detachedSessions === 1);
      await waitFor(() => !isRunning(pid) && !isRunning(job), {
        message: 'the shell and its job to end after the window',
      });
      assert.equal(server.server.detachedSessions, 0);
      const late = new V1Client(server.wsUrl, {
        credential: TEST_TOKEN,
        resume: { sessionId: hello.sessionId, offset: 0 },
      });
      assert.equal((await late.closed).code, 4007);
    } finally {
      await server.close();
    }
  });

  it('ends the shell at once when the page closes normally (1000)', async () => {
    const server = await startServer({ userShellCommand: SHELL, resumeWindow: 30 });
    try {
      const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
      await client.waitForHello();
      const pid = await pidOf(client);
      client.close(1000);
      await client.closed;
      await waitFor(() => !isRunning(pid));
      assert.equal(server.server.detachedSessions, 0);
    } finally {
      await server.close();
    }
  });

  it('terminates detached shells when the server shuts down', async () => {
    const server = await startServer({ userShellCommand: SHELL, resumeWindow: 30 });
    const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await client.waitForHello();
    const pid = await pidOf(client);
    cut(client);
    await waitFor(() => server.server.detachedSessions === 1);
    await server.close();
    assert.ok(!isRunning(pid), 'shutdown ends detached shells');
  });
});
