/**
 * One shell at a time for the page: connect (with or without a credential, or through a share
 * link), feed the terminal, show each state, start a new shell when the user asks, and when the
 * network drops, reconnect by itself and resume the same shell, so the screen and scrollback
 * carry on. The shell may have other screens: the page joins one (attach), follows the size the
 * screen that typed last gives it, and as a reader sends nothing at all.
 * @module
 */
import { ERRORS } from '../protocol/errors.js';
import type {
  ExitStatus,
  ScreenSnapshot,
  ServerHello,
  SessionEvent,
  ViewerInfo,
  ViewerRole,
} from '../protocol/v1.js';
import { ShellConnection } from './connection.js';
import { isFinalClose, isResumableClose, ReconnectSchedule } from './reconnect.js';
import type { StatusAction, StatusView } from './status.js';
import type { TabMemory } from './tab-memory.js';
import type { ShellTerminal } from './terminal.js';
import type { TokenForm } from './token-form.js';

/** What the page shows of its place in the shell: its role, the other screens, its size. */
export interface SessionView {
  readonly sessionId: string | undefined;
  /** Undefined until the server's hello. */
  readonly role: ViewerRole | undefined;
  /** The page came through a share link: it has no credential of the server's. */
  readonly viaShare: boolean;
  /** This page's viewer id (from the viewers event). */
  readonly self: string | undefined;
  readonly viewers: readonly ViewerInfo[];
  /** The size the terminal is held at while another screen drives the shell's (or a reader). */
  readonly held: { readonly cols: number; readonly rows: number } | undefined;
}

export interface PageSessionOptions {
  /** The WebSocket URL (see `socketUrl`). */
  readonly url: string;
  readonly shell: ShellTerminal;
  readonly status: StatusView;
  readonly tokenForm: TokenForm;
  /** Where the tab keeps its credential and session id across a reload. */
  readonly memory: TabMemory;
  /** Says something short to the user (a notice: bytes lost, a new shell). */
  readonly announce: (message: string) => void;
  /** Called when a shell starts, e.g. to reset the window title. */
  readonly started?: () => void;
  /** Called each time the server says hello (a new or a resumed shell). */
  readonly opened?: () => void;
  /** Called when the role, the screens or the held size change. */
  readonly changed?: (view: SessionView) => void;
  /** Reconnection delays. @default new ReconnectSchedule() */
  readonly schedule?: ReconnectSchedule;
}

/** How the page gets in: with the server's credential (or none), or a share link's secret. */
export interface PageAccess {
  readonly credential?: string | undefined;
  readonly share?: string | undefined;
  /** A live shell to join as one more screen (the fragment's `session=`). */
  readonly attach?: string | undefined;
}

export function describeExit(exit: ExitStatus): string {
  if (exit.signal !== null) {
    return `Shell killed by signal ${exit.signal}`;
  }
  return exit.code === null ? 'Shell exited' : `Shell exited with code ${exit.code}`;
}

/**
 * Keys typed while the socket is down, kept for the shell the page is reconnecting to: a tab
 * coming back from the browser's freeze or back-forward cache has lost its socket, and the user
 * types before the page has its shell again. A paste beyond this is not kept.
 */
export const MAX_PENDING_INPUT = 64 * 1024; // characters
/**
 * A connection that drops this soon after the tab came back is retried at once: the browser
 * closed it while the tab was frozen or cached, and the server is most likely there.
 */
const RETURN_GRACE_MS = 2000;
const NOTHING = new Uint8Array(0);
/** RIS: a full reset through the parser, so it happens in order with the writes before it. */
const RESET = new TextEncoder().encode('\x1bc');
/** Sizes this page sent that the server may still announce back (see `_sizeOnEvent`). */
const SENT_SIZES_KEPT = 16;

/**
 * How the page is joining a shell. `quiet` after a reload: nothing was on screen, so nothing is
 * said when the shell turns out gone (a new one starts).
 *   new: a shell of its own; resume: the same shell back from `offset`, after a drop;
 *   attach: one more screen on a live shell (its replay first); share: the link's shell.
 */
type Joining =
  | { readonly kind: 'new'; readonly quiet: false }
  | {
      readonly kind: 'resume';
      readonly sessionId: string;
      readonly offset: number;
      readonly quiet: false;
    }
  | { readonly kind: 'attach'; readonly sessionId: string; readonly quiet: boolean }
  | { readonly kind: 'share'; readonly quiet: boolean };

