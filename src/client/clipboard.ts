/**
 * Copy and paste between the terminal and the system clipboard: copy on select, Ctrl+Shift+C
 * and V, the context menu, the browser's own paste. Every paste loses its control characters
 * (`sanitisePaste`), then goes through `term.paste`, so bracketed paste mode (which shells and
 * editors turn on) wraps the text in ESC[200~ … ESC[201~ and the text cannot end it early.
 * @module
 */
import type { IDisposable, Terminal } from '@xterm/xterm';
import type { Notice } from './notice.js';
import { sanitisePaste } from './paste-sanitise.js';

export class TerminalClipboard {
  private _pendingCopy = false;
  private _pending: Promise<void> | undefined;
  /** Called just before pasted text goes to the terminal (the user is typing, in effect). */
  beforePaste: (() => void) | undefined;

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
        this.pasteText(text);
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
   * Pastes `text` as if typed, without the controls a paste must not carry; says so when some
   * were removed, since what runs then differs from what was copied.
   */
  pasteText(text: string): void {
    const clean = sanitisePaste(text);
    const removed = text.length - clean.length; // each control is one UTF-16 unit
    if (removed > 0) {
      this._notice.show(
        `Removed ${removed} control character${removed === 1 ? '' : 's'} from the paste`,
      );
    }
    if (clean !== '') {
      this.beforePaste?.();
      this._term.paste(clean);
    }
  }

  /**
   * Takes the browser's own paste (Shift+Insert, its menu, a long press on a phone, Ctrl+Shift+V
   * without the clipboard API) away from xterm.js, which would paste it unfiltered, and pastes
   * it through `pasteText`. `element` holds the terminal: its capture phase runs before
   * xterm.js's listeners on its textarea and element.
   */
  takeNativePaste(element: HTMLElement): IDisposable {
    const onPaste = (event: ClipboardEvent): void => {
      event.preventDefault(); // the browser inserts nothing into xterm's textarea
      event.stopPropagation(); // and xterm.js's own paste listeners never see it
      this.pasteText(event.clipboardData?.getData('text/plain') ?? '');
    };
    element.addEventListener('paste', onPaste, { capture: true });
    return { dispose: () => element.removeEventListener('paste', onPaste, { capture: true }) };
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

/** Copies `text` (a share link) to the clipboard; false when the browser refused. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
