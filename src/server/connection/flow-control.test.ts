// The flow-control state machine: pause above the high mark, resume below the low mark.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowControl, type FlowControlOptions } from './flow-control.js';

const HIGH = 1000;
const LOW = 200;

function flow(options: Partial<FlowControlOptions> = {}): FlowControl {
  return new FlowControl({
    highWaterBytes: HIGH,
    lowWaterBytes: LOW,
    acknowledged: true,
    ...options,
  });
}

describe('flow control with acknowledgements (v1)', () => {
  it('stays running up to the high mark and pauses once unacknowledged bytes pass it', () => {
    const control = flow();
    assert.equal(control.sent(HIGH - 1, 0), undefined);
    assert.equal(control.sent(1, 0), undefined, 'exactly at the high mark is not above it');
    assert.equal(control.paused, false);
    assert.equal(control.sent(1, 0), 'pause');
    assert.equal(control.paused, true);
    assert.equal(control.unacknowledged, HIGH + 1);
  });

  it('says pause once, not again for more output while paused', () => {
    const control = flow();
    assert.equal(control.sent(HIGH + 1, 0), 'pause');
    assert.equal(control.sent(500, 0), undefined);
    assert.equal(control.drained(0), undefined);
    assert.equal(control.pauses, 1);
  });

  it('resumes only below the low mark, not at it', () => {
    const control = flow();
    control.sent(HIGH + 1, 0);
    assert.equal(control.acknowledged(HIGH + 1 - (LOW + 1)), undefined);
    assert.equal(control.acknowledged(HIGH + 1 - LOW), undefined, 'exactly at the low mark');
    assert.equal(control.paused, true);
    assert.equal(control.acknowledged(HIGH + 1 - (LOW - 1)), 'resume');
    assert.equal(control.paused, false);
    assert.equal(control.unacknowledged, LOW - 1);
  });

  it('does not resume between the marks (hysteresis)', () => {
    const control = flow();
    control.sent(HIGH + 1, 0);
    assert.equal(control.acknowledged(500), undefined);
    assert.equal(control.paused, true);
    assert.equal(control.unacknowledged, HIGH + 1 - 500);
  });

  it('also pauses when the socket buffers more than the high mark, though all is acknowledged', () => {
    const control = flow();
    control.sent(100, 0);
    control.acknowledged(100);
    assert.equal(control.drained(HIGH + 1), 'pause');
  });

  it('resumes only when both the unacknowledged and the buffered bytes are below the low mark', () => {
    const control = flow();
    assert.equal(control.sent(HIGH + 1, HIGH + 1), 'pause');
    assert.equal(control.acknowledged(HIGH + 1), undefined, 'the socket still buffers');
    assert.equal(control.drained(LOW), undefined);
    assert.equal(control.drained(LOW - 1), 'resume');

    const other = flow();
    other.sent(HIGH + 1, HIGH + 1);
    assert.equal(other.drained(0), undefined, 'the client has not acknowledged yet');
    assert.equal(other.acknowledged(HIGH + 1), 'resume');
  });

  it('throws a RangeError for an acknowledgement beyond what was sent', () => {
    const control = flow();
    control.sent(100, 0);
    assert.throws(() => control.acknowledged(101), {
      name: 'RangeError',
      message: /ack offset 101 is beyond the sent offset 100/,
    });
    assert.equal(control.ackedOffset, 0, 'the bad acknowledgement changed nothing');
  });

  it('accepts an acknowledgement of everything sent', () => {
    const control = flow();
    control.sent(100, 0);
    assert.equal(control.acknowledged(100), undefined);
    assert.equal(control.unacknowledged, 0);
  });

  it('ignores an acknowledgement older than the last one', () => {
    const control = flow();
    control.sent(HIGH + 1, 0);
    control.acknowledged(600);
    assert.equal(control.acknowledged(300), undefined);
    assert.equal(control.ackedOffset, 600);
    assert.equal(control.unacknowledged, HIGH + 1 - 600);
    assert.equal(control.paused, true);
  });

  it('counts offsets from startOffset (a resumed session)', () => {
    const start = 5_000_000;
    const control = flow({ startOffset: start });
    assert.equal(control.sentOffset, start);
    assert.equal(control.ackedOffset, start);
    assert.equal(control.unacknowledged, 0);
    assert.equal(control.acknowledged(start - 10), undefined, 'an old offset is stale');
    assert.equal(control.ackedOffset, start);
    assert.equal(control.sent(HIGH + 1, 0), 'pause');
    assert.equal(control.sentOffset, start + HIGH + 1);
    assert.throws(() => control.acknowledged(start + HIGH + 2), RangeError);
    assert.equal(control.acknowledged(start + HIGH + 1), 'resume');
  });

  it('counts how many times it paused', () => {
    const control = flow();
    for (let round = 1; round <= 3; round++) {
      assert.equal(control.sent(HIGH + 1, 0), 'pause');
      assert.equal(control.acknowledged(control.sentOffset), 'resume');
      assert.equal(control.pauses, round);
    }
  });
});

describe('flow control without acknowledgements (legacy)', () => {
  it('never pauses for unacknowledged output, however much is sent', () => {
    const control = flow({ acknowledged: false });
    assert.equal(control.sent(100 * HIGH, 0), undefined);
    assert.equal(control.unacknowledged, 0);
    assert.equal(control.paused, false);
  });

  it('pauses above the high mark of buffered bytes and resumes below the low mark', () => {
    const control = flow({ acknowledged: false });
    assert.equal(control.sent(10, HIGH), undefined);
    assert.equal(control.sent(10, HIGH + 1), 'pause');
    assert.equal(control.drained(LOW), undefined);
    assert.equal(control.drained(LOW - 1), 'resume');
    assert.equal(control.pauses, 1);
  });
});

describe('flow control options', () => {
  const pairs: Array<[low: number, high: number]> = [
    [HIGH, HIGH],
    [HIGH + 1, HIGH],
    [-1, HIGH],
    [Number.NaN, HIGH],
    [LOW, Number.NaN],
  ];
  for (const [low, high] of pairs) {
    it(`refuses lowWaterBytes ${low} with highWaterBytes ${high}`, () => {
      assert.throws(
        () => new FlowControl({ highWaterBytes: high, lowWaterBytes: low, acknowledged: true }),
        { name: 'RangeError', message: /lowWaterBytes/ },
      );
    });
  }
});