const sizeKey = (cols: number, rows: number): string => `${cols}x${rows}`;

export class PageSession {
  private _connection: ShellConnection | undefined;
  private _credential: string | undefined;
  /** The share link's secret, for a page that came through one. */
  private _share: string | undefined;
  /** The shell this page shows, once a server hello named it. */
  private _session: { id: string; resumeWindowMs: number } | undefined;
  private _joining: Joining | undefined;
  private _role: ViewerRole | undefined;
  private _self: string | undefined;
  private _viewers: readonly ViewerInfo[] = [];
  /** Held at the size of another screen that types (not just joined, nor alone). */
  private _followingOther = false;
  /** The size the server holds for this page (its hello's, then its last RESIZE). */
  private _lastSent = '';
  /** Sizes sent whose SESSION size event may still come back: those are this page's own. */
  private _sentSizes: string[] = [];
  /** Offset of the next output byte the page needs: kept across failed attempts. */
  private _offset = 0;
  /**
   * After a reload the replay repaints output the terminal never saw, queries included (vim
   * asking for the cursor position, say): they were answered long ago, and answering again
   * would type garbage into the shell. Terminal replies are dropped until the replay is done;
   * the user's typing is not (it once was, and keys typed right after a reload were lost).
   */
  private _repliesMutedUntil = 0;
  /** When the connection was lost; reconnecting stops once the resume window has passed. */
  private _lostAt: number | undefined;
  private _retry: ReturnType<typeof setTimeout> | undefined;
  private _countdown: ReturnType<typeof setInterval> | undefined;
  private readonly _schedule: ReconnectSchedule;
  /** Typed while there was no open socket; sent once the shell is back. */
  private _pendingInput = '';
  /** When the tab last came back (shown, unfrozen, restored, online). */
  private _returnedAt: number | undefined;
  /** Snapshots being written: the terminal answers no query meanwhile. */
  private _restoring = 0;
  /** When the page last told a reader that its typing goes nowhere. */
  private _readOnlyToldAt = 0;

  constructor(private readonly _options: PageSessionOptions) {
    this._schedule = _options.schedule ?? new ReconnectSchedule();
  }

  /**
   * Connects: through the share link when given one; else joins the shell the fragment names,
   * or the tab's own shell when it remembers one (a reload), or starts a new one. Without a
   * credential the server is asked as is: a server with `--auth none` answers with a shell, one
   * that wants a token refuses and the form asks for it.
   */
  start(access: PageAccess): void {
    const { memory } = this._options;
    if (access.share !== undefined) {
      this._share = access.share;
      this._credential = undefined;
      // A share page that is reloaded joins the link's shell again (its replay): no resume.
      this._connect({ kind: 'share', quiet: memory.share === access.share });
      return;
    }
    this._share = undefined;
    if (access.attach !== undefined) {
      this._connect({ kind: 'attach', sessionId: access.attach, quiet: false }, access.credential);
      return;
    }
    const sessionId = memory.sessionId;
    // A reload joins the tab's shell again, like one more screen: resuming would take the shell
    // from the other screens of the same credential (the server hands a resumed shell over).
    this._connect(
      sessionId === undefined
        ? { kind: 'new', quiet: false }
        : { kind: 'attach', sessionId, quiet: true },
      access.credential,
    );
  }

  /** A fresh shell with the same credential, on a clean terminal. */
  newShell(): void {
    if (this._share !== undefined) {
      return; // a share link opens its shell only
    }
    this._pendingInput = ''; // typed for the shell that was on screen
    this._options.shell.term.reset();
    this._forgetSession();
    this._connect({ kind: 'new', quiet: false }, this._credential);
  }

  /**
   * Shows another live shell of the same credential instead (the sessions menu), on a clean
   * terminal. The shell left goes on for the others, or waits for the resume window when this
   * page was its only screen.
   */
  attach(sessionId: string): void {
    if (this._share !== undefined || sessionId === this._session?.id) {
      return;
    }
    const alone = this._viewers.length <= 1;
    const windowSeconds = (this._session?.resumeWindowMs ?? 0) / 1000;
    this._pendingInput = '';
    this._connection?.close(4000, 'switched to another shell');
    this._connection = undefined;
    this._options.shell.term.reset();
    this._forgetSession();
    if (alone && windowSeconds > 0) {
      this._options.announce(
        `The shell you left waits ${windowSeconds} s for a screen: attach to it again from Sessions.`,
      );
    }
    this._connect({ kind: 'attach', sessionId, quiet: false }, this._credential);
  }

