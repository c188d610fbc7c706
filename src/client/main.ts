/**
 * The page: a full-window terminal connected to its server over the v1 protocol, with its state
 * always shown, the usual terminal conveniences, and settings. Wires the modules together;
 * exposes the xterm.js Terminal as `window.term` for automation and embedding (as ttyd does).
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { canReadClipboard, TerminalClipboard } from './clipboard.js';
import { ContextMenu } from './context-menu.js';
import { credentialFromFragment, socketUrl } from './credential.js';
import { isTouchDevice, KeyBar } from './keybar.js';
import { enableLinks, LinkTip } from './links.js';
import { Notice } from './notice.js';
import { PageSession } from './page-session.js';
import { muteRepliesWhileReplaying } from './replay-replies.js';
import { openTabMemory } from './tab-memory.js';
import { RendererSwitch } from './renderer.js';
import { SearchBox } from './search.js';
import { SettingsPanel } from './settings-panel.js';
import {
  clampFontSize,
  DEFAULT_SETTINGS,
  SettingsStore,
  type KeybarChoice,
  type Settings,
} from './settings.js';
import { shortcutFor, type Shortcut } from './shortcuts.js';
import { StatusView } from './status.js';
import { createTerminal } from './terminal.js';
import { TokenForm } from './token-form.js';
import { followVisualViewport, pinchToFontSize } from './viewport.js';

declare global {
  interface Window {
    term: Terminal;
    /** Output counters for automation and monitoring: bytes received and processed. */
    xtermJsShell: { readonly received: number; readonly processed: number };
  }
}

const DEFAULT_TITLE = 'xterm-js-shell';

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`the page lacks #${id}`);
  }
  return found as T;
}

/** localStorage, or undefined where the browser denies it (a sandboxed frame). */
function browserStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

function keybarVisible(choice: KeybarChoice): boolean {
  return choice === 'on' || (choice === 'auto' && isTouchDevice());
}

