import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFinalClose, isResumableClose, ReconnectSchedule } from './reconnect.js';

describe('ReconnectSchedule', () => {
  it('doubles from the base up to the cap without jitter at the middle', () => {
    const schedule = new ReconnectSchedule(500, 10_000, () => 0.5);
    const delays = Array.from({ length: 8 }, () => schedule.next());
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    assert.equal(schedule.attempts, 8);
  });

  it('jitters by at most 20 % and never passes the cap', () => {
    const low = new ReconnectSchedule(1000, 3000, () => 0);
    const high = new ReconnectSchedule(1000, 3000, () => 0.999_999);
    assert.deepEqual([low.next(), low.next(), low.next()], [800, 1600, 2400]);
    assert.deepEqual([high.next(), high.next(), high.next()], [1200, 2400, 3000]);
  });

  it('starts over after a success', () => {
    const schedule = new ReconnectSchedule(500, 10_000, () => 0.5);
    schedule.next();
    schedule.next();
    schedule.reset();
    assert.equal(schedule.next(), 500);
  });
});

describe('isResumableClose', () => {
  it('resumes after a lost connection, not after an ending the server chose', () => {
    for (const code of [1005, 1006, 1011, 1012, 1013, 4010]) {
      assert.equal(isResumableClose(code), true, String(code));
    }
    for (const code of [1000, 1001, 1009, 4001, 4002, 4003, 4005, 4006, 4007, 4008, 4009]) {
      assert.equal(isResumableClose(code), false, String(code));
    }
  });
});

describe('isFinalClose', () => {
  it('never tries again after a take-over, a read-only refusal, a revoked link or an ended session', () => {
    for (const code of [4008, 4013, 4014, 4015]) {
      assert.equal(isFinalClose(code), true, String(code));
      assert.equal(isResumableClose(code), false, String(code));
    }
    for (const code of [1000, 1006, 4001, 4007, 4010]) {
      assert.equal(isFinalClose(code), false, String(code));
    }
  });
});
