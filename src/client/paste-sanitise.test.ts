// What a paste keeps and what it loses on its way to the shell.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sanitisePaste } from './paste-sanitise.js';

describe('sanitisePaste', () => {
  it('cannot end bracketed paste early nor kill the line (finding F3)', () => {
    assert.equal(
      sanitisePaste('echo harmless-looking\x1b[201~\x15touch ~/pwned\r'),
      'echo harmless-looking[201~touch ~/pwned\r',
    );
  });

  it('keeps tab, LF, CR and CRLF (xterm.js turns line ends into CR)', () => {
    assert.equal(sanitisePaste('a\tb\nc\rd\r\ne\n'), 'a\tb\nc\rd\r\ne\n');
  });

  it('removes every other C0 control, DEL and every C1 control', () => {
    for (let code = 0; code <= 0x9f; code++) {
      const char = String.fromCodePoint(code);
      const kept = char === '\t' || char === '\n' || char === '\r' || (code >= 0x20 && code < 0x7f);
      const name = `U+${code.toString(16).padStart(4, '0')}`;
      assert.equal(sanitisePaste(`<${char}>`), kept ? `<${char}>` : '<>', name);
    }
  });

  it('removes the controls people mean: NUL, BEL, backspace, Ctrl+C/D/U/W/Z, ESC, DEL, CSI, NEL', () => {
    assert.equal(
      sanitisePaste('a\x00b\x07c\x08d\x03e\x04f\x15g\x17h\x1ai\x1bj\x7fk\u009bl\u0085m'),
      'abcdefghijklm',
    );
  });

  it('keeps text beyond ASCII: Latin-1, no-break space, CJK, emoji, combining marks, U+2028', () => {
    const text = 'café\u00a0ÿ 漢字 🙂 e\u0301 a\u2028b \u00a0\u00ad';
    assert.equal(sanitisePaste(text), text);
  });

  it('leaves a lone surrogate alone (it is no control) and handles the empty string', () => {
    assert.equal(sanitisePaste('x\ud800y'), 'x\ud800y');
    assert.equal(sanitisePaste(''), '');
    assert.equal(sanitisePaste('\x1b\x1b\u009b'), '');
  });
});
