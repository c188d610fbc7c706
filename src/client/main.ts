/**
 * The page: a full-window terminal connected to its server over the v1 protocol, with its state
 * always shown, the usual terminal conveniences, and settings. Wires the modules together;
 * exposes the xterm.js Terminal as `window.term` for automation and embedding (as ttyd does).
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { canReadClipboard, copyText, TerminalClipboard } from './clipboard.js';
import { ContextMenu } from './context-menu.js';
import { pageLink, parseFragment, socketUrl } from './credential.js';
import { describeViewers } from './describe.js';
import { Popup } from './dom.js';
import { isTouchDevice, KeyBar } from './keybar.js';
import { enableLinks, LinkTip } from './links.js';
import { Notice } from './notice.js';
import { PageSession, type SessionView } from './page-session.js';
import { muteRepliesWhileReplaying } from './replay-replies.js';
import { openTabMemory } from './tab-memory.js';
import { RendererSwitch } from './renderer.js';
import { SearchBox } from './search.js';
import { SessionApi } from './session-api.js';
import { SessionsPanel } from './sessions-panel.js';
import { SharePanel } from './share-panel.js';
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
    /**
     * For automation and monitoring: output bytes received and processed; the shell on screen,
     * this page's role on it and its viewer id.
     */
    xtermJsShell: {
      readonly received: number;
      readonly processed: number;
      readonly sessionId: string | undefined;
      readonly role: string | undefined;
      readonly viewerId: string | undefined;
    };
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
  // The bar and the panels follow the page's place in its shell, once they are built.
  let showView: (view: SessionView) => void = () => undefined;
  const session = new PageSession({
    url,
    shell,
    status,
    tokenForm,
    memory,
    announce: (message) => notice.show(message, 8000), // long enough to read a byte count
    started: () => (document.title = DEFAULT_TITLE),
    opened: () => loadExtras(),
    changed: (view) => showView(view),
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
  // Replayed queries were answered long ago; a screen that follows another leaves the answers
  // to the one that drives.
  muteRepliesWhileReplaying(term, () => session.replaying || session.othersAnswer);

  // Connect first: the WebSocket handshake and the server's start of the shell overlap the rest
  // of the page's setup below.
  shell.fit();
  // The token, a share link's secret and the shell named leave the address bar (history,
  // screenshots, a shared screen) and stay with the tab, so a reload still works and comes back
  // to the same shell.
  const fragment = parseFragment(location.hash);
  if (
    fragment.token !== undefined ||
    fragment.session !== undefined ||
    fragment.share !== undefined
  ) {
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  const share =
    fragment.share ??
    (fragment.token === undefined && fragment.session === undefined ? memory.share : undefined);
  session.start(
    share !== undefined
      ? { share }
      : { credential: fragment.token ?? memory.credential, attach: fragment.session },
  );
  window.xtermJsShell = {
    get received() {
      return session.receivedOffset;
    },
    get processed() {
      return session.processedOffset;
    },
    get sessionId() {
      return session.view.sessionId;
    },
    get role() {
      return session.view.role;
    },
    get viewerId() {
      return session.view.self;
    },
  };
  // What the user types, as opposed to the terminal's own reports (focus) or a script's
  // `term.input`: only typing makes a screen that follows another's size take it over (see
  // PageSession.sendInput).
  let typedAt = Number.NEGATIVE_INFINITY;
  const typing = (): void => {
    typedAt = performance.now();
  };
  const typedRecently = (): boolean => performance.now() - typedAt < 1000;
  for (const type of ['keydown', 'compositionend', 'input', 'paste']) {
    element('terminal').addEventListener(type, typing, { capture: true });
  }
  element('terminal').addEventListener(
    'keydown',
    (event) => {
      // A reader's terminal takes no input at all (disableStdin): say why nothing happens.
      if (!event.ctrlKey && !event.metaKey && (event.key.length === 1 || event.key === 'Enter')) {
        session.tellReadOnly();
      }
    },
    { capture: true },
  );
  const clipboard = new TerminalClipboard(term, notice);
  clipboard.beforePaste = typing;
  clipboard.takeNativePaste(element('terminal')); // cleaned like our own pastes
  const search = new SearchBox(term, {
    form: element<HTMLFormElement>('search'),
    input: element<HTMLInputElement>('search-input'),
    count: element('search-count'),
    previous: element<HTMLButtonElement>('search-previous'),
    next: element<HTMLButtonElement>('search-next'),
    close: element<HTMLButtonElement>('search-close'),
  });
  const keybar = new KeyBar(element('keybar'), term, (data) => {
    typing();
    session.sendInput(data);
  });
  const showKeybar = (): void => {
    // A reader has nothing to type with it.
    keybar.visible = keybarVisible(store.current.keybar) && session.view.role !== 'reader';
  };
  showKeybar();
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
    const typed = typedRecently();
    if (paste === undefined) {
      session.sendInput(input, typed);
    } else {
      void paste.then(() => session.sendInput(input, typed)); // keeps the order: paste, then keys
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
      showKeybar();
      shell.fit();
    }
  });

  new ResizeObserver(() => shell.fit()).observe(element('terminal'));

  // Sessions, sharing, and the page's place in a shell with several screens.
  const api = new SessionApi(location.href, () => session.credential);
  const refocus = (): void => term.focus();
  const sessionsPopup = new Popup(
    element('sessions'),
    element<HTMLButtonElement>('sessions-toggle'),
    refocus,
  );
  new SessionsPanel(
    {
      popup: sessionsPopup,
      list: element('sessions-list'),
      message: element('sessions-message'),
      refresh: element<HTMLButtonElement>('sessions-refresh'),
    },
    api,
    {
      current: () => session.view.sessionId,
      attach: (sessionId) => session.attach(sessionId),
      openInNewTab: (sessionId) => {
        // The credential goes in the fragment, as in the printed URL: never sent anywhere, and
        // the new tab takes it out of its address bar at once.
        const params = new URLSearchParams();
        if (session.credential !== undefined) {
          params.set('token', session.credential);
        }
        params.set('session', sessionId);
        window.open(pageLink(location.href, `#${params.toString()}`), '_blank', 'noopener');
      },
    },
  );
  const sharePopup = new Popup(
    element('share'),
    element<HTMLButtonElement>('share-toggle'),
    refocus,
  );
  const sharePanel = new SharePanel(
    {
      popup: sharePopup,
      form: element<HTMLFormElement>('share-form'),
      result: element('share-result'),
      link: element<HTMLInputElement>('share-link'),
      copy: element<HTMLButtonElement>('share-copy'),
      hint: element('share-hint'),
      message: element('share-message'),
      viewers: element('share-viewers'),
      links: element('share-links'),
    },
    api,
    () => location.href,
    copyText,
  );
  // On a phone the bar has no room for Share: the Sessions panel offers it.
  element('sessions-share').addEventListener('click', () => {
    sessionsPopup.close();
    sharePopup.open();
  });
  const roleBadge = element('role-badge');
  const sizeBadge = element<HTMLButtonElement>('size-badge');
  const viewersBadge = element('viewers-badge');
  sizeBadge.addEventListener('mousedown', (event) => event.preventDefault()); // keep the focus
  sizeBadge.addEventListener('click', () => session.takeSize());
  showView = (view) => {
    const reader = view.role === 'reader';
    document.body.dataset.role = view.role ?? '';
    roleBadge.hidden = !(reader || (view.viaShare && view.role === 'writer'));
    roleBadge.textContent = reader ? 'read-only' : 'shared link';
    roleBadge.title = reader
      ? 'This page watches the shell: what you type is not sent'
      : 'This page came through a share link that lets it type';
    const held = view.held;
    sizeBadge.hidden = held === undefined;
    sizeBadge.textContent = held === undefined ? '' : `${held.cols}×${held.rows}`;
    sizeBadge.disabled = reader;
    sizeBadge.title = reader
      ? 'The shell’s size, which the screen that types sets'
      : 'Another screen set the shell’s size; click (or type) to fit it to this window';
    const count = view.viewers.length;
    viewersBadge.hidden = count <= 1;
    viewersBadge.textContent = `${count} screens`;
    viewersBadge.title = `Watching this shell: ${describeViewers(view.viewers)}`;
    const shareHidden = view.viaShare || view.role !== 'owner' || view.sessionId === undefined;
    element('share-toggle').hidden = shareHidden;
    element('sessions-share').hidden = shareHidden;
    if (shareHidden) {
      sharePopup.close();
    }
    element('sessions-toggle').hidden = view.viaShare;
    if (view.viaShare) {
      sessionsPopup.close();
    }
    showKeybar();
    sharePanel.update(view);
  };
  showView(session.view);
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
