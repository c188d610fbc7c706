/**
 * The xterm.js terminal as the page uses it: fitted to its container, with Unicode 11 widths,
 * the theme and font size from settings.
 * @module
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { clampFontSize, type Settings } from './settings.js';
import { THEMES } from './themes.js';

export interface ShellTerminal {
  readonly term: Terminal;
  /**
   * Fits the terminal to its container, or, while it is held at a size (`hold`), keeps that
   * size; returns true when the size changed.
   */
  fit(): boolean;
  /**
   * Holds the terminal at `cols` x `rows` whatever its container (another screen drives the
   * shell's size: reflowing to this window would show the shell's output wrapped wrong).
   */
  hold(cols: number, rows: number): void;
  /** Lets go of a held size: the terminal fits its container again (`fit`). */
  release(): void;
  /** The size held, if any. */
  readonly held: { readonly cols: number; readonly rows: number } | undefined;
  /**
   * Writes shell output; `processed` runs when xterm.js has parsed it (the acknowledgement of
   * the v1 protocol hangs on it).
   */
  write(data: Uint8Array, processed: () => void): void;
  /** Applies the settings that live in the terminal itself (theme, font size, screen reader). */
  apply(settings: Settings): void;
}

export function createTerminal(container: HTMLElement, settings: Settings): ShellTerminal {
  const term = new Terminal({
    allowProposedApi: true, // the unicode11 addon sets term.unicode.activeVersion
    cursorBlink: true,
    scrollback: 10000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, monospace',
    fontSize: clampFontSize(settings.fontSize),
    theme: THEMES[settings.theme],
    screenReaderMode: settings.screenReader,
  });
  const fitAddon = new FitAddon();
  term.loadAddon(fitAddon);
  term.open(container);

  // Widths of CJK and emoji depend on the Unicode version, from the first byte on: bundled, not
  // lazy (11 KiB gzip), since a lazy chunk sat on the path to the first prompt.
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = '11';

  let held: { cols: number; rows: number } | undefined;
  const fit = (): boolean => {
    const before = `${term.cols}x${term.rows}`;
    if (held === undefined) {
      fitAddon.fit();
    } else if (term.cols !== held.cols || term.rows !== held.rows) {
      term.resize(held.cols, held.rows);
    }
    return `${term.cols}x${term.rows}` !== before;
  };
  return {
    term,
    fit,
    hold(cols, rows): void {
      held = { cols, rows };
      fit();
    },
    release(): void {
      held = undefined;
      fit();
    },
    get held() {
      return held;
    },
    write(data, processed): void {
      term.write(data, processed);
    },
    apply(next): void {
      term.options.theme = THEMES[next.theme];
      term.options.fontSize = clampFontSize(next.fontSize);
      term.options.screenReaderMode = next.screenReader;
      fit();
    },
  };
}
