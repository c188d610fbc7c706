// The bytes the touch key bar sends, as a real keyboard in xterm would send them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrowSequence, controlCharacter, NO_MODIFIERS, withModifiers } from './key-sequences.js';

describe('arrowSequence', () => {
  it('sends CSI A..D normally and SS3 A..D in application cursor mode', () => {
    assert.equal(arrowSequence('up', false, NO_MODIFIERS), '\x1b[A');
    assert.equal(arrowSequence('down', false, NO_MODIFIERS), '\x1b[B');
    assert.equal(arrowSequence('right', false, NO_MODIFIERS), '\x1b[C');
    assert.equal(arrowSequence('left', false, NO_MODIFIERS), '\x1b[D');
    assert.equal(arrowSequence('up', true, NO_MODIFIERS), '\x1bOA');
    assert.equal(arrowSequence('left', true, NO_MODIFIERS), '\x1bOD');
  });

  it('adds xterm’s modifier parameter for Alt (3), Ctrl (5) and both (7)', () => {
    assert.equal(arrowSequence('left', false, { ctrl: false, alt: true }), '\x1b[1;3D');
    assert.equal(arrowSequence('right', true, { ctrl: true, alt: false }), '\x1b[1;5C');
    assert.equal(arrowSequence('up', false, { ctrl: true, alt: true }), '\x1b[1;7A');
  });
});

describe('controlCharacter', () => {
  it('maps letters either case and @[\\]^_ to C0 controls', () => {
    assert.equal(controlCharacter('c'), '\x03');
    assert.equal(controlCharacter('C'), '\x03');
    assert.equal(controlCharacter('a'), '\x01');
    assert.equal(controlCharacter('z'), '\x1a');
    assert.equal(controlCharacter('@'), '\x00');
    assert.equal(controlCharacter('['), '\x1b');
    assert.equal(controlCharacter('\\'), '\x1c');
    assert.equal(controlCharacter('_'), '\x1f');
  });

  it('maps the digits and punctuation xterm maps, and nothing else', () => {
    assert.equal(controlCharacter(' '), '\x00');
    assert.equal(controlCharacter('?'), '\x7f');
    assert.equal(controlCharacter('/'), '\x1f');
    assert.equal(controlCharacter('3'), '\x1b');
    assert.equal(controlCharacter('1'), undefined);
    assert.equal(controlCharacter('é'), undefined);
    assert.equal(controlCharacter('ab'), undefined);
  });
});

describe('withModifiers', () => {
  it('turns one character into its control character, and prefixes ESC for Alt', () => {
    assert.equal(withModifiers('c', { ctrl: true, alt: false }), '\x03');
    assert.equal(withModifiers('x', { ctrl: false, alt: true }), '\x1bx');
    assert.equal(withModifiers('c', { ctrl: true, alt: true }), '\x1b\x03');
  });

  it('leaves longer input as typed (only Alt prefixes it)', () => {
    assert.equal(withModifiers('hello', { ctrl: true, alt: false }), 'hello');
    assert.equal(withModifiers('hi', { ctrl: false, alt: true }), '\x1bhi');
    assert.equal(withModifiers('q', NO_MODIFIERS), 'q');
  });
});
