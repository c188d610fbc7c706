/**
 * The page's own keyboard shortcuts, taken before xterm.js sees the key: Ctrl+Shift+C/V/F and
 * Ctrl+plus/minus/0. Everything else (Ctrl+C included) goes to the shell.
 * @module
 */

export type Shortcut = 'copy' | 'paste' | 'find' | 'font-larger' | 'font-smaller' | 'font-reset';

export type KeyLike = Pick<
  KeyboardEvent,
  'type' | 'key' | 'code' | 'ctrlKey' | 'shiftKey' | 'altKey' | 'metaKey'
>;

/** The shortcut a keydown means, or undefined when the key belongs to the terminal. */
export function shortcutFor(event: KeyLike): Shortcut | undefined {
  if (event.type !== 'keydown' || !event.ctrlKey || event.altKey || event.metaKey) {
    return undefined;
  }
  if (event.shiftKey) {
    // Letters by key (so AZERTY and Dvorak users press the letter they see), else by code.
    switch (event.key.toLowerCase()) {
      case 'c':
        return 'copy';
      case 'v':
        return 'paste';
      case 'f':
        return 'find';
    }
  }
  // Ctrl+plus: '+' needs Shift on many layouts, so '=' (its unshifted key) counts as well.
  if (event.key === '+' || event.key === '=' || event.code === 'NumpadAdd') {
    return 'font-larger';
  }
  if ((event.key === '-' || event.code === 'NumpadSubtract') && !event.shiftKey) {
    return 'font-smaller';
  }
  if ((event.key === '0' || event.code === 'Numpad0') && !event.shiftKey) {
    return 'font-reset';
  }
  return undefined;
}
