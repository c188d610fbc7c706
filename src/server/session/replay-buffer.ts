/**
 * The most recent output of a session, addressed by absolute byte offset: what a resuming client
 * missed. Holds references to the pty's chunks (no copying) and trims the oldest bytes so that
 * it never keeps more than its capacity.
 * @module
 */

export interface ReplaySlice {
  /** Offset of the first byte of `chunks` (the requested offset, or later when it is gone). */
  readonly offset: number;
  readonly chunks: readonly Buffer[];
  /** Bytes between the requested offset and `offset` that the buffer no longer holds. */
  readonly lostBytes: number;
}

const EMPTY = Buffer.alloc(0);

export class ReplayBuffer {
  /** Chunks from `_head` on are live; the dead prefix is dropped in batches (shift is O(n)). */
  private _chunks: Buffer[] = [];
  private _head = 0;
  private _bytes = 0;
  private _endOffset = 0;

  /** @param capacity the most bytes kept; 0 keeps nothing */
  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError('capacity must be a whole number of bytes >= 0');
    }
  }

  /** Offset of the oldest byte still held. */
  get startOffset(): number {
    return this._endOffset - this._bytes;
  }

  /** Offset just after the newest byte: the total output so far. */
  get endOffset(): number {
    return this._endOffset;
  }

  /** Bytes held now. */
  get size(): number {
    return this._bytes;
  }

  append(chunk: Buffer): void {
    this._endOffset += chunk.length;
    if (this.capacity === 0 || chunk.length === 0) {
      return;
    }
    this._chunks.push(chunk);
    this._bytes += chunk.length;
    this._trim();
  }

  /**
   * The bytes from `offset` to the end. Throws RangeError for an offset past the end: the
   * client claims output that was never produced.
   */
  sliceFrom(offset: number): ReplaySlice {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this._endOffset) {
      throw new RangeError(`offset ${offset} is outside 0..${this._endOffset}`);
    }
    const start = this.startOffset;
    const from = Math.max(offset, start);
    const chunks: Buffer[] = [];
    let position = start;
    for (let i = this._head; i < this._chunks.length; i++) {
      const chunk = this._chunks[i] as Buffer;
      const end = position + chunk.length;
      if (end > from) {
        chunks.push(position >= from ? chunk : chunk.subarray(from - position));
      }
      position = end;
    }
    return { offset: from, chunks, lostBytes: from - offset };
  }

  private _trim(): void {
    let excess = this._bytes - this.capacity;
    while (excess > 0) {
      const head = this._chunks[this._head] as Buffer;
      if (head.length <= excess) {
        this._chunks[this._head] = EMPTY; // release the bytes now, not at compaction
        this._head += 1;
        this._bytes -= head.length;
        excess -= head.length;
      } else {
        this._chunks[this._head] = head.subarray(excess);
        this._bytes -= excess;
        excess = 0;
      }
    }
    if (this._head > 64 && this._head * 2 > this._chunks.length) {
      this._chunks = this._chunks.slice(this._head);
      this._head = 0;
    }
  }
}
