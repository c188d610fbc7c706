/**
 * Test data for byte-exactness checks: a seeded random generator (so a failure can be replayed),
 * mixed multi-byte UTF-8 text, and temp files a shell can `cat`.
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** mulberry32: 32 bits of state, uniform enough for test data, the same for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** Characters of 2, 3 and 4 bytes in UTF-8 (no ASCII, so every pty read boundary can split one). */
const MULTI_BYTE = ['é', 'ß', 'ж', '€', '中', '語', '😀', '𝄞', '🚀'];

/** A string of at least `bytes` UTF-8 bytes, drawn at random (seeded) from MULTI_BYTE. */
export function mixedUtf8(bytes: number, seed: number): string {
  const random = seededRandom(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const char = MULTI_BYTE[Math.floor(random() * MULTI_BYTE.length)] as string;
    parts.push(char);
    length += Buffer.byteLength(char);
  }
  return parts.join('');
}

/** `length` random bytes from a seeded generator. */
export function randomBytesSeeded(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const data = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    data[i] = Math.floor(random() * 256);
  }
  return data;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh temp directory; `file()` writes into it, `dispose()` removes it all. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'xjs-handler-'));

  file(name: string, data: string | Uint8Array): string {
    const path = join(this.path, name);
    writeFileSync(path, data);
    return path;
  }

  dispose(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Quotes `text` for a POSIX shell command line. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
