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
    this._options.shell.term.reset();
    this._forgetSession();
    this._connect(this._credential, undefined);
  }

  sendInput(data: string): void {
    this._connection?.sendInput(data);
  }

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

  /** The browser says the network is back: try at once instead of waiting out the delay. */
  networkOnline(): void {
    if (this._options.status.state === 'reconnecting') {
      this._resumeNow();
    }
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
    shell.term.focus();
    if (!hello.resumed) {
      this._options.started?.();
    }
    this._options.opened?.();
  }

  private _closed(code: number, reason: string, authFailed: boolean): void {
    const { status, tokenForm, announce } = this._options;
    const retry = (token: string): void => this._connect(token, undefined);
    if (authFailed && this._credential === undefined) {
      status.show('enter-token', 'Enter the access token to connect');
      tokenForm.ask('This server needs its access token (the #token=… part of its URL).', retry);
      return;
    }
    if (authFailed) {
      const text = /^authentication failed/i.test(reason)
        ? reason
        : `Authentication failed: ${reason}`;
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
        announce('The previous shell has ended; this is a new one.');
        const line = '\r\n\x1b[2m[the previous shell has ended]\x1b[0m\r\n';
        this._options.shell.write(new TextEncoder().encode(line), () => undefined);
      }
      this._connect(this._credential, undefined);
      return;
    }
    if (code === ERRORS.XJS_ERR_SESSION_TAKEN_OVER.closeCode) {
      status.show('disconnected', 'This shell was opened in another window.', {
        label: 'Take it back',
        run: () => this._resumeNow(),
      });
      return;
    }
    if (this._canResume(code)) {
      this._lostAt ??= Date.now();
      this._scheduleResume(reason);
      return;
    }
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
