// Guessing is slowed per peer: after the free attempts each refusal is answered late (here:
// past the auth timeout), a peer may have only so many refusals waiting, success forgets, other
// peers are unaffected, and the right credential is never held back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { login, type Login } from '../helpers/login.js';
import { descendants } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SHELL = ['/bin/bash', '--norc', '--noprofile'];

/** One v1 login as a proxied browser at `peer` (X-Forwarded-For, as nginx sends it). */
function loginAs(server: TestServer, credential: string, peer: string): Promise<Login> {
  return login(server.wsUrl, credential, { 'X-Forwarded-For': peer });
}

const refused = { in: false, code: 4001, reason: 'Authentication failed' };
const throttled = {
  in: false,
  code: 4011,
  reason: 'Too many failed attempts from this address; try again later',
};
const heldBack = { in: false, code: 4002, reason: 'Authentication timed out' };
const admitted = { in: true, code: 1000, reason: '' };

describe('the auth throttle', () => {
  let server: TestServer;
  const baseline = descendants().length;
  before(async () => {
    // A delay far beyond the auth timeout: a held-back attempt ends with 4002, never by luck.
    server = await startServer({
      userShellCommand: SHELL,
      authTimeout: 1,
      authThrottle: { freeAttempts: 2, baseDelay: 60, maxDelay: 60, maxHeld: 2 },
      // The tests play browsers behind nginx on loopback, whose X-Forwarded-For counts.
      trustedProxies: ['127.0.0.1'],
    });
  });
  after(async () => {
    await server.close();
    await waitFor(() => descendants().length === baseline, { message: 'no stray processes' });
  });

  it('answers refusals after the free ones late, but lets the right token in at once', async () => {
    const peer = '198.51.100.1';
    assert.deepEqual(await loginAs(server, 'wrong-guess-1', peer), refused);
    assert.deepEqual(await loginAs(server, 'wrong-guess-2', peer), refused);
    assert.deepEqual(await loginAs(server, 'wrong-guess-3', peer), heldBack);
    const delayed = server.logs.find(
      (line) => line.msg.includes('the answer is delayed') && line.throttleKey === peer,
    );
    assert.equal(delayed?.failures, 3);
    assert.equal(delayed?.delayMs, 60_000);
    assert.deepEqual(await loginAs(server, TEST_TOKEN, peer), admitted);
  });

  it('leaves other peers alone', async () => {
    assert.deepEqual(await loginAs(server, TEST_TOKEN, '198.51.100.2'), admitted);
    assert.deepEqual(await loginAs(server, 'wrong-guess', '2001:db8:1:1::7'), refused);
  });

  it('forgets a peer that got in', async () => {
    const peer = '198.51.100.3';
    assert.deepEqual(await loginAs(server, 'wrong-guess-1', peer), refused);
    assert.deepEqual(await loginAs(server, TEST_TOKEN, peer), admitted);
    assert.deepEqual(await loginAs(server, 'wrong-guess-2', peer), refused);
    assert.deepEqual(await loginAs(server, 'wrong-guess-3', peer), refused);
    // Without the reset this would be the fourth failure in a row, and held back already.
    assert.deepEqual(await loginAs(server, 'wrong-guess-4', peer), heldBack);
  });

  it('lets a peer have only maxHeld refusals waiting: parallel attempts gain nothing', async () => {
    const peer = '198.51.100.4';
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) => loginAs(server, `wrong-guess-${index}`, peer)),
    );
    const codes = results.map((result) => result.code).sort();
    // Two free, two held until the auth timeout, two refused without being checked.
    assert.deepEqual(codes, [4001, 4001, 4002, 4002, 4011, 4011]);
    assert.deepEqual(
      results.find((result) => result.code === 4011),
      throttled,
    );
  });

  it('treats one IPv6 /64 as one peer', async () => {
    assert.deepEqual(await loginAs(server, 'wrong', '2001:db8:5:5::1'), refused);
    assert.deepEqual(await loginAs(server, 'wrong', '2001:db8:5:5::2'), refused);
    assert.deepEqual(await loginAs(server, 'wrong', '2001:db8:5:5:ffff::3'), heldBack);
  });
});
