// Which keys the page takes for itself; everything else reaches the shell.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shortcutFor, type KeyLike } from './shortcuts.js';

function key(init: Partial<KeyLike> & Pick<KeyLike, 'key'>): KeyLike {
  return {
    type: 'keydown',
    code: '',
    ctrlKey: false,
    shiftKey: false,
    altKey: false,
    metaKey: false,
    ...init,
  };
}

describe('shortcutFor', () => {
  it('takes Ctrl+Shift+C, V and F (by the letter, whatever the layout)', () => {
    assert.equal(shortcutFor(key({ key: 'C', ctrlKey: true, shiftKey: true })), 'copy');
    assert.equal(shortcutFor(key({ key: 'V', ctrlKey: true, shiftKey: true })), 'paste');
    assert.equal(shortcutFor(key({ key: 'F', ctrlKey: true, shiftKey: true })), 'find');
  });

  it('takes Ctrl+plus (or =), Ctrl+minus and Ctrl+0, on the main keys and the keypad', () => {
    assert.equal(shortcutFor(key({ key: '=', ctrlKey: true })), 'font-larger');
    assert.equal(shortcutFor(key({ key: '+', ctrlKey: true, shiftKey: true })), 'font-larger');
    assert.equal(shortcutFor(key({ key: '+', code: 'NumpadAdd', ctrlKey: true })), 'font-larger');
    assert.equal(shortcutFor(key({ key: '-', ctrlKey: true })), 'font-smaller');
    assert.equal(shortcutFor(key({ key: '0', ctrlKey: true })), 'font-reset');
  });

  it('leaves Ctrl+C, Ctrl+V, Ctrl+F and plain keys to the shell', () => {
    assert.equal(shortcutFor(key({ key: 'c', ctrlKey: true })), undefined);
    assert.equal(shortcutFor(key({ key: 'v', ctrlKey: true })), undefined);
    assert.equal(shortcutFor(key({ key: 'f', ctrlKey: true })), undefined);
    assert.equal(shortcutFor(key({ key: '=' })), undefined);
    assert.equal(shortcutFor(key({ key: 'C', shiftKey: true })), undefined);
  });

  it('leaves Alt and Meta chords and key releases alone', () => {
    assert.equal(
      shortcutFor(key({ key: 'C', ctrlKey: true, shiftKey: true, altKey: true })),
      undefined,
    );
    assert.equal(shortcutFor(key({ key: '=', ctrlKey: true, metaKey: true })), undefined);
    assert.equal(
      shortcutFor(key({ type: 'keyup', key: 'C', ctrlKey: true, shiftKey: true })),
      undefined,
    );
  });
});
