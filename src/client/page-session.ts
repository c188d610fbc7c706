/**
 * One shell at a time for the page: connect (with or without a credential), feed the terminal,
 * show each state, start a new shell when the user asks, and when the network drops, reconnect
 * by itself and resume the same shell, so the screen and scrollback carry on.
 * @module
 */
import { ERRORS } from '../protocol/errors.js';
import type { ExitStatus, ResumeRequest, ServerHello } from '../protocol/v1.js';
import { ShellConnection } from './connection.js';
import { isResumableClose, ReconnectSchedule } from './reconnect.js';
import type { StatusView } from './status.js';
import type { TabMemory } from './tab-memory.js';
import type { ShellTerminal } from './terminal.js';
import type { TokenForm } from './token-form.js';

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
  /** Reconnection delays. @default new ReconnectSchedule() */
  readonly schedule?: ReconnectSchedule;
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

/** A resume the page is attempting; `quiet` after a reload, when nothing was on screen. */
interface Resuming extends ResumeRequest {
  readonly quiet: boolean;
}

export class PageSession {
  private _connection: ShellConnection | undefined;
  private _credential: string | undefined;
  /** The shell this page shows, once a server hello named it. */
  private _session: { id: string; resumeWindowMs: number } | undefined;
  private _resuming: Resuming | undefined;
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

  constructor(private readonly _options: PageSessionOptions) {
    this._schedule = _options.schedule ?? new ReconnectSchedule();
  }

  /**
   * Connects: resumes the tab's shell when it remembers one (a reload), else starts a new one.
   * Without a credential the server is asked as is: a server with `--auth none` answers with a
   * shell, one that wants a token refuses and the form asks for it.
   */
  start(credential: string | undefined): void {
    const sessionId = this._options.memory.sessionId;
    this._connect(
      credential,
      sessionId === undefined ? undefined : { sessionId, offset: 0, quiet: true },
    );
  }

  /** A fresh shell with the same credential, on a clean terminal. */
  newShell(): void {
    this._pendingInput = ''; // typed for the shell that was on screen
    this._options.shell.term.reset();
    this._forgetSession();
    this._connect(this._credential, undefined);
  }

  /**
   * Typing: to the shell at once when the socket is open; while the page is connecting or
   * getting its shell back (the socket may be gone before the page has heard of it), kept and
   * sent when the shell is there, so that no key is lost on the way. In every other state
   * (exited, disconnected, asking for a token) there is no shell to type into.
   */
  sendInput(data: string): void {
    const connection = this._connection;
    if (connection?.isOpen === true) {
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

  /** Mouse reports: only to a live shell (a late click means nothing). */
  sendBinary(data: string): void {
    this._connection?.sendBinary(data);
  }

  /**
   * Whether the terminal is parsing output replayed after a reload, whose queries must not be
   * answered again (replay-replies.ts). Typing meanwhile is not affected.
   */
  get replaying(): boolean {
    const connection = this._connection;
    return connection !== undefined && connection.processedOffset < this._repliesMutedUntil;
  }

  resize(cols: number, rows: number): void {
    this._connection?.resize(cols, rows);
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

  private _connect(credential: string | undefined, resume: Resuming | undefined): void {
    const { shell, status, tokenForm, url, memory } = this._options;
    this._stopTimers();
    this._connection?.close();
    this._credential = credential;
    memory.credential = credential;
    this._resuming = resume;
    tokenForm.hide();
    if (resume === undefined || resume.quiet) {
      status.show('connecting', 'Connecting…');
    }
    shell.fit();
    const connection: ShellConnection = new ShellConnection(
      {
        url,
        credential,
        cols: shell.term.cols,
        rows: shell.term.rows,
        ...(resume !== undefined
          ? { resume: { sessionId: resume.sessionId, offset: resume.offset } }
          : {}),
      },
      {
        opened: (hello) => this._opened(connection, hello),
        output: (data, processed) => shell.write(data, processed),
        exited: (exit) => {
          this._pendingInput = '';
          this._forgetSession();
          status.show('exited', describeExit(exit), {
            label: 'New shell',
            run: () => this.newShell(),
          });
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
    const resuming = this._resuming;
    this._resuming = undefined;
    this._lostAt = undefined;
    this._repliesMutedUntil = resuming?.quiet === true ? hello.liveOffset : 0;
    this._schedule.reset();
    this._session = {
      id: hello.sessionId,
      resumeWindowMs: hello.limits.resumeWindowSeconds * 1000,
    };
    memory.sessionId = hello.limits.resumeWindowSeconds > 0 ? hello.sessionId : undefined;
    status.show('connected', hello.resumed ? 'Reconnected' : 'Connected');
    if (hello.resumed && hello.lostBytes > 0 && resuming?.quiet !== true) {
      announce(
        `Reconnected; ${hello.lostBytes} bytes of output were lost while away (the server keeps ${hello.limits.replayBufferBytes}).`,
      );
    } else if (hello.resumed && resuming?.quiet !== true) {
      announce('Reconnected: nothing was lost.');
    }
    // The window may have changed size while we were away or connecting.
    connection.resize(shell.term.cols, shell.term.rows);
    if (this._pendingInput !== '') {
      connection.sendInput(this._pendingInput); // typed while the shell was on its way
      this._pendingInput = '';
    }
    shell.term.focus();
    if (!hello.resumed) {
      this._options.started?.();
    }
    this._options.opened?.();
  }

  private _closed(code: number, reason: string, authFailed: boolean): void {
    const { status, tokenForm, announce } = this._options;
    const retry = (token: string): void => this._connect(token, undefined);
    // Typing kept while reconnecting goes only to the same shell, or to the first shell of a page
    // that showed nothing yet: every branch below that ends elsewhere drops it.
    if (authFailed && this._credential === undefined) {
      this._dropPendingInput();
      status.show('enter-token', 'Enter the access token to connect');
      tokenForm.ask('This server needs its access token (the #token=… part of its URL).', retry);
      return;
    }
    if (authFailed) {
      const text = /^authentication failed/i.test(reason)
        ? reason
        : `Authentication failed: ${reason}`;
      this._dropPendingInput();
      status.show('auth-failed', text);
      tokenForm.ask('The server refused this token. Check it and try again.', retry);
      return;
    }
    const resuming = this._resuming;
    if (
      resuming !== undefined &&
      (code === ERRORS.XJS_ERR_SESSION_NOT_FOUND.closeCode ||
        code === ERRORS.XJS_ERR_SESSION_FORBIDDEN.closeCode)
    ) {
      // The shell is gone (its window passed, or the server restarted): start a new one here.
      this._forgetSession();
      if (!resuming.quiet) {
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
      this._connect(this._credential, undefined);
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
    if (this._canResume(code)) {
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
      run: () => this.newShell(),
    });
  }

  private _canResume(code: number): boolean {
    const session = this._session;
    if (session === undefined || session.resumeWindowMs === 0) {
      return false; // the server keeps no shell for us
    }
    // A failed attempt (the server still down) closes with 1006 too: keep trying.
    return isResumableClose(code) || this._resuming !== undefined;
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
        { label: 'New shell', run: () => this.newShell() },
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
      this.newShell();
      return;
    }
    const connection = this._connection;
    if (connection?.greeted === true) {
      this._offset = connection.receivedOffset; // "Take it back" from a live connection
    }
    this._connect(this._credential, { sessionId: session.id, offset: this._offset, quiet: false });
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
  }

  private _stopTimers(): void {
    clearTimeout(this._retry);
    clearInterval(this._countdown);
    this._retry = undefined;
    this._countdown = undefined;
  }
}
