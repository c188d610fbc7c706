/**
 * The touch key bar for phones and tablets: the keys an on-screen keyboard lacks (Esc, Tab,
 * Ctrl, Alt, arrows, | ~ /). Ctrl and Alt latch: tap Ctrl, then type c, and the shell gets ^C.
 * Taps never take the focus from the terminal, so the on-screen keyboard stays open.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import {
  arrowSequence,
  withModifiers,
  NO_MODIFIERS,
  type ArrowKey,
  type Modifiers,
} from './key-sequences.js';

/** What each `data-key` sends (arrows are computed: they depend on the cursor key mode). */
const KEYS: Readonly<Record<string, string>> = {
  esc: '\x1b',
  tab: '\t',
  pipe: '|',
  tilde: '~',
  slash: '/',
};

const ARROWS: ReadonlySet<string> = new Set(['up', 'down', 'left', 'right']);

export class KeyBar {
  private _mods: Modifiers = NO_MODIFIERS;

  /**
   * @param _bar the bar, holding buttons with `data-key` (esc, tab, ctrl, alt, up, down, left,
   *   right, pipe, tilde, slash).
   * @param _term the terminal: arrows follow its cursor key mode, and it keeps the focus.
   * @param _send writes input to the shell.
   */
  constructor(
    private readonly _bar: HTMLElement,
    private readonly _term: Terminal,
    private readonly _send: (data: string) => void,
  ) {
    // Pressing a button would move the focus (and close the on-screen keyboard): keep it.
    _bar.addEventListener('mousedown', (event) => event.preventDefault());
    _bar.addEventListener('click', (event) => this._barOnClick(event));
  }

  set visible(visible: boolean) {
    this._bar.hidden = !visible;
  }

  get visible(): boolean {
    return !this._bar.hidden;
  }

  /** Applies (and releases) latched Ctrl/Alt to what the user typed. */
  transform(data: string): string {
    if (!this._mods.ctrl && !this._mods.alt) {
      return data;
    }
    const result = withModifiers(data, this._mods);
    this._setModifiers(NO_MODIFIERS);
    return result;
  }

  private _barOnClick(event: MouseEvent): void {
    const button = (event.target as Element).closest<HTMLButtonElement>('button');
    if (button === null) {
      return;
    }
    const key = button.dataset.key;
    if (key === 'ctrl' || key === 'alt') {
      this._setModifiers({ ...this._mods, [key]: !this._mods[key] });
    } else if (key !== undefined && ARROWS.has(key)) {
      const sequence = arrowSequence(
        key as ArrowKey,
        this._term.modes.applicationCursorKeysMode,
        this._mods,
      );
      this._setModifiers(NO_MODIFIERS);
      this._send(sequence);
    } else if (key !== undefined && KEYS[key] !== undefined) {
      this._send(this.transform(KEYS[key]));
    }
    if (document.activeElement !== this._term.textarea) {
      this._term.focus();
    }
  }

  private _setModifiers(mods: Modifiers): void {
    this._mods = mods;
    for (const name of ['ctrl', 'alt'] as const) {
      const button = this._bar.querySelector(`[data-key="${name}"]`);
      button?.setAttribute('aria-pressed', String(mods[name]));
    }
  }
}

/**
 * Whether the main pointer is a finger, where the bar shows when the setting is `auto`. A laptop
 * with a touch screen but a mouse or touchpad as its main pointer has a real keyboard too.
 */
export function isTouchDevice(): boolean {
  return matchMedia('(pointer: coarse)').matches;
}
