/**
 * The server's live sessions, each with the credential it belongs to, and the one place that
 * ends them: when the last viewer leaves (at once, or after the resume window when it vanished),
 * when the window runs out, and when the server closes. See docs/sessions.md.
 * @module
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ShellSession } from './session.js';
import type { TerminateOptions, TerminateOutcome } from '../process/terminate.js';
import { MAX_TIMER_SECONDS } from '../timer-limits.js';
import { ScreenStateHost, type ScreenStateOptions } from './screen-state.js';

export interface SessionStoreOptions {
  /** Seconds a detached shell waits for its client to come back. @default 60 */
  readonly resumeWindow?: number;
  /** Bytes of recent output each session keeps for a resuming client. @default 1048576 */
  readonly replayBufferBytes?: number;
  /**
   * Keep each session's screen on the server, so that a page joining or coming back after
   * more output than the replay holds gets the exact screen (docs/screen-state.md); false: the
   * replay only. @default {} (on, 1000 lines of scrollback)
   */
  readonly screenState?: false | ScreenStateOptions;
  /** Told when the screen-state worker fails (its sessions go on with the replay only). */
  readonly onScreenStateError?: (message: string) => void;
}

interface Entry {
  readonly session: ShellSession;
  readonly owner: string;
  expiry: NodeJS.Timeout | undefined;
  terminateOptions: TerminateOptions | undefined;
  ending: Promise<TerminateOutcome> | undefined;
}

/** How a viewer left: done (closed normally), vanished (may come back), or the shell exited. */
export type Leaving = 'done' | 'vanished' | 'exited';

/** What became of the session when a viewer left. */
export type LeaveResult =
  | { readonly fate: 'kept' }
  | { readonly fate: 'detached' }
  | { readonly fate: 'terminated'; readonly termination: Promise<TerminateOutcome> };

export type FindResult =
  | { readonly found: true; readonly session: ShellSession }
  | { readonly found: false; readonly reason: 'unknown' | 'forbidden' };

export const DEFAULT_RESUME_WINDOW_SECONDS = 60;
export const DEFAULT_REPLAY_BUFFER_BYTES = 1024 * 1024;

/**
 * Who may resume a session: the identity an auth callback named (a JWT subject), else a digest
 * of the credential itself (the same token), else anyone when there is no authentication.
 */
export function ownerKey(identity: string | undefined, credential: string | undefined): string {
  if (identity !== undefined) {
    return `identity:${identity}`;
  }
  if (credential !== undefined) {
    return `credential:${createHash('sha256').update(credential).digest('hex')}`;
  }
  return 'anyone';
}

/**
 * Events: `change` whenever the number of kept or detached sessions changes; `ended` (the
 * session) once one is over.
 */
export class SessionStore extends EventEmitter {
  readonly resumeWindowMs: number;
  readonly replayBufferBytes: number;
  /** Where the sessions' screens are kept; undefined when screen state is off. */
  readonly screenState: ScreenStateHost | undefined;
  private readonly _entries = new Map<string, Entry>();
  private _closed = false;

  constructor(options: SessionStoreOptions = {}) {
    super();
    const window = options.resumeWindow ?? DEFAULT_RESUME_WINDOW_SECONDS;
    if (
      typeof window !== 'number' ||
      !Number.isFinite(window) ||
      window < 0 ||
      window > MAX_TIMER_SECONDS
    ) {
      throw new RangeError(
        `options.resumeWindow must be a number of seconds from 0 to ${MAX_TIMER_SECONDS}`,
      );
    }
    const replay = options.replayBufferBytes ?? DEFAULT_REPLAY_BUFFER_BYTES;
    if (!Number.isSafeInteger(replay) || replay < 0) {
      throw new RangeError('options.replayBufferBytes must be a whole number of bytes >= 0');
    }
    this.resumeWindowMs = window * 1000;
    this.replayBufferBytes = replay;
    const screen = options.screenState ?? {};
    if (screen !== false && (typeof screen !== 'object' || screen === null)) {
      throw new TypeError('options.screenState must be false or { scrollbackLines }');
    }
    try {
      this.screenState =
        screen === false ? undefined : new ScreenStateHost(screen, options.onScreenStateError);
    } catch (error) {
      throw new RangeError(`options.screenState.${(error as Error).message}`);
    }
  }

  /** Sessions kept, attached or not. */
  get size(): number {
    return this._entries.size;
  }

