// The original wire format: only a frame that is exactly ESC [ 8 ; ROWS ; COLS t is a resize.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLegacyResize, legacyErrorText, parseLegacyResize } from './legacy.js';

describe('legacy resize frames', () => {
  it('parses \\x1b[8;24;80t as 24 rows and 80 columns', () => {
    assert.deepEqual(parseLegacyResize('\x1b[8;24;80t'), { rows: 24, cols: 80 });
  });

  for (const [text, size] of [
    ['\x1b[8;1;1t', { rows: 1, cols: 1 }],
    ['\x1b[8;50;132t', { rows: 50, cols: 132 }],
    ['\x1b[8;65535;65535t', { rows: 65535, cols: 65535 }],
    ['\x1b[8;00024;00080t', { rows: 24, cols: 80 }],
  ] as const) {
    it(`parses ${JSON.stringify(text)} as ${size.rows} rows and ${size.cols} columns`, () => {
      assert.deepEqual(parseLegacyResize(text), size);
    });
  }

  it('writes the sequence the original page sends', () => {
    assert.equal(encodeLegacyResize(24, 80), '\x1b[8;24;80t');
    assert.deepEqual(parseLegacyResize(encodeLegacyResize(43, 132)), { rows: 43, cols: 132 });
  });

  // Each of these is typed input that only looks like a resize: it must reach the shell as is.
  const nearMisses: Array<[string, string]> = [
    ['a trailing newline', '\x1b[8;24;80t\n'],
    ['a trailing carriage return', '\x1b[8;24;80t\r'],
    ['text before it', 'x\x1b[8;24;80t'],
    ['text after it', '\x1b[8;24;80tls'],
    ['two resizes in one frame', '\x1b[8;24;80t\x1b[8;25;81t'],
    ['no final t', '\x1b[8;24;80'],
    ['a capital T', '\x1b[8;24;80T'],
    ['non-digit rows', '\x1b[8;2a;80t'],
    ['non-digit columns', '\x1b[8;24;8Ot'],
    ['a negative number', '\x1b[8;-24;80t'],
    ['a space in a number', '\x1b[8; 24;80t'],
    ['non-ASCII digits', '\x1b[8;\u0662\u0664;80t'],
    ['6-digit rows', '\x1b[8;123456;80t'],
    ['6-digit columns', '\x1b[8;24;123456t'],
    ['an empty number', '\x1b[8;;80t'],
    ['only one number', '\x1b[8;24t'],
    ['three numbers', '\x1b[8;24;80;1t'],
    ['another window operation (9)', '\x1b[9;24;80t'],
    ['no ESC', '[8;24;80t'],
    ['an empty frame', ''],
    ['ordinary input', 'ls -l\r'],
  ];
  for (const [name, text] of nearMisses) {
    it(`treats a frame with ${name} as input, not a resize`, () => {
      assert.equal(parseLegacyResize(text), null);
    });
  }
});

describe('legacy error frames', () => {
  it('start with "Error: " followed by the reason, as the original page expects', () => {
    assert.equal(legacyErrorText('Authentication failed'), 'Error: Authentication failed');
  });
});
