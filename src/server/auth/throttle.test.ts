// The throttle's bookkeeping with time passed in, and how a peer is keyed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { AuthThrottle, FailureLedger, throttleKey } from './throttle.js';
import { parseTrustedProxies } from './trusted-proxies.js';
import { AuthRefusal } from './types.js';

describe('FailureLedger', () => {
  const options = { freeAttempts: 3, baseDelay: 0.5, maxDelay: 4, forgetAfter: 600 };

  it('answers the free failures at once', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 3; failure++) {
      ledger.failed('a', 1000);
      assert.equal(ledger.refusalDelayMs('a', 1000), 0);
    }
  });

  it('delays each further refusal twice as long as the one before, up to the cap', () => {
    const ledger = new FailureLedger(options);
    const delays: number[] = [];
    for (let failure = 0; failure < 9; failure++) {
      ledger.failed('a', 0);
      delays.push(ledger.refusalDelayMs('a', 0));
    }
    assert.deepEqual(delays, [0, 0, 0, 500, 1000, 2000, 4000, 4000, 4000]);
  });

  it('forgets all failures on success', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 6; failure++) {
      ledger.failed('a', 0);
    }
    ledger.succeeded('a');
    assert.equal(ledger.refusalDelayMs('a', 0), 0);
    assert.equal(ledger.failures('a', 0), 0);
    assert.equal(ledger.size, 0);
  });

  it('forgets a peer whose last failure is older than forgetAfter', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 6; failure++) {
      ledger.failed('a', 0);
    }
    assert.equal(ledger.failures('a', 599_999), 6);
    assert.equal(ledger.refusalDelayMs('a', 600_000), 0);
    assert.equal(ledger.size, 0);
  });

  it('keeps peers apart', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 6; failure++) {
      ledger.failed('a', 0);
    }
    ledger.failed('b', 0);
    assert.equal(ledger.refusalDelayMs('b', 0), 0);
    assert.equal(ledger.refusalDelayMs('a', 0), 2000);
  });

  it('remembers at most maxPeers, forgetting the least recently failed first', () => {
    const ledger = new FailureLedger({ ...options, maxPeers: 3 });
    ledger.failed('a', 0);
    ledger.failed('b', 1);
    ledger.failed('c', 2);
    ledger.failed('a', 3); // a is now the most recent
    ledger.failed('d', 4); // evicts b
    assert.equal(ledger.size, 3);
    assert.equal(ledger.failures('b', 5), 0);
    assert.equal(ledger.failures('a', 5), 2);
    assert.equal(ledger.failures('c', 5), 1);
    assert.equal(ledger.failures('d', 5), 1);
  });

  it('stays within maxPeers under a flood of distinct peers', () => {
    const ledger = new FailureLedger({ ...options, maxPeers: 100 });
    for (let peer = 0; peer < 10_000; peer++) {
      ledger.failed(`10.0.${peer >> 8}.${peer & 255}`, peer);
    }
    assert.equal(ledger.size, 100);
  });

  it('refuses options that make no sense, naming them', () => {
    assert.throws(() => new FailureLedger({ maxPeers: 0 }), /authThrottle\.maxPeers/);
    assert.throws(() => new FailureLedger({ baseDelay: -1 }), /authThrottle\.baseDelay/);
    assert.throws(() => new FailureLedger({ maxDelay: Number.NaN }), /authThrottle\.maxDelay/);
  });
});

describe('AuthThrottle', () => {
  const log = createLogger({ level: 'silent' });
  const never = new Promise<never>(() => {});
  const wrong = (): boolean => false;
  const right = (): boolean => true;

  it('lets a right credential in at once while refusals of its peer wait', async () => {
    const throttle = new AuthThrottle({ freeAttempts: 1, baseDelay: 60, maxDelay: 60 });
    assert.equal(await throttle.attempt('p', wrong, never, log), false); // free
    const held = throttle.attempt('p', wrong, never, log); // waits 60 s
    const started = Date.now();
    assert.equal(await throttle.attempt('p', right, never, log), true);
    assert.ok(Date.now() - started < 1000);
    let settled = false;
    void held.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, 'the refusal is still held');
  });

  it('answers a held refusal as soon as its client leaves', async () => {
    const throttle = new AuthThrottle({ freeAttempts: 0, baseDelay: 60, maxDelay: 60 });
    let leave!: () => void;
    const gone = new Promise<void>((resolve) => (leave = resolve));
    const held = throttle.attempt('p', wrong, gone, log);
    leave();
    assert.equal(await held, false);
  });

  it('refuses unchecked once maxHeld refusals of the peer wait, and only for that peer', async () => {
    const throttle = new AuthThrottle({ freeAttempts: 0, baseDelay: 60, maxDelay: 60, maxHeld: 2 });
    let checks = 0;
    const counted = (): boolean => {
      checks += 1;
      return false;
    };
    void throttle.attempt('p', counted, never, log);
    void throttle.attempt('p', counted, never, log);
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(
      throttle.attempt('p', right, never, log),
      (error: unknown) => error instanceof AuthRefusal && error.code === 'XJS_ERR_AUTH_THROTTLED',
    );
    assert.equal(checks, 2, 'the third attempt was not checked');
    assert.equal(await throttle.attempt('q', right, never, log), true);
  });

  it('counts a callback that throws as a failure and passes the error on', async () => {
    const throttle = new AuthThrottle({ freeAttempts: 5 });
    const broken = (): boolean => {
      throw new Error('backend down');
    };
    await assert.rejects(throttle.attempt('p', broken, never, log), /backend down/);
    assert.equal(throttle.peers, 1);
  });
});

