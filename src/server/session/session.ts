/**
 * One shell and everyone who watches it: numbers every output byte (the offset), keeps the
 * recent output (the replay), and offers each chunk to every viewer, each at its own pace. The
 * shell is paused only when no viewer is attached or every writer is behind; a viewer that
 * falls behind while the shell runs on for others catches up from the replay. The size follows
 * the writer who typed or resized last. See docs/sessions.md.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ExitStatus } from '../../protocol/v1.js';
import type { Disposable, ShellProcess } from '../process/pty-process.js';
import {
  terminateSession,
  type TerminateOptions,
  type TerminateOutcome,
} from '../process/terminate.js';
import type { FlowTransition } from '../connection/flow-control.js';
import { ReplayBuffer, type ReplaySlice } from './replay-buffer.js';
import type { ScreenState, ScreenStateHost, Snapshot } from './screen-state.js';
import type { Viewer } from './viewer.js';

/** Something that watches a session's output besides its viewers (a recorder, metrics). */
export interface SessionObserver {
  output(chunk: Buffer): void;
  resized(cols: number, rows: number): void;
  input(data: Buffer): void;
  exited(status: ExitStatus): void;
  /** The session is over (terminated); release what is held. */
  close(): void;
}

/** Where a joining viewer starts: the live end, as far back as the replay holds, or an offset. */
export type JoinFrom = 'live' | 'replay' | number;

/** Where a joining viewer starts: a slice of the replay, after a snapshot of the screen or not. */
export interface JoinStart {
  readonly slice: ReplaySlice;
  readonly snapshot?: Snapshot;
}

/** Output this small, soon after a keystroke, is an echo (a line, a prompt), not a flood. */
const ECHO_CHUNK_BYTES = 1024;
/** How long after a keystroke output counts as its echo. */
const TYPING_MS = 1000;

export class ShellSession {
  /** 128 random bits as 32 hex digits: the name a page resumes or attaches by. */
  readonly id = randomBytes(16).toString('hex');
  readonly startedAt = Date.now();
  /** When output or input last happened (for the session list). */
  lastActivity = Date.now();
  private readonly _replay: ReplayBuffer;
  private readonly _viewers = new Set<Viewer>();
  private readonly _observers: SessionObserver[] = [];
  private readonly _exitListeners: Array<(status: ExitStatus) => void> = [];
  private _terminating: Promise<TerminateOutcome> | undefined;
  private readonly _subscriptions: Disposable[];
  private _paused = false;
  /** The page that typed last, and when: its echoes go out first (see _ptyOnData). */
  private _typist: Viewer | undefined;
  private _typedAt = 0;
  private _cols: number;
  private _rows: number;
  /** Snapshots being taken: the shell waits meanwhile (see prepareJoin). */
  private _snapshotsTaken = 0;
  private readonly _screen: ScreenState | undefined;

  /**
   * @param shell the running shell
   * @param replayBufferBytes recent output kept for pages that resume or join (0: none)
   * @param command what runs, for the session list
   * @param screens where the screen state is kept for pages that join or come back, if anywhere
   */
  constructor(
    readonly shell: ShellProcess,
    replayBufferBytes: number,
    size: { readonly cols: number; readonly rows: number },
    readonly command: readonly string[] = [],
    screens: ScreenStateHost | undefined = undefined,
  ) {
    this._replay = new ReplayBuffer(replayBufferBytes);
    this._cols = size.cols;
    this._rows = size.rows;
    this._screen = screens?.open(this.id, size.cols, size.rows);
    this._screen?.onHeldChange(() => this._updatePause());
    this._subscriptions = [
      shell.onData((chunk) => this._ptyOnData(chunk)),
      shell.onExit((status) => this._ptyOnExit(status)),
    ];
  }

  /** Total output bytes so far: the offset of the next byte. */
  get offset(): number {
    return this._replay.endOffset;
  }

  get cols(): number {
    return this._cols;
  }

  get rows(): number {
    return this._rows;
  }

  get viewers(): readonly Viewer[] {
    return [...this._viewers];
  }

  get attached(): boolean {
    return this._viewers.size > 0;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.shell.exitStatus;
  }

  /** Input the shell has not read yet, in bytes. */
  get inputBacklog(): number {
    return this.shell.inputBacklog;
  }

