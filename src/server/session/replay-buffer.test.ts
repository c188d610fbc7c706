import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplayBuffer } from './replay-buffer.js';

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

function joined(slice: { chunks: readonly Buffer[] }): string {
  return Buffer.concat(slice.chunks).toString('latin1');
}

describe('ReplayBuffer', () => {
  it('returns everything from an offset while the capacity holds it', () => {
    const buffer = new ReplayBuffer(100);
    buffer.append(bytes('hello '));
    buffer.append(bytes('world'));
    assert.equal(buffer.endOffset, 11);
    assert.equal(joined(buffer.sliceFrom(0)), 'hello world');
    assert.equal(joined(buffer.sliceFrom(3)), 'lo world');
    assert.equal(joined(buffer.sliceFrom(6)), 'world');
    assert.deepEqual(buffer.sliceFrom(11).chunks, []);
    assert.equal(buffer.sliceFrom(3).lostBytes, 0);
  });

  it('keeps exactly its capacity, trimming inside a chunk, and reports the bytes lost', () => {
    const buffer = new ReplayBuffer(8);
    buffer.append(bytes('abcdef'));
    buffer.append(bytes('ghijkl'));
    assert.equal(buffer.size, 8);
    assert.equal(buffer.startOffset, 4);
    const slice = buffer.sliceFrom(1);
    assert.equal(slice.offset, 4);
    assert.equal(slice.lostBytes, 3);
    assert.equal(joined(slice), 'efghijkl');
  });

  it('never holds more than its capacity over many small chunks', () => {
    const buffer = new ReplayBuffer(1000);
    let all = '';
    for (let i = 0; i < 10_000; i++) {
      const chunk = `${i},`;
      all += chunk;
      buffer.append(bytes(chunk));
      assert.ok(buffer.size <= 1000);
    }
    assert.equal(buffer.endOffset, all.length);
    assert.equal(joined(buffer.sliceFrom(all.length - 1000)), all.slice(-1000));
  });

  it('keeps nothing with capacity 0 but still counts offsets', () => {
    const buffer = new ReplayBuffer(0);
    buffer.append(bytes('abc'));
    assert.equal(buffer.endOffset, 3);
    assert.equal(buffer.sliceFrom(0).lostBytes, 3);
  });

  it('refuses an offset past the end or a bad capacity', () => {
    const buffer = new ReplayBuffer(10);
    buffer.append(bytes('abc'));
    assert.throws(() => buffer.sliceFrom(4), RangeError);
    assert.throws(() => buffer.sliceFrom(-1), RangeError);
    assert.throws(() => new ReplayBuffer(-1), RangeError);
    assert.throws(() => new ReplayBuffer(1.5), RangeError);
  });
});
