// The throttle's bookkeeping with time passed in, and how a peer is keyed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureLedger, throttleKey } from './throttle.js';

describe('FailureLedger', () => {
  const options = { freeAttempts: 3, baseDelay: 0.5, maxDelay: 4, forgetAfter: 600 };

  it('lets the first attempts through without delay', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 3; failure++) {
      assert.equal(ledger.waitMs('a', 1000), 0);
      ledger.failed('a', 1000);
    }
  });

  it('doubles the wait after each further failure, up to the cap', () => {
    const ledger = new FailureLedger(options);
    const waits: number[] = [];
    let now = 0;
    for (let failure = 0; failure < 9; failure++) {
      const wait = ledger.waitMs('a', now);
      waits.push(wait);
      now += wait;
      ledger.failed('a', now);
    }
    assert.deepEqual(waits, [0, 0, 0, 500, 1000, 2000, 4000, 4000, 4000]);
  });

  it('counts time already waited towards the delay', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 4; failure++) {
      ledger.failed('a', 0);
    }
    assert.equal(ledger.waitMs('a', 0), 1000);
    assert.equal(ledger.waitMs('a', 600), 400);
    assert.equal(ledger.waitMs('a', 5000), 0);
  });

  it('forgets all failures on success', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 6; failure++) {
      ledger.failed('a', 0);
    }
    ledger.succeeded('a');
    assert.equal(ledger.waitMs('a', 0), 0);
    assert.equal(ledger.failures('a', 0), 0);
    assert.equal(ledger.size, 0);
  });

  it('forgets a peer whose last failure is older than forgetAfter', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 6; failure++) {
      ledger.failed('a', 0);
    }
    assert.equal(ledger.failures('a', 599_999), 6);
    assert.equal(ledger.waitMs('a', 600_000), 0);
    assert.equal(ledger.size, 0);
  });

  it('keeps peers apart', () => {
    const ledger = new FailureLedger(options);
    for (let failure = 0; failure < 6; failure++) {
      ledger.failed('a', 0);
    }
    assert.equal(ledger.waitMs('b', 0), 0);
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

describe('throttleKey', () => {
  it('keys a remote peer by its address, ignoring the X-Forwarded-For it sends', () => {
    assert.equal(throttleKey('203.0.113.9', undefined), '203.0.113.9');
    assert.equal(throttleKey('203.0.113.9', '198.51.100.1'), '203.0.113.9');
    assert.equal(throttleKey('::ffff:203.0.113.9', undefined), '203.0.113.9');
  });

  it('keys a connection from a local proxy by the last X-Forwarded-For entry', () => {
    assert.equal(throttleKey('127.0.0.1', '198.51.100.1'), '198.51.100.1');
    assert.equal(throttleKey('::1', 'spoofed, 198.51.100.1, 198.51.100.2'), '198.51.100.2');
    assert.equal(throttleKey(undefined, '198.51.100.1'), '198.51.100.1');
    assert.equal(throttleKey('::ffff:127.0.0.1', ['1.1.1.1', '198.51.100.3']), '198.51.100.3');
  });

  it('falls back to the socket when X-Forwarded-For holds no address', () => {
    assert.equal(throttleKey('127.0.0.1', 'not an address'), '127.0.0.1');
    assert.equal(throttleKey('127.0.0.1', undefined), '127.0.0.1');
    assert.equal(throttleKey(undefined, undefined), 'unix');
    assert.equal(throttleKey(undefined, ''), 'unix');
  });

  it('keys IPv6 peers by their /64, since one host may own all of it', () => {
    assert.equal(throttleKey('2001:db8:1:2:3:4:5:6', undefined), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:db8:1:2::99', undefined), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:db8::1', undefined), '2001:db8:0:0::/64');
    assert.equal(throttleKey('fe80::1%eth0', undefined), 'fe80:0:0:0::/64');
    assert.equal(throttleKey('127.0.0.1', '2001:DB8:a:b:c::1'), '2001:db8:a:b::/64');
    assert.equal(throttleKey('::', undefined), '0:0:0:0::/64');
  });
});
