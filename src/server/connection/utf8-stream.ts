/**
 * Streaming UTF-8 for legacy text frames: a character split across two pty reads is held back
 * until it is whole, so it never turns into U+FFFD. Valid output stays as bytes (no decode and
 * re-encode on the hot path); only invalid input is decoded, with replacement characters.
 * @module
 */
import { isUtf8 } from 'node:buffer';

/** Length of the sequence a lead byte starts, 0 for a continuation or invalid byte. */
function sequenceLength(byte: number): number {
  if (byte < 0x80) return 1;
  if (byte >= 0xc2 && byte <= 0xdf) return 2;
  if (byte >= 0xe0 && byte <= 0xef) return 3;
  if (byte >= 0xf0 && byte <= 0xf4) return 4;
  return 0;
}

/** Where a trailing incomplete character starts, or `chunk.length` when there is none. */
export function incompleteTailStart(chunk: Uint8Array): number {
  const end = chunk.length;
  for (let i = end - 1; i >= 0 && i >= end - 3; i--) {
    const byte = chunk[i] as number;
    if ((byte & 0xc0) !== 0x80) {
      const needed = sequenceLength(byte);
      return needed > end - i ? i : end;
    }
  }
  return end;
}

const replacingDecoder = new TextDecoder('utf-8', { fatal: false });

export class Utf8Stream {
  private _carry: Buffer | undefined;

  /**
   * Takes the next chunk of output and returns what can be sent as a text frame: the bytes
   * themselves when they are valid UTF-8, else a string with U+FFFD for each bad sequence.
   * Returns an empty buffer when everything is held back.
   */
  push(chunk: Buffer): Buffer | string {
    const data = this._carry === undefined ? chunk : Buffer.concat([this._carry, chunk]);
    const cut = incompleteTailStart(data);
    this._carry = cut < data.length ? Buffer.from(data.subarray(cut)) : undefined;
    const complete = cut < data.length ? data.subarray(0, cut) : data;
    return isUtf8(complete) ? complete : replacingDecoder.decode(complete);
  }

  /** At the end of output: what is still held, as replacement text (empty when nothing). */
  flush(): string {
    const carry = this._carry;
    this._carry = undefined;
    return carry === undefined ? '' : replacingDecoder.decode(carry);
  }
}
