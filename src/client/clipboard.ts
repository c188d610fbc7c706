/**
 * Copy and paste between the terminal and the system clipboard: copy on select, Ctrl+Shift+C
 * and V, the context menu. Pasting goes through `term.paste`, so bracketed paste mode (which
 * shells and editors turn on) wraps the text in ESC[200~ … ESC[201~.
 * @module
 */
import type { IDisposable, Terminal } from '@xterm/xterm';
import type { Notice } from './notice.js';

export class TerminalClipboard {
  private _pendingCopy = false;
  private _pending: Promise<void> | undefined;

  constructor(
    private readonly _term: Terminal,
    private readonly _notice: Notice,
  ) {}

  /** Copies the selection; false when there was none or the browser refused. */
  async copy(): Promise<boolean> {
    const text = this._term.getSelection();
    if (text === '') {
      return false;
    }
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (error) {
      this._notice.show(`Copy was blocked by the browser (${errorName(error)})`);
      return false;
    }
  }

  /**
   * Pastes the clipboard's text into the terminal, as if typed (bracketed when asked for).
   * Reading the clipboard takes a moment; keys typed meanwhile wait for it (see `pending`).
   */
  async paste(): Promise<void> {
    const pasted = navigator.clipboard.readText().then(
      (text) => {
        this._pending = undefined; // the paste itself must not wait for itself
        if (text !== '') {
          this._term.paste(text);
        }
      },
      (error: unknown) => {
        this._pending = undefined;
        this._notice.show(
          `Paste was blocked by the browser (${errorName(error)}): use its own paste (Ctrl+V or the menu)`,
        );
      },
    );
    this._pending = pasted;
    await pasted;
  }

  /**
   * While a paste is being read: resolves once its text is in. Input typed meanwhile is sent
   * after it, so "paste, then Enter" runs what was pasted.
   */
  get pending(): Promise<void> | undefined {
    return this._pending;
  }

  /**
   * Copies every new selection while `enabled()` holds. Dragging changes the selection many
   * times a second, so copies are coalesced to one per animation frame.
   */
  copyOnSelect(enabled: () => boolean): IDisposable {
    return this._term.onSelectionChange(() => {
      if (!enabled() || !this._term.hasSelection() || this._pendingCopy) {
        return;
      }
      this._pendingCopy = true;
      requestAnimationFrame(() => {
        this._pendingCopy = false;
        void this.copy();
      });
    });
  }
}

/** Whether this browser lets the page read the clipboard (secure contexts only). */
export function canReadClipboard(): boolean {
  return typeof navigator.clipboard?.readText === 'function';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}
