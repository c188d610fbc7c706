// Several pages on one shell (docs/sessions.md): attach, share links with roles, the size
// policy, a stalled viewer that slows nobody, the same bytes for every viewer, and the API.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { V1Client, type V1ClientOptions } from '../helpers/clients.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];

/** A page: V1Client with SESSION events on, as our page asks for them. */
function openPage(url: string, options: V1ClientOptions, autoAck = true): V1Client {
  return new V1Client(url, { events: true, autoAck, ...options });
}

async function api(
  server: TestServer,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = options.token === undefined ? TEST_TOKEN : options.token;
  const response = await fetch(`${server.httpUrl}api/${path}`, {
    method,
    headers: {
      ...(token !== null ? { Authorization: `Bearer ${token}` } : {}),
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

async function share(server: TestServer, sessionId: string, role: string): Promise<string> {
  const made = await api(server, 'POST', `sessions/${sessionId}/shares`, { body: { role } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return String(made.body.url).replace('./#share=', '');
}

describe('several pages on one shell', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, replayBufferBytes: 256 * 1024 });
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('attaches a second page that sees output live, can type, and leaves the first alone', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const hello = await a.waitForHello();
    a.sendInput('echo "pid=$$."\r');
    await a.waitForText(/pid=(\d+)\./);
    const b = openPage(server.wsUrl, { credential: TEST_TOKEN, attach: hello.sessionId });
    const joined = await b.waitForHello();
    assert.equal(joined.sessionId, hello.sessionId);
    assert.equal(joined.role, 'owner');
    await b.waitForText(/pid=\d+\./); // the replay: what was on screen before it joined
    a.sendInput('echo "from-a-$((6*7))"\r');
    await b.waitForText(/from-a-42/);
    b.sendInput('echo "from-b-$$"\r');
    const pid = /pid=(\d+)\./.exec(a.text())?.[1];
    await a.waitForText(new RegExp(`from-b-${pid}`));
    const viewers = b.events.filter((event) => event.kind === 'viewers').at(-1);
    assert.equal(viewers?.kind === 'viewers' ? viewers.viewers.length : 0, 2);
    b.close();
    assert.equal((await b.closed).code, 1000);
    a.sendInput('echo "still-$((1+1))"\r');
    await a.waitForText(/still-2/);
    assert.ok(
      server.logs.some((line) => line.msg === 'left the session; other pages still watch it'),
    );
    a.close();
    await a.closed;
  });

  it('lets one of two screens resume after a drop without taking the other’s place', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const b = openPage(server.wsUrl, { credential: TEST_TOKEN, attach: sessionId });
    await b.waitForHello();
    const self = await waitFor(() => {
      const last = b.events.filter((event) => event.kind === 'viewers').at(-1);
      return last?.kind === 'viewers' ? last.self : undefined;
    });
    b.socket.terminate(); // its network died; the server may still hold its old socket
    const back = openPage(server.wsUrl, {
      credential: TEST_TOKEN,
      resume: { sessionId, offset: b.receivedOffset, viewerId: self },
    });
    assert.equal((await back.waitForHello()).resumed, true);
    a.sendInput('echo "both-$((9*9))"\r');
    await back.waitForText(/both-81/);
    await a.waitForText(/both-81/);
    assert.equal(a.closeInfo, undefined, 'the other screen stays');
    a.close();
    back.close();
    await Promise.all([a.closed, back.closed]);
  });

  it('refuses an attach to a session that does not exist', async () => {
    const unknown = openPage(server.wsUrl, { credential: TEST_TOKEN, attach: 'f'.repeat(32) });
    assert.equal((await unknown.closed).code, 4007);
  });

  it('lets a read-only link watch, refuses its input and never applies its size', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const secret = await share(server, sessionId, 'reader');
    assert.match(secret, /^xjs-share-[A-Za-z0-9_-]{43}$/);
    const reader = openPage(server.wsUrl, { share: secret, cols: 50, rows: 10 });
    assert.equal((await reader.waitForHello()).role, 'reader');
    reader.resize(40, 12);
    a.sendInput('echo "size=$(stty size)"\r');
    await reader.waitForText(/size=24 80/);
    reader.sendInput('echo never-typed\r');
    const closed = await reader.closed;
    assert.deepEqual(closed, { code: 4013, reason: 'This page may only watch the session' });
    a.sendInput('echo "alive-$((2+3))"\r');
    await a.waitForText(/alive-5/);
    assert.doesNotMatch(a.text(), /never-typed/);
    assert.ok(
      !server.logs.some((line) => JSON.stringify(line).includes(secret)),
      'no secret in logs',
    );
    a.close();
    await a.closed;
  });

  it('cuts the pages of a revoked link at once and refuses the link afterwards', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const made = await api(server, 'POST', `sessions/${sessionId}/shares`, {
      body: { role: 'writer', expiresIn: 600 },
    });
    const secret = String(made.body.url).replace('./#share=', '');
    const writer = openPage(server.wsUrl, { share: secret });
    assert.equal((await writer.waitForHello()).role, 'writer');
    writer.sendInput('echo "writer-$((3*3))"\r');
    await a.waitForText(/writer-9/);
    const listed = await api(server, 'GET', `sessions/${sessionId}`);
    assert.equal((listed.body.shares as unknown[]).length, 1);
    assert.equal(
      (await api(server, 'DELETE', `sessions/${sessionId}/shares/${String(made.body.id)}`)).status,
      204,
    );
    assert.equal((await writer.closed).code, 4014);
    const again = openPage(server.wsUrl, { share: secret });
    assert.deepEqual(await again.closed, {
      code: 4014,
      reason: 'The share link was revoked or expired',
    });
    a.sendInput('echo "owner-ok"\r');
    await a.waitForText(/owner-ok/);
    a.close();
    await a.closed;
  });

  it('lets the writer who typed last drive the size', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const b = openPage(server.wsUrl, {
      credential: TEST_TOKEN,
      attach: sessionId,
      cols: 100,
      rows: 30,
    });
    await b.waitForHello();
    a.sendInput('echo "a=$(stty size)"\r');
    await a.waitForText(/a=24 80/); // joining alone changes nothing
    b.sendInput('echo "b=$(stty size)"\r');
    await b.waitForText(/b=30 100/);
    assert.ok(
      a.events.some((event) => event.kind === 'size' && event.cols === 100 && event.rows === 30),
    );
    a.sendInput('echo "back=$(stty size)"\r');
    await a.waitForText(/back=24 80/);
    b.close();
    a.close();
    await Promise.all([a.closed, b.closed]);
  });

  it('does not let a stalled viewer hold the shell back; it catches up, told what it skipped', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const stalled = openPage(server.wsUrl, { credential: TEST_TOKEN, attach: sessionId }, false);
    await stalled.waitForHello();
    // About 3.4 MB, more than the replay buffer (256 KiB here) many times over.
    a.sendInput('seq 1 500000; echo "done-$((4*4))"\r');
    await a.waitForText(/\n500000\r\n.*done-16/s, { timeout: 30_000 });
    const received = stalled.receivedOffset - (stalled.hello?.offset ?? 0);
    assert.ok(received < 1024 * 1024, `the stalled viewer got ${received} bytes without acking`);
    stalled.ack(); // it wakes up: what it missed beyond the replay is skipped, the rest comes
    await waitFor(() => stalled.events.some((event) => event.kind === 'skipped'), {
      message: 'a skipped event',
    });
    await stalled.waitForText(/done-16/);
    a.close();
    stalled.close();
    await Promise.all([a.closed, stalled.closed]);
  });

  it('keeps a page that hears no events going after it was skipped ahead', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    // An older page: no events, so it is never told of the skip and counts its own offsets.
    const old = openPage(
      server.wsUrl,
      { credential: TEST_TOKEN, attach: sessionId, events: false },
      false,
    );
    await old.waitForHello();
    a.sendInput('seq 1 500000; echo "first-$((7*7))"\r');
    await a.waitForText(/first-49/, { timeout: 30_000 });
    old.ack();
    await old.waitForText(/first-49/);
    assert.equal(old.events.length, 0);
    for (let round = 0; round < 20; round++) old.ack(); // as a page acks, from its own count
    a.sendInput('seq 1 100000 | tail -1; echo "second-$((8*8))"\r');
    // Before the fix its acknowledgements lagged by the skipped bytes and it stayed behind.
    await old.waitForText(/100000\r\n.*second-64/s);
    a.close();
    old.close();
    await Promise.all([a.closed, old.closed]);
  });

  it('gives ten viewers the same bytes in order', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const viewers = Array.from({ length: 10 }, () =>
      openPage(server.wsUrl, { credential: TEST_TOKEN, attach: sessionId }),
    );
    await Promise.all(viewers.map((viewer) => viewer.waitForHello()));
    const start = a.receivedOffset;
    a.sendInput('seq 1 200000 | md5sum; seq 1 200000; echo "end-$((5*5))"\r');
    for (const page of [a, ...viewers]) {
      await page.waitForText(/end-25\r\n/, { timeout: 30_000 });
    }
    const digest = (page: V1Client): string => {
      const all = page.output();
      // Every page counts from its own hello offset; compare from the writer's start on.
      const skip = start - (page.hello?.offset ?? 0);
      const end = all.indexOf('end-25\r\n', skip) + 8;
      return createHash('sha256').update(all.subarray(skip, end)).digest('hex');
    };
    const expected = digest(a);
    for (const viewer of viewers) {
      assert.equal(
        viewer.events.some((event) => event.kind === 'skipped'),
        false,
      );
      assert.equal(digest(viewer), expected);
    }
    for (const page of [a, ...viewers]) page.close();
    await Promise.all([a, ...viewers].map((page) => page.closed));
  });
});