  /** The page's place in its shell, as the bar and the panels show it. */
  get view(): SessionView {
    return {
      sessionId: this._session?.id,
      role: this._role,
      viaShare: this._share !== undefined,
      self: this._self,
      viewers: this._viewers,
      held: this._options.shell.held,
    };
  }

  /** The server's credential this page holds (for the session API); none on a share page. */
  get credential(): string | undefined {
    return this._credential;
  }

  /**
   * Typing: to the shell at once when the socket is open; while the page is connecting or
   * getting its shell back (the socket may be gone before the page has heard of it), kept and
   * sent when the shell is there, so that no key is lost on the way. In every other state
   * (exited, disconnected, asking for a token) there is no shell to type into.
   *
   * `typed`: the user typed or pasted it (not the terminal reporting focus, say, nor a script's
   * `term.input`). A reader sends nothing. A writer whose terminal follows another screen's size
   * takes the size when the user types: who types drives the size.
   */
  sendInput(data: string, typed = true): void {
    if (this._role === 'reader') {
      if (typed) {
        this.tellReadOnly();
      }
      return;
    }
    const connection = this._connection;
    if (connection?.isOpen === true) {
      if (typed) {
        this._takeSize(connection);
      }
      connection.sendInput(data);
      return;
    }
    const state = this._options.status.state;
    if (state !== 'connecting' && state !== 'reconnecting' && state !== 'connected') {
      return;
    }
    if (this._pendingInput.length + data.length > MAX_PENDING_INPUT) {
      this._options.announce('Not connected: typing beyond 64 K characters is not kept.');
      return;
    }
    this._pendingInput += data;
  }

  /** Tells a reader who types that it goes nowhere (at most every few seconds). */
  tellReadOnly(): void {
    if (this._role === 'reader' && Date.now() - this._readOnlyToldAt > 3000) {
      this._readOnlyToldAt = Date.now();
      this._options.announce('Read-only: this page watches the shell; what you type is not sent.');
    }
  }

  /** Mouse reports: only to a live shell (a late click means nothing), never from a reader. */
  sendBinary(data: string): void {
    if (this._role !== 'reader') {
      this._connection?.sendBinary(data);
    }
  }

  /**
   * Whether the terminal is parsing output replayed after a reload, whose queries must not be
   * answered again (replay-replies.ts). Typing meanwhile is not affected.
   */
  get replaying(): boolean {
    const connection = this._connection;
    return (
      this._restoring > 0 ||
      (connection !== undefined && connection.processedOffset < this._repliesMutedUntil)
    );
  }

  /**
   * The server sent the screen instead of the output this page missed: the terminal starts
   * over from it (RIS, then the snapshot at its size), in order with the writes before it. A
   * page that drives the size (an owner back from a drop) then fits its window again.
   */
  private _restore(snapshot: ScreenSnapshot): void {
    const { shell } = this._options;
    const drives = this._role !== 'reader' && shell.held === undefined;
    this._restoring += 1;
    shell.write(NOTHING, () => shell.hold(snapshot.cols, snapshot.rows));
    shell.write(RESET, () => undefined);
    shell.write(snapshot.data, () => {
      this._restoring -= 1;
      if (drives) shell.release();
    });
  }

  /**
   * Whether another screen answers the shell's queries (cursor position, colours…): the one
   * that drives the size, while this one follows it. Both answering would type the second
   * answer into the program that asked (vim would take it for keys). A reader answers nothing.
   */
  get othersAnswer(): boolean {
    return (
      this._role === 'reader' || (this._options.shell.held !== undefined && this._followingOther)
    );
  }

  /**
   * The terminal's size changed. Sent to the shell only while this page drives its size: not
   * while the terminal is held at another screen's size, never from a reader.
   */
  resize(cols: number, rows: number): void {
    const connection = this._connection;
    if (connection !== undefined && this._options.shell.held === undefined) {
      this._sendSize(connection, cols, rows);
    }
  }