  /** Whether the screen is kept for pages that join (prepareJoin can restore it). */
  get keepsScreen(): boolean {
    return this._screen !== undefined && !this._screen.lost;
  }

  /** The window title the shell last set, when screen state is kept. */
  get title(): string | undefined {
    return this._screen?.title;
  }

  /** Output from `offset` on, as far as the replay buffer still holds it. */
  replayFrom(offset: number): ReplaySlice {
    return this._replay.sliceFrom(offset);
  }

  addObserver(observer: SessionObserver): void {
    this._observers.push(observer);
  }

  /**
   * Where `viewer` would start: the slice of output it gets first. Throws RangeError for an
   * offset past the end. Nothing is sent yet: the connection says hello first, then `join`.
   */
  prepare(from: JoinFrom): ReplaySlice {
    if (from === 'live') {
      return { offset: this.offset, chunks: [], lostBytes: 0 };
    }
    return this._replay.sliceFrom(from === 'replay' ? 0 : from);
  }

  /**
   * Like `prepare`, but a page that takes snapshots and would lose bytes (the replay no longer
   * reaches back to `from`) gets the screen instead: a snapshot at an offset S, then the replay
   * from S. The shell waits while the snapshot is taken, so S stays in the replay. Without
   * screen state, or if the snapshot fails, it is `prepare`'s slice with its lost bytes.
   */
  async prepareJoin(from: JoinFrom, snapshots: boolean): Promise<JoinStart> {
    const slice = this.prepare(from);
    if (!snapshots || slice.lostBytes === 0 || this._screen === undefined) {
      return { slice };
    }
    this._snapshotsTaken += 1;
    this._updatePause();
    try {
      const snapshot = await this._screen.snapshot();
      // Read after the wait: output that came meanwhile is in the replay.
      const after = snapshot !== undefined ? this._replay.sliceFrom(snapshot.offset) : undefined;
      if (snapshot === undefined || after === undefined || after.lostBytes > 0) {
        return { slice: this.prepare(from) };
      }
      return { slice: after, snapshot };
    } finally {
      this._snapshotsTaken -= 1;
      this._updatePause();
    }
  }

  /** Sends `viewer` the prepared slice and then live output; the others learn of it. */
  join(viewer: Viewer, slice: ReplaySlice): void {
    viewer.startAt(slice.offset);
    this._viewers.add(viewer);
    for (const chunk of slice.chunks) {
      viewer.send(chunk);
    }
    // Output that came while the slice was sent (none: all of this is synchronous) or that the
    // slice did not hold is caught up with the rest.
    if (!viewer.behind) {
      this._catchUp(viewer);
    }
    this._updatePause();
    this._announceViewers();
  }

  /** `viewer` is gone: the shell goes on for the others (or waits, paused, when none is left). */
  leave(viewer: Viewer): void {
    if (this._viewers.delete(viewer)) {
      viewer.dispose();
      if (this._typist === viewer) this._typist = undefined;
      this._updatePause();
      this._announceViewers();
    }
  }

  /**
   * Input from `viewer`; false (and nothing written) for a reader. A writer whose terminal
   * differs from the session's takes the size over first: who types drives the size.
   */
  write(viewer: Viewer, data: Buffer): boolean {
    if (!viewer.writes) {
      return false;
    }
    this._resizeTo(viewer.cols, viewer.rows);
    this.lastActivity = Date.now();
    this._typist = viewer;
    this._typedAt = this.lastActivity;
    this.shell.write(data);
    for (const observer of this._observers) {
      observer.input(data);
    }
    return true;
  }

  /** `viewer`'s terminal has this size now; a writer's drives the session's. */
  resize(viewer: Viewer, cols: number, rows: number): void {
    viewer.cols = cols;
    viewer.rows = rows;
    if (viewer.writes) {
      this._resizeTo(cols, rows);
    }
  }

  /** A viewer's flow control changed (an acknowledgement, a drained socket). */
  flowChanged(viewer: Viewer, transition: FlowTransition): void {
    if (transition === 'resume' && this._viewers.has(viewer)) {
      this._catchUp(viewer);
    }
    if (transition !== undefined) {
      this._updatePause();
    }
  }

  /** Called once when the shell exits, attached or not (the session store sweeps on it). */
  onExit(listener: (status: ExitStatus) => void): void {
    this._exitListeners.push(listener);
  }

