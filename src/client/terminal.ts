/**
 * The xterm.js terminal with its addons: fit to the window, Unicode 11 widths, clickable links,
 * and WebGL rendering that falls back to the DOM renderer when WebGL is missing or lost.
 * @module
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { WebglAddon } from '@xterm/addon-webgl';

export interface ShellTerminal {
  readonly term: Terminal;
  /** Fits the terminal to its container; returns true when the size changed. */
  fit(): boolean;
}

function loadWebgl(term: Terminal): void {
  try {
    const webgl = new WebglAddon();
    webgl.onContextLoss(() => webgl.dispose()); // xterm.js falls back to the DOM renderer
    term.loadAddon(webgl);
  } catch {
    // No WebGL2 here: the DOM renderer stays.
  }
}

export function createTerminal(container: HTMLElement): ShellTerminal {
  const term = new Terminal({
    allowProposedApi: true, // the unicode11 addon needs it
    cursorBlink: true,
    scrollback: 10000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    theme: { background: '#1e1e1e' },
  });
  const fitAddon = new FitAddon();
  term.loadAddon(fitAddon);
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = '11';
  term.loadAddon(
    new WebLinksAddon((event, uri) => {
      event.preventDefault();
      window.open(uri, '_blank', 'noopener,noreferrer');
    }),
  );
  term.open(container);
  loadWebgl(term);
  return {
    term,
    fit(): boolean {
      const before = `${term.cols}x${term.rows}`;
      fitAddon.fit();
      return `${term.cols}x${term.rows}` !== before;
    },
  };
}