  /**
   * Makes this page's window size the shell's (the size badge's button): a writer that
   * follows another screen takes the size over, as when it types.
   */
  takeSize(): void {
    const connection = this._connection;
    if (this._role !== 'reader' && connection?.isOpen === true) {
      this._takeSize(connection);
    }
  }

  /** Offset of the next output byte to arrive (0 before the first hello). */
  get receivedOffset(): number {
    return this._connection?.receivedOffset ?? 0;
  }

  /** Offset of the next output byte the terminal has yet to process. */
  get processedOffset(): number {
    return this._connection?.processedOffset ?? 0;
  }

  /**
   * The browser says the network is back: try at once instead of waiting out the delay, with a
   * fresh attempt (one made while offline may hang).
   */
  networkOnline(): void {
    if (this._options.status.state === 'reconnecting') {
      this._returnedAt = Date.now();
      this._resumeNow();
      return;
    }
    this.pageReturned();
  }

  /**
   * The browser is about to freeze the tab (`freeze`) or keep it in the back-forward cache
   * (`pagehide` with `persisted`). Chromium closes the socket then, but the page hears of it
   * only once it is back, after the keys typed on its return have gone into the dead socket.
   * So the page lets go first, keeping its shell for a resume (the server holds it for the
   * resume window), and shows that it is reconnecting; pageReturned reconnects at once.
   */
  pageLeaving(): void {
    const connection = this._connection;
    const session = this._session;
    if (connection?.isOpen === true && session !== undefined && session.resumeWindowMs > 0) {
      this._returnedAt = undefined; // no attempt now: it would be frozen along with the page
      connection.abandon('the tab was frozen', 'page frozen');
    }
  }

  /**
   * The tab is back: shown again, unfrozen (`resume`), restored from the back-forward cache
   * (`pageshow` with `persisted`), or online. A lost connection is retried at once instead of
   * after the back-off delay; a socket the browser closed while the tab was away, whose close
   * the page hears only now, is retried at once too (see `_closed`); and a socket that has been
   * silent past its heartbeat is given up now rather than at the watchdog's next, possibly
   * throttled, tick.
   */
  pageReturned(): void {
    this._returnedAt = Date.now();
    if (this._retry !== undefined) {
      this._resumeNow(); // waiting out a back-off delay; an attempt under way is left to finish
      return;
    }
    this._connection?.checkHeartbeat();
  }

  private _connect(joining: Joining, credential: string | undefined = undefined): void {
    const { shell, status, tokenForm, url, memory } = this._options;
    this._stopTimers();
    this._connection?.close();
    this._credential = credential;
    memory.credential = credential;
    memory.share = this._share;
    this._joining = joining;
    tokenForm.hide();
    if (joining.kind !== 'resume') {
      status.show('connecting', 'Connecting…');
    }
    if (joining.kind === 'new' || joining.kind === 'attach') {
      this._role = undefined;
      this._self = undefined;
      this._viewers = [];
      this._followingOther = false;
      shell.release(); // a shell of its own has this window's size; a join learns the size
      this._changed();
    }
    shell.fit();
    const { cols, rows } = shell.term;
    this._lastSent = sizeKey(cols, rows);
    this._sentSizes = [];
    const connection: ShellConnection = new ShellConnection(
      {
        url,
        credential,
        cols,
        rows,
        ...(this._share !== undefined ? { share: this._share } : {}),
        ...(joining.kind === 'resume'
          ? {
              resume: {
                sessionId: joining.sessionId,
                offset: joining.offset,
                ...(this._self !== undefined ? { viewerId: this._self } : {}),
              },
            }
          : {}),
        ...(joining.kind === 'attach' ? { attach: joining.sessionId } : {}),
      },
      {
        opened: (hello) => this._opened(connection, hello),
        output: (data, processed) => shell.write(data, processed),
        event: (event) => {
          if (connection === this._connection) {
            this._sessionOnEvent(connection, event);
          }
        },
        snapshot: (snapshot) => {
          if (connection === this._connection) {
            this._restore(snapshot);
          }
        },
        exited: (exit) => {
          this._pendingInput = '';
          this._forgetSession();
          status.show('exited', describeExit(exit), this._newShellAction());
        },
        closed: (code, reason, authFailed) => {
          if (connection !== this._connection || status.state === 'exited') {
            return; // an earlier connection, or the end of a shell that already exited
          }
          if (connection.greeted) {
            this._offset = connection.receivedOffset;
          }
          this._closed(code, reason, authFailed);
        },
      },
    );
    this._connection = connection;
  }

