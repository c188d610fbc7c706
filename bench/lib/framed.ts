// Hashes (sha256) and times the payload a shell prints between two markers, as it streams by.
// Integrity and timing of a large payload without holding it in memory.
import { createHash, type Hash } from 'node:crypto';

export class FramedPayload {
  beganAt: number | undefined;
  endedAt: number | undefined;
  bytes = 0;
  readonly done: Promise<void>;
  private readonly _begin: Buffer | undefined;
  private readonly _end: Buffer;
  private readonly _hash: Hash = createHash('sha256');
  private _held = Buffer.alloc(0);
  private _digest: string | undefined;
  private _resolve!: () => void;

  /** `begin` undefined: the payload starts with the first byte. */
  constructor(begin: string | undefined, end: string) {
    this._begin = begin === undefined ? undefined : Buffer.from(begin, 'latin1');
    this._end = Buffer.from(end, 'latin1');
    this.done = new Promise((resolve) => (this._resolve = resolve));
  }

  get sha256(): string {
    this._digest ??= this._hash.digest('hex');
    return this._digest;
  }

  push(chunk: Buffer, at: number): void {
    if (this.endedAt !== undefined) {
      return;
    }
    let data = this._held.length > 0 ? Buffer.concat([this._held, chunk]) : chunk;
    if (this.beganAt === undefined) {
      if (this._begin === undefined) {
        this.beganAt = at;
      } else {
        const start = data.indexOf(this._begin);
        if (start < 0) {
          this._held = Buffer.from(data.subarray(-(this._begin.length - 1)));
          return;
        }
        this.beganAt = at;
        data = data.subarray(start + this._begin.length);
      }
    }
    const end = data.indexOf(this._end);
    if (end >= 0) {
      this._update(data.subarray(0, end));
      this.endedAt = at;
      this._held = Buffer.alloc(0);
      this._resolve();
      return;
    }
    const keep = Math.min(this._end.length - 1, data.length);
    this._update(data.subarray(0, data.length - keep));
    this._held = Buffer.from(data.subarray(data.length - keep));
  }

  private _update(bytes: Buffer): void {
    this.bytes += bytes.length;
    this._hash.update(bytes);
  }
}
