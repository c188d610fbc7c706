/**
 * The page: a full-window terminal connected to its server over the v1 protocol, with a
 * visible connection state. Exposes the xterm.js Terminal as `window.term` for automation.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { ShellConnection } from './connection.js';
import { credentialFromFragment, socketUrl } from './credential.js';
import { StatusBar } from './status.js';
import { createTerminal } from './terminal.js';

declare global {
  interface Window {
    term: Terminal;
  }
}

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`the page lacks #${id}`);
  }
  return found;
}

function start(): void {
  const status = new StatusBar(element('status'), element('status-text'));
  const terminal = createTerminal(element('terminal'));
  const { term } = terminal;
  const fit = (): boolean => terminal.fit();
  window.term = term;
  fit();

  status.show('connecting', 'Connecting…');
  const connection = new ShellConnection(
    {
      url: socketUrl(location.href),
      credential: credentialFromFragment(location.hash),
      cols: term.cols,
      rows: term.rows,
    },
    {
      opened() {
        status.show('connected', 'Connected');
        // The window may have changed while we connected.
        connection.resize(term.cols, term.rows);
        term.focus();
      },
      output(data, processed) {
        term.write(data, processed);
      },
      exited(exit) {
        const how = exit.signal === null ? `exit code ${exit.code ?? 0}` : `signal ${exit.signal}`;
        status.show('exited', `Shell exited (${how}). Reload the page for a new shell.`);
      },
      closed(code, reason, authFailed) {
        if (status.state === 'exited') {
          return;
        }
        if (authFailed) {
          status.show('auth-failed', `Authentication failed: ${reason}`);
        } else {
          status.show('disconnected', `Disconnected: ${reason} (code ${code})`);
        }
      },
    },
  );

  term.onData((data) => connection.sendInput(data));
  term.onBinary((data) => connection.sendBinary(data));
  term.onResize(({ cols, rows }) => connection.resize(cols, rows));
  new ResizeObserver(() => fit()).observe(element('terminal'));
}

start();