  /** How the session ended, once `terminate` was called. */
  get termination(): Promise<TerminateOutcome> | undefined {
    return this._terminating;
  }

  /**
   * Hangs up the shell's session and kills what remains (see terminate.ts). Runs once; later
   * calls get the same outcome.
   */
  terminate(options: TerminateOptions): Promise<TerminateOutcome> {
    this._terminating ??= terminateSession(this.shell, options).finally(() => {
      this.shell.close();
      for (const subscription of this._subscriptions) {
        subscription.dispose();
      }
      for (const observer of this._observers) {
        observer.close();
      }
      this._screen?.close();
    });
    return this._terminating;
  }

  private _resizeTo(cols: number, rows: number): void {
    if (cols === this._cols && rows === this._rows) {
      return;
    }
    this._cols = cols;
    this._rows = rows;
    this.shell.resize(cols, rows);
    this._screen?.resized(cols, rows);
    for (const observer of this._observers) {
      observer.resized(cols, rows);
    }
    for (const viewer of this._viewers) {
      viewer.event({ kind: 'size', cols, rows });
    }
  }

  /**
   * Sends `viewer` what it missed, from its cursor to the live end, until it is behind again;
   * `force` ignores its flow control (the shell exited: the rest is bounded by the replay).
   */
  private _catchUp(viewer: Viewer, force = false): void {
    while (viewer.cursor < this.offset && (force || !viewer.behind)) {
      const slice = this._replay.sliceFrom(viewer.cursor);
      if (slice.lostBytes > 0) {
        viewer.skip(slice.offset);
      }
      for (const chunk of slice.chunks) {
        viewer.send(chunk);
        if (!force && viewer.behind) {
          return;
        }
      }
    }
  }

  /**
   * Paused exactly when no viewer is attached, every writer is behind, the screen state is
   * over its budget, or a snapshot is being taken.
   */
  private _updatePause(): void {
    let writers = 0;
    let behind = 0;
    for (const viewer of this._viewers) {
      if (viewer.writes) {
        writers += 1;
        if (viewer.behind) behind += 1;
      }
    }
    const pause =
      this._viewers.size === 0 ||
      (writers > 0 && behind === writers) ||
      this._snapshotsTaken > 0 ||
      this._screen?.held === true;
    if (pause !== this._paused) {
      this._paused = pause;
      if (pause) {
        this.shell.pause();
      } else {
        this.shell.resume();
      }
    }
  }

  private _announceViewers(): void {
    const viewers = [...this._viewers].map((viewer) => viewer.info);
    for (const viewer of this._viewers) {
      viewer.event({ kind: 'viewers', self: viewer.id, viewers });
    }
  }

  private _ptyOnData(chunk: Buffer): void {
    const offset = this._replay.endOffset;
    this._replay.append(chunk);
    this.lastActivity = Date.now();
    for (const observer of this._observers) {
      observer.output(chunk);
    }
    // Interactive echo: the page that typed gets it at once, the others a moment later with
    // the next echoes, so a watched shell costs the typist one frame per keystroke, not one per
    // page. Bulk output (large chunks) goes to everyone at once.
    const typist =
      chunk.length <= ECHO_CHUNK_BYTES && this.lastActivity - this._typedAt <= TYPING_MS
        ? this._typist
        : undefined;
    let fellBehind = false;
    for (const viewer of this._viewers) {
      // A viewer behind while the shell runs for others skips live output, to catch up later;
      // while the shell is paused, the last chunks read still go to whoever is at the end.
      if (viewer.cursor === offset && (!viewer.behind || this._paused)) {
        const later = typist !== undefined && viewer !== typist;
        fellBehind = viewer.send(chunk, later) === 'pause' || fellBehind;
      }
    }
    if (fellBehind) {
      this._updatePause();
    }
    this._screen?.output(chunk); // after the viewers: it is handed over later, in a batch
  }

  private _ptyOnExit(status: ExitStatus): void {
    for (const observer of this._observers) {
      observer.exited(status);
    }
    for (const viewer of [...this._viewers]) {
      this._catchUp(viewer, true);
      viewer.exited(status);
    }
    for (const listener of this._exitListeners) {
      listener(status);
    }
  }
}
