/**
 * Sessions that may be resumed: each v1 session is kept here with the credential it belongs to;
 * when its socket drops it waits, paused, for the resume window, then is terminated.
 * @module
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { ShellSession } from './session.js';
import type { TerminateOptions } from '../process/terminate.js';
import { MAX_TIMER_SECONDS } from '../timer-limits.js';

export interface SessionStoreOptions {
  /** Seconds a detached shell waits for its client to come back. @default 60 */
  readonly resumeWindow?: number;
  /** Bytes of recent output each session keeps for a resuming client. @default 1048576 */
  readonly replayBufferBytes?: number;
}

/** The connection a session is attached to, so a newer one can take it over. */
export interface SessionHolder {
  /** Another connection resumed the session: let go of it without terminating it. */
  takenOver(): void;
}

interface Entry {
  readonly session: ShellSession;
  readonly owner: string;
  holder: SessionHolder | undefined;
  expiry: NodeJS.Timeout | undefined;
  terminateOptions: TerminateOptions | undefined;
}

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

/** Events: `change` whenever the number of kept or detached sessions changes. */
export class SessionStore extends EventEmitter {
  readonly resumeWindowMs: number;
  readonly replayBufferBytes: number;
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
  }

  /** Sessions kept, attached or not. */
  get size(): number {
    return this._entries.size;
  }

  /** Sessions waiting for their client to come back. */
  get detached(): number {
    let count = 0;
    for (const entry of this._entries.values()) {
      if (entry.holder === undefined) count += 1;
    }
    return count;
  }

  /** Keeps a new session, held by `holder`. */
  add(session: ShellSession, owner: string, holder: SessionHolder): void {
    const entry: Entry = { session, owner, holder, expiry: undefined, terminateOptions: undefined };
    this._entries.set(session.id, entry);
    // A shell that exits while detached is swept at once; its record (replay, exit status)
    // stays for the client until the window ends.
    session.onExit(() => {
      if (entry.holder === undefined && entry.terminateOptions !== undefined) {
        void session.terminate(entry.terminateOptions);
      }
    });
    this.emit('change');
  }

  find(id: string, owner: string): FindResult {
    const entry = this._entries.get(id);
    if (entry === undefined) {
      return { found: false, reason: 'unknown' };
    }
    if (entry.owner !== owner) {
      return { found: false, reason: 'forbidden' };
    }
    return { found: true, session: entry.session };
  }

  /**
   * Gives the session to `holder`: a detached one stops waiting; an attached one is taken from
   * its current connection, which is told so.
   */
  claim(session: ShellSession, holder: SessionHolder): void {
    const entry = this._entries.get(session.id);
    if (entry === undefined) {
      throw new Error(`session ${session.id} is not in the store`);
    }
    clearTimeout(entry.expiry);
    entry.expiry = undefined;
    const previous = entry.holder;
    entry.holder = holder;
    if (previous !== undefined && previous !== holder) {
      previous.takenOver();
    }
    this.emit('change');
  }

  /**
   * The holder's socket dropped: the session waits for the resume window, then is terminated
   * with `terminateOptions`. Returns false when the store is closed or resume is off (the
   * caller terminates the session itself).
   */
  detach(
    session: ShellSession,
    holder: SessionHolder,
    terminateOptions: TerminateOptions,
  ): boolean {
    const entry = this._entries.get(session.id);
    if (entry === undefined || entry.holder !== holder) {
      return entry !== undefined; // taken over meanwhile: the new holder has it
    }
    if (this._closed || this.resumeWindowMs === 0) {
      this._entries.delete(session.id);
      this.emit('change');
      return false;
    }
    entry.holder = undefined;
    entry.terminateOptions = terminateOptions;
    const log: Logger = terminateOptions.log;
    entry.expiry = setTimeout(() => {
      log.info({ sessionId: session.id }, 'resume window ended; terminating the detached shell');
      void this._expire(entry);
    }, this.resumeWindowMs);
    if (session.exitStatus !== undefined) {
      void session.terminate(terminateOptions);
    }
    this.emit('change');
    return true;
  }

  /** Forgets a session its holder has terminated (shell exit, shutdown). */
  remove(session: ShellSession): void {
    const entry = this._entries.get(session.id);
    if (entry !== undefined) {
      clearTimeout(entry.expiry);
      this._entries.delete(session.id);
      this.emit('change');
    }
  }

  /** Terminates every detached session; later detaches terminate at once. */
  async close(): Promise<void> {
    this._closed = true;
    const detached = [...this._entries.values()].filter((entry) => entry.holder === undefined);
    await Promise.all(detached.map((entry) => this._expire(entry)));
  }

  private async _expire(entry: Entry): Promise<void> {
    clearTimeout(entry.expiry);
    this._entries.delete(entry.session.id);
    this.emit('change');
    if (entry.terminateOptions !== undefined) {
      await entry.session.terminate(entry.terminateOptions);
    }
  }
}
