// The idle countdown behind --exit-when-idle, on node:test's fake clock (no waiting).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { IdleTimer, MAX_IDLE_SECONDS } from './idle-timer.js';

describe('IdleTimer', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('fires once the server has been idle for the whole period', () => {
    let fired = 0;
    const timer = new IdleTimer(60, () => (fired += 1));
    timer.update(true);
    mock.timers.tick(59_999);
    assert.equal(fired, 0);
    mock.timers.tick(1);
    assert.equal(fired, 1);
    assert.equal(timer.running, false);
  });

  it('is cancelled by activity and starts a full period again when idle returns', () => {
    let fired = 0;
    const timer = new IdleTimer(10, () => (fired += 1));
    timer.update(true);
    mock.timers.tick(9_000);
    timer.update(false);
    mock.timers.tick(5_000);
    assert.equal(fired, 0, 'a connection cancels the countdown');
    timer.update(true);
    mock.timers.tick(9_999);
    assert.equal(fired, 0, 'the countdown restarted from zero');
    mock.timers.tick(1);
    assert.equal(fired, 1);
  });

  it('does not push the deadline back when told it is still idle', () => {
    let fired = 0;
    const timer = new IdleTimer(10, () => (fired += 1));
    timer.update(true);
    mock.timers.tick(6_000);
    timer.update(true);
    mock.timers.tick(4_000);
    assert.equal(fired, 1);
  });

  it('never fires after dispose, whatever it is told', () => {
    let fired = 0;
    const timer = new IdleTimer(1, () => (fired += 1));
    timer.update(true);
    timer.dispose();
    timer.update(true);
    mock.timers.tick(10_000);
    assert.equal(fired, 0);
  });

  it('refuses periods setTimeout cannot hold, naming the limit', () => {
    assert.throws(() => new IdleTimer(0, () => {}), /> 0 and <= 2147483, got 0/);
    assert.throws(() => new IdleTimer(MAX_IDLE_SECONDS + 1, () => {}), /<= 2147483/);
    assert.throws(() => new IdleTimer(Number.NaN, () => {}), /got NaN/);
  });
});
