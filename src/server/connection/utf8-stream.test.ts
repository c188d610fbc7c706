// Streaming UTF-8 for legacy text frames: split characters arrive whole, bad bytes become U+FFFD.
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import { Utf8Stream } from './utf8-stream.js';

/**
 * Feeds `chunks` through a fresh stream and flushes it, checking what a text frame needs: every
 * Buffer handed back is valid UTF-8 on its own (a frame that is not would fail the client with
 * 1007). Returns the text the client would see.
 */
function streamText(chunks: readonly Buffer[]): string {
  const stream = new Utf8Stream();
  let text = '';
  for (const chunk of chunks) {
    const piece = stream.push(chunk);
    if (typeof piece === 'string') {
      text += piece;
    } else {
      assert.ok(Buffer.isBuffer(piece), 'push returns a Buffer or a string');
      assert.ok(isUtf8(piece), `a frame that is not UTF-8: ${piece.toString('hex')}`);
      text += piece.toString('utf8');
    }
  }
  return text + stream.flush();
}

/** What a one-shot decoder with replacement makes of the whole output. */
function replaced(bytes: Buffer): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** Every way to cut `bytes` into two chunks. */
function twoWaySplits(bytes: Buffer): Buffer[][] {
  const splits: Buffer[][] = [];
  for (let cut = 0; cut <= bytes.length; cut++) {
    splits.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  }
  return splits;
}

/** Every way to cut `bytes` into three chunks (empty chunks included, as reads never are). */
function threeWaySplits(bytes: Buffer): Buffer[][] {
  const splits: Buffer[][] = [];
  for (let first = 0; first <= bytes.length; first++) {
    for (let second = first; second <= bytes.length; second++) {
      splits.push([
        bytes.subarray(0, first),
        bytes.subarray(first, second),
        bytes.subarray(second),
      ]);
    }
  }
  return splits;
}

function describeSplit(chunks: readonly Buffer[]): string {
  return chunks.map((chunk) => chunk.toString('hex') || '(empty)').join(' | ');
}

const CHARACTERS: Array<[string, string]> = [
  ['a 2-byte character', 'é'],
  ['a 3-byte character', '€'],
  ['a 4-byte character', '\u{1f600}'],
];

describe('Utf8Stream', () => {
  for (const [name, character] of CHARACTERS) {
    const text = `a${character}${character}b`;
    const bytes = Buffer.from(text, 'utf8');

    it(`delivers ${name} whole at every split point of two chunks`, () => {
      for (const chunks of twoWaySplits(bytes)) {
        assert.equal(streamText(chunks), text, describeSplit(chunks));
      }
    });

    it(`delivers ${name} whole at every split point of three chunks`, () => {
      for (const chunks of threeWaySplits(bytes)) {
        const result = streamText(chunks);
        assert.equal(result, text, describeSplit(chunks));
        assert.ok(!result.includes('\ufffd'), describeSplit(chunks));
      }
    });
  }

  it('delivers mixed 1- to 4-byte text whole when every byte is its own chunk', () => {
    const text = 'x é € \u{1f600} \u{10ffff} \u0800 \u07ff \uffff end';
    const bytes = Buffer.from(text, 'utf8');
    const chunks = Array.from(bytes, (byte) => Buffer.of(byte));
    assert.equal(streamText(chunks), text);
  });

  describe('turns invalid bytes into U+FFFD as TextDecoder does', () => {
    const invalid: Array<[string, string]> = [
      ['a lone 0xff', '61 ff 62'],
      ['a lone continuation byte', '61 80 62'],
      ['an overlong 2-byte form', 'c0 80'],
      ['an overlong 3-byte form', 'e0 80 80'],
      ['an encoded surrogate', 'ed a0 80'],
      ['a code point above U+10FFFF', 'f4 90 80 80'],
      ['a lead byte 0xf5', 'f5 80 80 80'],
      ['a 3-byte character cut by ASCII', 'e2 82 41'],
      ['a 4-byte character cut by another lead byte', 'f0 9f 98 e2 82 ac'],
      ['five continuation bytes', '80 80 80 80 80'],
      ['a lead byte at the very end', '61 62 e2'],
    ];
    for (const [name, hex] of invalid) {
      const bytes = Buffer.from(hex.replaceAll(' ', ''), 'hex');
      it(`${name} (${hex}), in one chunk and at every split`, () => {
        const expected = replaced(bytes);
        assert.ok(expected.includes('\ufffd'), 'the sample is invalid UTF-8');
        assert.equal(streamText([bytes]), expected);
        for (const chunks of threeWaySplits(bytes)) {
          assert.equal(streamText(chunks), expected, describeSplit(chunks));
        }
      });
    }

    it('for pseudo-random output cut at pseudo-random points', () => {
      // A fixed seed keeps failures reproducible; bytes lean towards UTF-8 lead and tail bytes.
      let seed = 0x2545f491;
      const random = (limit: number): number => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % limit;
      };
      const alphabet = [0x41, 0x0a, 0x80, 0x9f, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff];
      for (let round = 0; round < 500; round++) {
        const bytes = Buffer.from(
          Array.from({ length: 1 + random(24) }, () =>
            random(3) === 0 ? random(256) : (alphabet[random(alphabet.length)] ?? 0),
          ),
        );
        const chunks: Buffer[] = [];
        let at = 0;
        while (at < bytes.length) {
          const size = 1 + random(5);
          chunks.push(bytes.subarray(at, at + size));
          at += size;
        }
        assert.equal(streamText(chunks), replaced(bytes), describeSplit(chunks));
      }
    });
  });

  it('holds back a partial character, and flush turns it into U+FFFD', () => {
    const stream = new Utf8Stream();
    const held = stream.push(Buffer.from('61e282', 'hex'));
    assert.ok(Buffer.isBuffer(held));
    assert.equal(held.toString('hex'), '61', 'only the complete part is sent');
    assert.equal(stream.flush(), '\ufffd');
    assert.equal(stream.flush(), '', 'a second flush has nothing left');
  });

  it('starts afresh after a flush', () => {
    const stream = new Utf8Stream();
    stream.push(Buffer.from('f09f', 'hex'));
    stream.flush();
    const next = stream.push(Buffer.from('ok'));
    assert.ok(Buffer.isBuffer(next));
    assert.equal(next.toString('utf8'), 'ok');
    assert.equal(stream.flush(), '');
  });

  it('hands valid chunks back as the same bytes, as a Buffer, without decoding', () => {
    const stream = new Utf8Stream();
    for (const text of ['plain ASCII\r\n', 'é€\u{1f600}', '\x1b[31mred\x1b[0m', '']) {
      const chunk = Buffer.from(text, 'utf8');
      const piece = stream.push(chunk);
      assert.ok(Buffer.isBuffer(piece), `${JSON.stringify(text)} came back as a string`);
      assert.ok(piece.equals(chunk), JSON.stringify(text));
    }
    assert.equal(stream.flush(), '');
  });

  it('hands back the completed character as bytes once its last byte arrives', () => {
    const stream = new Utf8Stream();
    const euro = Buffer.from('€', 'utf8');
    const first = stream.push(euro.subarray(0, 1));
    assert.ok(Buffer.isBuffer(first));
    assert.equal(first.length, 0, 'nothing to send while the character is incomplete');
    const second = stream.push(euro.subarray(1));
    assert.ok(Buffer.isBuffer(second));
    assert.ok(second.equals(euro));
  });
});