describe('throttleKey', () => {
  const nginx = parseTrustedProxies(['127.0.0.1', '::1', 'unix']);

  it('keys a peer by its address, ignoring the X-Forwarded-For it sends', () => {
    assert.equal(throttleKey('203.0.113.9', undefined), '203.0.113.9');
    assert.equal(throttleKey('203.0.113.9', '198.51.100.1', nginx), '203.0.113.9');
    assert.equal(throttleKey('::ffff:203.0.113.9', undefined), '203.0.113.9');
    // Without --trusted-proxy a local process cannot pick its key either (F6).
    assert.equal(throttleKey('127.0.0.1', '198.51.100.1'), '127.0.0.1');
    assert.equal(throttleKey(undefined, '198.51.100.1'), 'unix');
  });

  it('keys a connection from a trusted proxy by the last X-Forwarded-For entry', () => {
    assert.equal(throttleKey('127.0.0.1', '198.51.100.1', nginx), '198.51.100.1');
    assert.equal(throttleKey('::1', 'spoofed, 198.51.100.1, 198.51.100.2', nginx), '198.51.100.2');
    assert.equal(throttleKey(undefined, '198.51.100.1', nginx), '198.51.100.1');
    assert.equal(
      throttleKey('::ffff:127.0.0.1', ['1.1.1.1', '198.51.100.3'], nginx),
      '198.51.100.3',
    );
    const range = parseTrustedProxies(['10.0.0.0/8']);
    assert.equal(throttleKey('10.1.2.3', '198.51.100.4', range), '198.51.100.4');
    assert.equal(throttleKey('11.1.2.3', '198.51.100.4', range), '11.1.2.3');
    assert.equal(throttleKey(undefined, '198.51.100.4', range), 'unix');
  });

  it('falls back to the socket when X-Forwarded-For holds no address', () => {
    assert.equal(throttleKey('127.0.0.1', 'not an address', nginx), '127.0.0.1');
    assert.equal(throttleKey('127.0.0.1', undefined, nginx), '127.0.0.1');
    assert.equal(throttleKey(undefined, undefined, nginx), 'unix');
    assert.equal(throttleKey(undefined, '', nginx), 'unix');
  });

  it('keys IPv6 peers by their /64, since one host may own all of it', () => {
    assert.equal(throttleKey('2001:db8:1:2:3:4:5:6', undefined), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:db8:1:2::99', undefined), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:db8::1', undefined), '2001:db8:0:0::/64');
    assert.equal(throttleKey('fe80::1%eth0', undefined), 'fe80:0:0:0::/64');
    assert.equal(throttleKey('127.0.0.1', '2001:DB8:a:b:c::1', nginx), '2001:db8:a:b::/64');
    assert.equal(throttleKey('::', undefined), '0:0:0:0::/64');
  });
});

describe('parseTrustedProxies', () => {
  it('takes addresses, CIDR ranges and unix', () => {
    const trusted = parseTrustedProxies(['192.0.2.7', '2001:db8::/32', 'unix']);
    assert.equal(trusted.trusts('192.0.2.7'), true);
    assert.equal(trusted.trusts('::ffff:192.0.2.7'), true);
    assert.equal(trusted.trusts('192.0.2.8'), false);
    assert.equal(trusted.trusts('2001:db8:ffff::1'), true);
    assert.equal(trusted.trusts('2001:db9::1'), false);
    assert.equal(trusted.trusts(undefined), true);
    assert.equal(parseTrustedProxies([]).trusts(undefined), false);
  });

  it('refuses what is neither, naming it', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/', '1.2.3.4/8/1', '', 'fe80::/129']) {
      assert.throws(
        () => parseTrustedProxies([bad]),
        new RegExp(`not a trusted proxy: ${JSON.stringify(bad).replace(/[./]/g, '\\$&')}`),
      );
    }
  });
});