  private _opened(connection: ShellConnection, hello: ServerHello): void {
    const { shell, status, memory, announce } = this._options;
    const joining = this._joining ?? { kind: 'new', quiet: false };
    this._joining = undefined;
    this._lostAt = undefined;
    const joined = joining.kind === 'attach' || joining.kind === 'share';
    // Queries in a replay were answered long ago, by whichever screen showed them then (after a
    // snapshot the page starts over too, whoever it is).
    this._repliesMutedUntil = joined || hello.snapshot === true ? hello.liveOffset : 0;
    this._schedule.reset();
    this._session = {
      id: hello.sessionId,
      resumeWindowMs: hello.limits.resumeWindowSeconds * 1000,
    };
    memory.sessionId = hello.sessionId;
    const role = hello.role ?? 'owner';
    this._role = role;
    shell.term.options.disableStdin = role === 'reader';
    if (hello.cols !== undefined && hello.rows !== undefined && (joined || role === 'reader')) {
      // Drawn at the size the output was made for; a screen alone with the shell takes it over
      // once the viewers event says so.
      shell.hold(hello.cols, hello.rows);
    }
    const text =
      joining.kind === 'resume' || joining.quiet
        ? 'Reconnected'
        : joined
          ? 'Connected to a running shell'
          : 'Connected';
    status.show('connected', role === 'reader' ? `${text} (read-only)` : text);
    if (joining.kind === 'resume' && hello.lostBytes > 0) {
      announce(
        `Reconnected; ${hello.lostBytes} bytes of output were lost while away (the server keeps ${hello.limits.replayBufferBytes}).`,
      );
    } else if (joining.kind === 'resume') {
      announce('Reconnected: nothing was lost.');
    } else if (joined && !joining.quiet && hello.lostBytes > 0) {
      announce(`Joined the shell; its first ${hello.lostBytes} bytes of output are not kept.`);
    }
    // The window may have changed size while we were away or connecting.
    this.resize(shell.term.cols, shell.term.rows);
    if (this._pendingInput !== '') {
      if (role !== 'reader') {
        connection.sendInput(this._pendingInput); // typed while the shell was on its way
      }
      this._pendingInput = '';
    }
    shell.term.focus();
    if (joining.kind === 'new') {
      this._options.started?.();
    }
    this._changed();
    this._options.opened?.();
  }

  private _sessionOnEvent(connection: ShellConnection, event: SessionEvent): void {
    switch (event.kind) {
      case 'size':
        this._sizeOnEvent(event.cols, event.rows);
        return;
      case 'skipped':
        this._options.announce(
          `${event.to - event.from} bytes skipped: this screen fell behind the shell's output.`,
        );
        return;
      case 'viewers':
        this._self = event.self;
        this._viewers = event.viewers;
        if (this._options.shell.held !== undefined && this._role !== 'reader') {
          if (
            event.viewers.some((viewer) => viewer.id !== event.self && viewer.role !== 'reader')
          ) {
            this._followingOther = true; // the size is another writer's
          } else {
            this._takeSize(connection); // no other screen types: nobody else to follow
          }
        }
        this._changed();
        return;
    }
  }

  /**
   * The shell's size changed. Back from this page's own RESIZE: nothing to do. From another
   * screen that typed or resized: the terminal is held at that size (drawn as the shell sees
   * it, never reflowed to this window) until this page types again.
   */
  private _sizeOnEvent(cols: number, rows: number): void {
    const { shell } = this._options;
    const key = sizeKey(cols, rows);
    const mine = this._sentSizes.indexOf(key);
    if (mine >= 0 && shell.held === undefined) {
      this._sentSizes.splice(0, mine + 1);
      return;
    }
    this._sentSizes = [];
    this._followingOther = true;
    shell.hold(cols, rows);
    this._changed();
  }

