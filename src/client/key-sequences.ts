/**
 * What the touch key bar sends: the bytes a real keyboard's Esc, Tab, arrows and Ctrl/Alt
 * chords produce in xterm (pure, so the tables are tested without a browser).
 * @module
 */

export interface Modifiers {
  readonly ctrl: boolean;
  readonly alt: boolean;
}

export const NO_MODIFIERS: Modifiers = { ctrl: false, alt: false };

export type ArrowKey = 'up' | 'down' | 'right' | 'left';

const ARROW_FINAL: Record<ArrowKey, string> = { up: 'A', down: 'B', right: 'C', left: 'D' };

/**
 * The sequence for an arrow key: `ESC [ A` normally, `ESC O A` when the program asked for
 * application cursor keys (DECCKM, as vim and less do), `ESC [ 1 ; m A` with modifiers (xterm's
 * modifier parameter: 1 + 2 for Alt + 4 for Ctrl).
 */
export function arrowSequence(key: ArrowKey, applicationCursor: boolean, mods: Modifiers): string {
  const final = ARROW_FINAL[key];
  const parameter = 1 + (mods.alt ? 2 : 0) + (mods.ctrl ? 4 : 0);
  if (parameter > 1) {
    return `\x1b[1;${parameter}${final}`;
  }
  return applicationCursor ? `\x1bO${final}` : `\x1b[${final}`;
}

/** Ctrl plus a character, as a terminal keyboard sends it; undefined when there is none. */
export function controlCharacter(char: string): string | undefined {
  if (char.length !== 1) {
    return undefined;
  }
  const upper = char.toUpperCase();
  const code = upper.charCodeAt(0);
  if (code >= 0x40 && code <= 0x5f) {
    return String.fromCharCode(code & 0x1f); // @ A..Z [ \ ] ^ _
  }
  switch (char) {
    case ' ':
    case '2':
      return '\x00';
    case '?':
    case '8':
      return '\x7f';
    case '3':
      return '\x1b';
    case '4':
      return '\x1c';
    case '5':
      return '\x1d';
    case '6':
      return '\x1e';
    case '7':
    case '/':
      return '\x1f';
    default:
      return undefined;
  }
}

/**
 * Applies latched modifiers to typed input: Ctrl turns a single character into its control
 * character; Alt prefixes ESC (xterm's metaSendsEscape). Longer input (a paste, a word from the
 * on-screen keyboard's suggestions) only gets the Alt prefix.
 */
export function withModifiers(data: string, mods: Modifiers): string {
  let result = data;
  if (mods.ctrl) {
    result = controlCharacter(data) ?? data;
  }
  return mods.alt ? `\x1b${result}` : result;
}
