/**
 * One shell and its output stream: numbers every output byte (the offset) and hands chunks, in
 * order, to the connection attached to it. Kept apart from the connection so that a session can
 * outlive its socket (resume).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ExitStatus } from '../protocol/v1.js';
import type { Disposable, ShellProcess } from './pty-process.js';
import { terminateSession, type TerminateOptions, type TerminateOutcome } from './terminate.js';

/** Where a session's output goes: the connection currently attached. */
export interface SessionSink {
  /** A chunk of shell output; `offset` is the offset of its first byte. */
  output(chunk: Buffer, offset: number): void;
  /** The shell exited; every byte of its output was passed to `output` before. */
  exited(status: ExitStatus): void;
}

export class ShellSession {
  /** 128 random bits as 32 hex digits: the name a client resumes by. */
  readonly id = randomBytes(16).toString('hex');
  readonly startedAt = Date.now();
  private _offset = 0;
  private _sink: SessionSink | undefined;
  private _terminating: Promise<TerminateOutcome> | undefined;
  private readonly _subscriptions: Disposable[];

  constructor(readonly shell: ShellProcess) {
    this._subscriptions = [
      shell.onData((chunk) => this._ptyOnData(chunk)),
      shell.onExit((status) => this._ptyOnExit(status)),
    ];
  }

  /** Total output bytes so far: the offset of the next byte. */
  get offset(): number {
    return this._offset;
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
      for (const subscription of this._subscriptions) {
        subscription.dispose();
      }
    });
    return this._terminating;
  }

  private _ptyOnData(chunk: Buffer): void {
    const offset = this._offset;
    this._offset += chunk.length;
    this._sink?.output(chunk, offset);
  }

  private _ptyOnExit(status: ExitStatus): void {
    this._sink?.exited(status);
  }
}