  /** This page drives the shell's size from now on: its window's, sent before its input. */
  private _takeSize(connection: ShellConnection): void {
    const { shell } = this._options;
    if (shell.held === undefined || this._role === 'reader') {
      return;
    }
    this._followingOther = false;
    shell.release(); // fits, and the terminal's resize is sent (see resize)
    const { cols, rows } = shell.term;
    this._sendSize(connection, cols, rows);
    // The server may hold this size for the page already (its hello's): then the page's input
    // makes it the shell's, and the size event that follows is this page's own.
    this._expectSize(sizeKey(cols, rows));
    this._changed();
  }

  /** Sends the size when the server holds another one for this page. */
  private _sendSize(connection: ShellConnection, cols: number, rows: number): void {
    if (this._role === 'reader' || !connection.isOpen) {
      return;
    }
    const key = sizeKey(cols, rows);
    if (key === this._lastSent) {
      return;
    }
    this._lastSent = key;
    this._expectSize(key);
    connection.resize(cols, rows);
  }

  /** A size the server will announce as the shell's because of this page. */
  private _expectSize(key: string): void {
    if (this._sentSizes.at(-1) !== key) {
      this._sentSizes.push(key);
    }
    if (this._sentSizes.length > SENT_SIZES_KEPT) {
      this._sentSizes.shift();
    }
  }

  private _closed(code: number, reason: string, authFailed: boolean): void {
    const { status, tokenForm } = this._options;
    const joining = this._joining;
    // With the token entered: what was being asked for (a shell named in the URL), else a new one.
    const retry = (token: string): void =>
      this._connect(
        joining?.kind === 'attach' && !joining.quiet ? joining : { kind: 'new', quiet: false },
        token,
      );
    // Typing kept while reconnecting goes only to the same shell, or to the first shell of a page
    // that showed nothing yet: every branch below that ends elsewhere drops it.
    if (authFailed && this._share === undefined && this._credential === undefined) {
      this._dropPendingInput();
      status.show('enter-token', 'Enter the access token to connect');
      tokenForm.ask('This server needs its access token (the #token=… part of its URL).', retry);
      return;
    }
    if (authFailed && this._share === undefined) {
      const text = /^authentication failed/i.test(reason)
        ? reason
        : `Authentication failed: ${reason}`;
      this._dropPendingInput();
      status.show('auth-failed', text);
      tokenForm.ask('The server refused this token. Check it and try again.', retry);
      return;
    }
    if (
      joining !== undefined &&
      joining.kind !== 'new' &&
      (code === ERRORS.XJS_ERR_SESSION_NOT_FOUND.closeCode ||
        code === ERRORS.XJS_ERR_SESSION_FORBIDDEN.closeCode)
    ) {
      this._shellGone(joining);
      return;
    }
    if (code === ERRORS.XJS_ERR_SESSION_TAKEN_OVER.closeCode) {
      this._dropPendingInput();
      status.show('disconnected', 'This shell was opened in another window.', {
        label: 'Take it back',
        run: () => this._resumeNow(),
      });
      return;
    }
    if (code === ERRORS.XJS_ERR_SHARE_REVOKED.closeCode) {
      this._dropPendingInput();
      this._forgetSession();
      status.show(
        'disconnected',
        this._share !== undefined
          ? 'Disconnected: the share link was revoked or has expired.'
          : 'Disconnected: the shell’s owner cut this page off.',
        this._newShellAction(),
      );
      return;
    }
    if (code === ERRORS.XJS_ERR_SESSION_ENDED.closeCode) {
      this._dropPendingInput();
      this._forgetSession();
      status.show('disconnected', 'The shell was ended by its owner.', this._newShellAction());
      return;
    }
    if (!isFinalClose(code) && this._canResume(code)) {
      this._lostAt ??= Date.now();
      const returnedAt = this._returnedAt;
      if (returnedAt !== undefined && Date.now() - returnedAt < RETURN_GRACE_MS) {
        // Lost while the tab was away, heard of on its return: once, without the back-off.
        this._returnedAt = undefined;
        status.show('reconnecting', `Reconnecting (${reason})`);
        this._resumeNow();
        return;
      }
      this._scheduleResume(reason);
      return;
    }
    this._dropPendingInput();
    status.show('disconnected', `Disconnected: ${reason} (code ${code})`, {
      label: 'Connect again',
      run: () => (this._share !== undefined ? this._rejoinShare() : this.newShell()),
    });
  }