  /** Sessions no viewer is attached to, waiting for one to come back. */
  get detached(): number {
    let count = 0;
    for (const entry of this._entries.values()) {
      if (!entry.session.attached && entry.ending === undefined) count += 1;
    }
    return count;
  }

  /** Every session kept, in the order they started. */
  list(): ShellSession[] {
    return [...this._entries.values()]
      .filter((entry) => entry.ending === undefined)
      .map((entry) => entry.session);
  }

  /** A live session by id, whoever owns it (a share link names it). */
  get(id: string): ShellSession | undefined {
    const entry = this._entries.get(id);
    return entry?.ending === undefined ? entry?.session : undefined;
  }

  /** The owner key a session belongs to. */
  ownerOf(session: ShellSession): string | undefined {
    return this._entries.get(session.id)?.owner;
  }

  /** Keeps a new session; `terminateOptions` are how it is ended when it comes to that. */
  add(session: ShellSession, owner: string, terminateOptions: TerminateOptions): void {
    const entry: Entry = {
      session,
      owner,
      expiry: undefined,
      terminateOptions,
      ending: undefined,
    };
    this._entries.set(session.id, entry);
    // A shell that exits while nobody watches is swept at once; its record (replay, exit
    // status) stays for a page that resumes until the window ends.
    session.onExit(() => {
      if (!session.attached) {
        void session.terminate(terminateOptions);
      }
    });
    this.emit('change');
  }

  find(id: string, owner: string): FindResult {
    const entry = this._entries.get(id);
    if (entry === undefined || entry.ending !== undefined) {
      return { found: false, reason: 'unknown' };
    }
    if (entry.owner !== owner) {
      return { found: false, reason: 'forbidden' };
    }
    return { found: true, session: entry.session };
  }

  /** A viewer joins: a detached session stops waiting. */
  joined(session: ShellSession): void {
    const entry = this._entries.get(session.id);
    if (entry !== undefined && entry.expiry !== undefined) {
      clearTimeout(entry.expiry);
      entry.expiry = undefined;
      this.emit('change');
    }
  }

  /**
   * `viewer` left `session` (the caller has taken it off the session). Decides the session's
   * fate: kept while others watch; ended when the last one was done, the shell exited, resume
   * is off or the store is closed; else detached for the resume window.
   */
  left(session: ShellSession, how: Leaving): LeaveResult {
    const entry = this._entries.get(session.id);
    if (entry === undefined) {
      return { fate: 'kept' }; // ended already, by whoever came first
    }
    if (entry.ending !== undefined) {
      return { fate: 'terminated', termination: entry.ending };
    }
    if (session.attached) {
      return { fate: 'kept' };
    }
    const resumable =
      how === 'vanished' &&
      session.exitStatus === undefined &&
      !this._closed &&
      this.resumeWindowMs > 0;
    if (!resumable) {
      return { fate: 'terminated', termination: this.end(session) };
    }
    const options = entry.terminateOptions as TerminateOptions;
    entry.expiry = setTimeout(() => {
      options.log.info(
        { sessionId: session.id },
        'resume window ended; terminating the detached shell',
      );
      void this.end(session);
    }, this.resumeWindowMs);
    this.emit('change');
    return { fate: 'detached' };
  }

  /** Ends `session`: terminates its shell (which tells its viewers) and forgets it. Once. */
  end(session: ShellSession): Promise<TerminateOutcome> {
    const entry = this._entries.get(session.id);
    if (entry === undefined) {
      // Ended and forgotten already: the same outcome.
      return session.termination ?? Promise.reject(new Error(`session ${session.id} is not here`));
    }
    clearTimeout(entry.expiry);
    entry.expiry = undefined;
    entry.ending ??= session.terminate(entry.terminateOptions as TerminateOptions).finally(() => {
      this._entries.delete(session.id);
      if (this._closed && this._entries.size === 0) {
        void this.screenState?.close(); // the last session of a closed store
      }
      this.emit('ended', session);
      this.emit('change');
    });
    this.emit('change');
    return entry.ending;
  }

  /** Ends every detached session; later departures end theirs at once. */
  async close(): Promise<void> {
    this._closed = true;
    const detached = [...this._entries.values()].filter(
      (entry) => !entry.session.attached && entry.ending === undefined,
    );
    await Promise.all(detached.map((entry) => this.end(entry.session)));
    if (this._entries.size === 0) {
      await this.screenState?.close();
    }
  }
}
