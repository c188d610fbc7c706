import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeAgo,
  describeCommand,
  describeDuration,
  describeExpiry,
  describeViewers,
} from './describe.js';

describe('describeDuration', () => {
  it('says seconds, minutes, hours and days in the fewest words', () => {
    assert.equal(describeDuration(0), '0 s');
    assert.equal(describeDuration(59.9), '59 s');
    assert.equal(describeDuration(60), '1 min');
    assert.equal(describeDuration(3599), '59 min');
    assert.equal(describeDuration(3600 + 5 * 60), '1 h 05 min');
    assert.equal(describeDuration(2 * 86400 + 4 * 3600), '2 d 4 h');
    assert.equal(describeDuration(-3), '0 s');
  });
});

describe('describeAgo and describeExpiry', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it('counts from an ISO time or milliseconds', () => {
    assert.equal(describeAgo('2026-01-01T11:55:00Z', now), '5 min ago');
    assert.equal(describeAgo(now - 2000, now), 'just now');
    assert.equal(describeAgo('garbage', now), 'at an unknown time');
    assert.equal(describeExpiry('2026-01-01T13:00:00Z', now), 'expires in 1 h 00 min');
    assert.equal(describeExpiry(now - 1, now), 'expired');
  });
});

describe('describeViewers', () => {
  it('counts the screens by role', () => {
    assert.equal(describeViewers([]), 'no screen');
    assert.equal(describeViewers([{ role: 'owner' }]), '1 screen (owner)');
    assert.equal(
      describeViewers([{ role: 'reader' }, { role: 'owner' }, { role: 'reader' }]),
      '3 screens (owner, 2 read-only)',
    );
    assert.equal(
      describeViewers([{ role: 'writer' }, { role: 'owner' }]),
      '2 screens (owner, can type)',
    );
  });
});

describe('describeCommand', () => {
  it('quotes what a shell would need quoted', () => {
    assert.equal(describeCommand(['/bin/bash', '--norc', '-l']), '/bin/bash --norc -l');
    assert.equal(
      describeCommand(['sh', '-c', "echo 'hi there'"]),
      `sh -c 'echo '\\''hi there'\\'''`,
    );
    assert.equal(describeCommand([]), 'shell');
  });
});