describe('the session API', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    server = await startServer({ userShellCommand: SHELL, metrics: true });
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('lists the credential’s sessions with their viewers and shares', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    await share(server, sessionId, 'reader');
    const list = await api(server, 'GET', 'sessions');
    assert.equal(list.status, 200);
    const sessions = list.body.sessions as Array<Record<string, unknown>>;
    const listed = sessions.find((session) => session.id === sessionId);
    assert.ok(listed !== undefined);
    assert.deepEqual(listed.command, SHELL);
    assert.equal(listed.cols, 80);
    assert.equal(listed.rows, 24);
    assert.equal((listed.viewers as Array<{ role: string }>)[0]?.role, 'owner');
    assert.equal((listed.shares as Array<{ role: string }>)[0]?.role, 'reader');
    assert.match(String(listed.startedAt), /^\d{4}-\d\d-\d\dT/);
    a.close();
    await a.closed;
  });

  it('refuses no credential (401), a share credential and another site (403), bad input (400)', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const secret = await share(server, sessionId, 'writer');
    assert.equal((await api(server, 'GET', 'sessions', { token: null })).status, 401);
    assert.equal(
      (await api(server, 'GET', 'sessions', { token: 'wrong-token-000000' })).status,
      401,
    );
    const shared = await api(server, 'GET', 'sessions', { token: secret });
    assert.equal(shared.status, 403);
    assert.deepEqual(shared.body, {
      error: { code: 'XJS_API_FORBIDDEN', message: 'a share link cannot use the API' },
    });
    const foreign = await api(server, 'GET', 'sessions', {
      headers: { Origin: 'https://evil.example' },
    });
    assert.equal(foreign.status, 403);
    const path = `sessions/${sessionId}/shares`;
    assert.equal((await api(server, 'POST', path, { body: { role: 'admin' } })).status, 400);
    const tooLong = await api(server, 'POST', path, {
      body: { role: 'reader', expiresIn: 10 ** 7 },
    });
    assert.equal(tooLong.status, 400);
    assert.match(String((tooLong.body.error as { message: string }).message), /max-share-lifetime/);
    assert.equal((await api(server, 'GET', `sessions/${'0'.repeat(32)}`)).status, 404);
    assert.equal((await api(server, 'PUT', 'sessions')).status, 405);
    a.close();
    await a.closed;
  });

  it('ends a session: its pages get 4015 and the shell is gone', async () => {
    const a = openPage(server.wsUrl, { credential: TEST_TOKEN });
    const { sessionId } = await a.waitForHello();
    const b = openPage(server.wsUrl, { credential: TEST_TOKEN, attach: sessionId });
    await b.waitForHello();
    assert.equal((await api(server, 'DELETE', `sessions/${sessionId}`)).status, 204);
    for (const page of [a, b]) {
      assert.deepEqual(await page.closed, { code: 4015, reason: 'The session was ended' });
    }
    await waitFor(async () => (await api(server, 'GET', `sessions/${sessionId}`)).status === 404, {
      message: 'the session to be gone',
    });
    const metrics = await fetch(`${server.httpUrl}metrics`, {
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
    });
    assert.match(await metrics.text(), /xterm_js_shell_shares_total\{event="created"\} 2/);
  });
});
