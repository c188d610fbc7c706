// The spawner's replies, checked field by field: anything else is malformed, never dropped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReply } from './shell-spawner.js';

describe('parseReply', () => {
  it('reads a start with the shell’s start time and the pid counters', () => {
    assert.deepEqual(parseReply('P 3 4242 98765 123456 90123 4243 345'), {
      type: 'P',
      id: 3,
      started: {
        pid: 4242,
        startTime: 98765,
        held: { at: 123456, forks: 90123, lastPid: 4243, tasks: 345 },
      },
    });
    assert.deepEqual(parseReply('P 3 4242 - - - - -'), {
      type: 'P',
      id: 3,
      started: { pid: 4242, startTime: undefined, held: undefined },
    });
  });

  it('reads an error with its hex message', () => {
    assert.deepEqual(parseReply(`E 9 ${Buffer.from('fork: no').toString('hex')}`), {
      type: 'E',
      id: 9,
      message: 'fork: no',
    });
    assert.deepEqual(parseReply('E 9 '), { type: 'E', id: 9, message: '' });
  });

  it('reads an exit code or a signal, with the counters read before the reaping', () => {
    assert.deepEqual(parseReply('X 4242 3 - 1 2 3 4'), {
      type: 'X',
      pid: 4242,
      status: { code: 3, signal: null },
      held: { at: 1, forks: 2, lastPid: 3, tasks: 4 },
    });
    assert.deepEqual(parseReply('X 4242 - 9 - - - -'), {
      type: 'X',
      pid: 4242,
      status: { code: null, signal: 'SIGKILL' },
      held: undefined,
    });
  });

  for (const line of [
    '',
    'P',
    'P 1 not-a-pid',
    'P 1 4242',
    'P 1 1 5 1 1 1 1',
    'P 1 4242 5 1 1 1',
    'P 1 4242 5 1 1 1 1 extra',
    'P -1 4242 5 1 1 1 1',
    'P 1 04242 5 1 1 1 1',
    'P 1 4242 x 1 1 1 1',
    'P 1 4242 5 1 - 1 1',
    'P 1 99999999999999999999 5 1 1 1 1',
    'E 1 zz',
    'E 1 abc',
    'E x 00',
    'E 1 00 extra',
    'X 4242 - - 1 1 1 1',
    'X 4242 0 9 1 1 1 1',
    'X 4242 0 -',
    'X pid 0 - 1 1 1 1',
    'Z garbage',
    'p 1 4242 5 1 1 1 1',
    ' P 1 4242 5 1 1 1 1',
  ]) {
    it(`calls ${JSON.stringify(line)} malformed`, () => {
      assert.equal(parseReply(line).type, 'malformed');
    });
  }
});