function start(): void {
  const store = new SettingsStore(browserStorage(), new URLSearchParams(location.search));
  const root = document.documentElement;
  root.dataset.theme = store.current.theme;

  const shell = createTerminal(element('terminal'), store.current);
  const { term } = shell;
  window.term = term;

  const notice = new Notice(element('notice'));
  const status = new StatusView({
    root: element('status'),
    text: element('status-text'),
    action: element<HTMLButtonElement>('status-action'),
    countdown: element('status-countdown'),
  });
  const tokenForm = new TokenForm({
    form: element<HTMLFormElement>('token-form'),
    input: element<HTMLInputElement>('token-input'),
    message: element('token-message'),
  });
  const renderer = new RendererSwitch(term, (active, reason) => {
    document.body.dataset.renderer = active;
    if (reason !== 'initial') {
      console.info(`xterm-js-shell: ${active} renderer (${reason})`);
    }
  });
  // WebGL (compiling its shaders blocks the page for a moment) and links come after the first
  // hello: the prompt is not kept waiting for them.
  let extrasLoaded = false;
  const loadExtras = (): void => {
    if (!extrasLoaded) {
      extrasLoaded = true;
      setTimeout(() => {
        void renderer.use(store.current.renderer);
        void enableLinks(term, new LinkTip(element('link-tip')));
      }, 0);
    }
  };
  const url = socketUrl(location.href);
  const memory = openTabMemory(url);
  const session = new PageSession({
    url,
    shell,
    status,
    tokenForm,
    memory,
    announce: (message) => notice.show(message, 8000), // long enough to read a byte count
    started: () => (document.title = DEFAULT_TITLE),
    opened: () => loadExtras(),
  });
  // A tab the browser freezes or caches lets go of its socket first; back (network, shown,
  // unfrozen, out of the back-forward cache), it resumes at once, and what is typed meanwhile
  // reaches the shell (docs/page.md).
  window.addEventListener('online', () => session.networkOnline());
  window.addEventListener('pagehide', (event) => event.persisted && session.pageLeaving());
  document.addEventListener('freeze', () => session.pageLeaving());
  window.addEventListener('pageshow', (event) => event.persisted && session.pageReturned());
  document.addEventListener('resume', () => session.pageReturned());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      session.pageReturned();
    }
  });
  muteRepliesWhileReplaying(term, () => session.replaying);

  // Connect first: the WebSocket handshake and the server's start of the shell overlap the rest
  // of the page's setup below.
  shell.fit();
  // The token leaves the address bar (history, screenshots, a shared screen) and stays with the
  // tab, so a reload still works and resumes the same shell.
  const fromFragment = credentialFromFragment(location.hash);
  if (fromFragment !== undefined) {
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  session.start(fromFragment ?? memory.credential);
  window.xtermJsShell = {
    get received() {
      return session.receivedOffset;
    },
    get processed() {
      return session.processedOffset;
    },
  };
  const clipboard = new TerminalClipboard(term, notice);
  clipboard.takeNativePaste(element('terminal')); // cleaned like our own pastes
  const search = new SearchBox(term, {
    form: element<HTMLFormElement>('search'),
    input: element<HTMLInputElement>('search-input'),
    count: element('search-count'),
    previous: element<HTMLButtonElement>('search-previous'),
    next: element<HTMLButtonElement>('search-next'),
    close: element<HTMLButtonElement>('search-close'),
  });
  const keybar = new KeyBar(element('keybar'), term, (data) => session.sendInput(data));
  keybar.visible = keybarVisible(store.current.keybar);
  new SettingsPanel(
    element<HTMLFormElement>('settings'),
    element<HTMLButtonElement>('settings-toggle'),
    store,
    () => term.focus(),
  );

  const changeFontSize = (size: number): void => store.update({ fontSize: clampFontSize(size) });
  const commands: Record<Shortcut | 'select-all' | 'search-toggle', () => void> = {
    copy: () => void clipboard.copy().then((copied) => copied && notice.show('Copied')),
    paste: () => void clipboard.paste(),
    find: () => search.open(),
    'search-toggle': () => search.toggle(),
    'select-all': () => term.selectAll(),
    'font-larger': () => changeFontSize(store.current.fontSize + 1),
    'font-smaller': () => changeFontSize(store.current.fontSize - 1),
    'font-reset': () => changeFontSize(DEFAULT_SETTINGS.fontSize),
  };
  const runCommand = (name: string): void => {
    if (Object.hasOwn(commands, name)) {
      commands[name as keyof typeof commands]();
    }
  };
  for (const button of document.querySelectorAll<HTMLButtonElement>('#bar [data-command]')) {
    // A click must not take the focus from the terminal: the user goes on typing after A+.
    button.addEventListener('mousedown', (event) => event.preventDefault());
    button.addEventListener('click', () => runCommand(button.dataset.command ?? ''));
  }
  new ContextMenu(
    element('context-menu'),
    element('terminal'),
    [
      { action: 'copy', enabled: () => term.hasSelection(), run: commands.copy },
      { action: 'paste', run: commands.paste },
      { action: 'select-all', run: commands['select-all'] },
      { action: 'find', run: commands.find },
    ],
    () => term.focus(),
  );

  term.attachCustomKeyEventHandler((event) => {
    const shortcut = shortcutFor(event);
    if (shortcut === undefined) {
      return true;
    }
    if (shortcut === 'paste' && !canReadClipboard()) {
      // No clipboard API (an insecure origin): the browser's own paste, see takeNativePaste.
      return false;
    }
    event.preventDefault(); // no browser zoom, no devtools on Ctrl+Shift+C
    commands[shortcut]();
    return false;
  });
  clipboard.copyOnSelect(() => store.current.copyOnSelect && !search.isOpen);

  term.onData((data) => {
    const input = keybar.transform(data);
    const paste = clipboard.pending;
    if (paste === undefined) {
      session.sendInput(input);
    } else {
      void paste.then(() => session.sendInput(input)); // keeps the order: paste, then keys
    }
  });
  term.onBinary((data) => session.sendBinary(data));
  term.onResize(({ cols, rows }) => session.resize(cols, rows));
  // document.title is text: a title set by the shell (OSC 0/2) cannot inject markup.
  term.onTitleChange((title) => (document.title = title === '' ? DEFAULT_TITLE : title));

  store.onChange((settings: Settings, changed) => {
    root.dataset.theme = settings.theme;
    if (changed.has('theme') || changed.has('fontSize') || changed.has('screenReader')) {
      shell.apply(settings);
    }
    if (changed.has('renderer')) {
      void renderer.use(settings.renderer);
    }
    if (changed.has('keybar')) {
      keybar.visible = keybarVisible(settings.keybar);
      shell.fit();
    }
  });

  new ResizeObserver(() => shell.fit()).observe(element('terminal'));
  followVisualViewport(root);
  pinchToFontSize(
    element('terminal'),
    () => store.current.fontSize,
    (size) => {
      term.options.fontSize = clampFontSize(size); // live while pinching, stored at the end
      shell.fit();
    },
    () => changeFontSize(term.options.fontSize ?? store.current.fontSize),
  );
}

start();
