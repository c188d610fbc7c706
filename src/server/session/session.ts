/**
 * One shell and its output stream: numbers every output byte (the offset) and hands chunks, in
 * order, to the connection attached to it. Kept apart from the connection so that a session can
 * outlive its socket (resume).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ExitStatus } from '../../protocol/v1.js';
import type { Disposable, ShellProcess } from '../process/pty-process.js';
import { ReplayBuffer, type ReplaySlice } from './replay-buffer.js';
import {
  terminateSession,
  type TerminateOptions,
  type TerminateOutcome,
} from '../process/terminate.js';

/** Where a session's output goes: the connection currently attached. */
export interface SessionSink {
  /** A chunk of shell output; `offset` is the offset of its first byte. */
  output(chunk: Buffer, offset: number): void;
  /** The shell exited; every byte of its output was passed to `output` before. */
  exited(status: ExitStatus): void;
}

/** Something that watches a session's output besides its connection (a recorder). */
export interface SessionObserver {
  output(chunk: Buffer): void;
  resized(cols: number, rows: number): void;
  input(data: Buffer): void;
  exited(status: ExitStatus): void;
  /** The session is over (terminated); release what is held. */
  close(): void;
}

export class ShellSession {
  /** 128 random bits as 32 hex digits: the name a client resumes by. */
  readonly id = randomBytes(16).toString('hex');
  readonly startedAt = Date.now();
  private readonly _replay: ReplayBuffer;
  private _sink: SessionSink | undefined;
  private readonly _observers: SessionObserver[] = [];
  private readonly _exitListeners: Array<(status: ExitStatus) => void> = [];
  private _terminating: Promise<TerminateOutcome> | undefined;
  private readonly _subscriptions: Disposable[];

  /**
   * @param shell the running shell
   * @param replayBufferBytes recent output kept for a resuming client (0: none)
   */
  constructor(
    readonly shell: ShellProcess,
    replayBufferBytes = 0,
  ) {
    this._replay = new ReplayBuffer(replayBufferBytes);
    this._subscriptions = [
      shell.onData((chunk) => this._ptyOnData(chunk)),
      shell.onExit((status) => this._ptyOnExit(status)),
    ];
  }

  /** Total output bytes so far: the offset of the next byte. */
  get offset(): number {
    return this._replay.endOffset;
  }

  get attached(): boolean {
    return this._sink !== undefined;
  }

  /** Output from `offset` on, as far as the replay buffer still holds it. */
  replayFrom(offset: number): ReplaySlice {
    return this._replay.sliceFrom(offset);
  }

  addObserver(observer: SessionObserver): void {
    this._observers.push(observer);
  }

  write(data: Buffer): void {
    this.shell.write(data);
    for (const observer of this._observers) {
      observer.input(data);
    }
  }

  resize(cols: number, rows: number): void {
    this.shell.resize(cols, rows);
    for (const observer of this._observers) {
      observer.resized(cols, rows);
    }
  }

  get exitStatus(): ExitStatus | undefined {
    return this.shell.exitStatus;
  }

  /** Sends all further output to `sink`; a session has at most one. */
  attach(sink: SessionSink): void {
    this._sink = sink;
  }

  /** Stops sending output and pauses the shell until a connection attaches again. */
  detach(sink: SessionSink): void {
    if (this._sink === sink) {
      this._sink = undefined;
      this.shell.pause();
    }
  }

  pause(): void {
    this.shell.pause();
  }

  resume(): void {
    this.shell.resume();
  }

  /**
   * Hangs up the shell's session and kills what remains (see terminate.ts). Runs once; later
   * calls get the same outcome.
   */
  terminate(options: TerminateOptions): Promise<TerminateOutcome> {
    this._terminating ??= terminateSession(this.shell.pid, options).finally(() => {
      this.shell.close();
      for (const subscription of this._subscriptions) {
        subscription.dispose();
      }
      for (const observer of this._observers) {
        observer.close();
      }
    });
    return this._terminating;
  }

  private _ptyOnData(chunk: Buffer): void {
    const offset = this._replay.endOffset;
    this._replay.append(chunk);
    for (const observer of this._observers) {
      observer.output(chunk);
    }
    this._sink?.output(chunk, offset);
  }

  private _ptyOnExit(status: ExitStatus): void {
    for (const observer of this._observers) {
      observer.exited(status);
    }
    this._sink?.exited(status);
    for (const listener of this._exitListeners) {
      listener(status);
    }
  }

  /** Called once when the shell exits, attached or not (the session store sweeps on it). */
  onExit(listener: (status: ExitStatus) => void): void {
    this._exitListeners.push(listener);
  }
}