  /** The shell the page was joining is not there (ended, or never this credential's). */
  private _shellGone(joining: Exclude<Joining, { kind: 'new' }>): void {
    const { status, announce } = this._options;
    this._forgetSession();
    if (this._share !== undefined) {
      this._dropPendingInput();
      status.show('disconnected', 'The shared shell has ended.');
      return;
    }
    if (joining.kind === 'attach' && !joining.quiet) {
      this._dropPendingInput();
      status.show(
        'disconnected',
        'That shell is not running (it ended, or it belongs to another credential).',
        this._newShellAction(),
      );
      return;
    }
    if (!joining.quiet) {
      // The shell is gone (its window passed, or the server restarted): start a new one here.
      const dropped = this._pendingInput !== '';
      this._pendingInput = ''; // typed for the shell that ended
      announce(
        dropped
          ? 'The previous shell has ended; this is a new one (what was typed meanwhile was not sent).'
          : 'The previous shell has ended; this is a new one.',
      );
      const line = '\r\n\x1b[2m[the previous shell has ended]\x1b[0m\r\n';
      this._options.shell.write(new TextEncoder().encode(line), () => undefined);
    }
    this._connect({ kind: 'new', quiet: false }, this._credential);
  }

  /** "New shell", which a share page cannot offer (it may open its link's shell only). */
  private _newShellAction(): StatusAction | undefined {
    return this._share !== undefined
      ? undefined
      : { label: 'New shell', run: () => this.newShell() };
  }

  /** A share page after a close: through its link again, from the replay, on a clean terminal. */
  private _rejoinShare(): void {
    this._options.shell.term.reset();
    this._forgetSession();
    this._connect({ kind: 'share', quiet: false });
  }

  private _canResume(code: number): boolean {
    const session = this._session;
    if (session === undefined || session.resumeWindowMs === 0) {
      return false; // the server keeps no shell for us
    }
    // A failed attempt (the server still down) closes with 1006 too: keep trying.
    return isResumableClose(code) || this._joining?.kind === 'resume';
  }

  private _scheduleResume(reason: string): void {
    const { status } = this._options;
    const session = this._session as { id: string; resumeWindowMs: number };
    const away = Date.now() - (this._lostAt as number);
    if (away > session.resumeWindowMs) {
      this._dropPendingInput();
      this._forgetSession();
      status.show(
        'disconnected',
        `Disconnected: ${reason}. The shell ended after ${Math.round(session.resumeWindowMs / 1000)} s away.`,
        this._newShellAction(),
      );
      return;
    }
    const delay = this._schedule.next();
    const due = Date.now() + delay;
    const show = (): void =>
      status.showReconnecting(reason, (due - Date.now()) / 1000, {
        label: 'Reconnect now',
        run: () => this._resumeNow(),
      });
    this._stopTimers();
    show();
    this._countdown = setInterval(show, 1000);
    this._retry = setTimeout(() => this._resumeNow(), delay);
  }

  private _resumeNow(): void {
    const session = this._session;
    if (session === undefined) {
      if (this._share !== undefined) {
        this._rejoinShare();
      } else {
        this.newShell();
      }
      return;
    }
    const connection = this._connection;
    if (connection?.greeted === true) {
      this._offset = connection.receivedOffset; // "Take it back" from a live connection
    }
    this._connect(
      { kind: 'resume', sessionId: session.id, offset: this._offset, quiet: false },
      this._credential,
    );
  }

  /** Typing kept for a shell that is not coming back: dropped, and the user told. */
  private _dropPendingInput(): void {
    if (this._pendingInput !== '') {
      this._pendingInput = '';
      this._options.announce('What was typed while reconnecting was not sent: that shell is gone.');
    }
  }

  private _forgetSession(): void {
    this._session = undefined;
    this._lostAt = undefined;
    this._options.memory.sessionId = undefined;
    this._self = undefined;
    this._viewers = [];
    this._changed();
  }

  private _changed(): void {
    this._options.changed?.(this.view);
  }

  private _stopTimers(): void {
    clearTimeout(this._retry);
    clearInterval(this._countdown);
    this._retry = undefined;
    this._countdown = undefined;
  }
}
