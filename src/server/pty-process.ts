/**
 * The shell on a pseudo-terminal: the only module that imports node-pty. Raw bytes out, bytes or
 * text in, resize, pause/resume for flow control, and the exit status with the signal's name.
 * @module
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import * as nodePty from 'node-pty';
import type { ExitStatus } from '../protocol/v1.js';

export interface Disposable {
  dispose(): void;
}

export interface SpawnOptions {
  readonly cols: number;
  readonly rows: number;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface ShellProcess {
  readonly pid: number;
  readonly command: readonly string[];
  /** The exit status once the shell has exited and all of its output was delivered. */
  readonly exitStatus: ExitStatus | undefined;
  onData(listener: (chunk: Buffer) => void): Disposable;
  onExit(listener: (status: ExitStatus) => void): Disposable;
  write(data: Buffer | string): void;
  /** Input bytes written but not yet taken by the pty (the shell is not reading). */
  readonly inputBacklog: number;
  resize(cols: number, rows: number): void;
  /** Stops reading the pty: the shell blocks once the kernel's pty buffer is full. */
  pause(): void;
  resume(): void;
}

/** How often a paused pty checks whether its shell has died. */
const PAUSED_EXIT_POLL_MS = 50;

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name]),
);

function toExitStatus(exitCode: number, signal: number | undefined): ExitStatus {
  if (signal !== undefined && signal > 0) {
    return { code: null, signal: SIGNAL_NAMES.get(signal) ?? `signal ${signal}` };
  }
  return { code: exitCode, signal: null };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

class PtyShellProcess implements ShellProcess {
  readonly pid: number;
  private _exitStatus: ExitStatus | undefined;
  private _paused = false;
  private _exitPoll: NodeJS.Timeout | undefined;

  constructor(
    readonly command: readonly string[],
    private readonly _pty: nodePty.IPty,
  ) {
    this.pid = _pty.pid;
    _pty.onExit(({ exitCode, signal }) => {
      this._exitStatus = toExitStatus(exitCode, signal);
      this._stopExitPoll();
    });
  }

  get exitStatus(): ExitStatus | undefined {
    return this._exitStatus;
  }

  onData(listener: (chunk: Buffer) => void): Disposable {
    // With `encoding: null` node-pty hands out Buffers; its typings only say string.
    return this._pty.onData(listener as unknown as (data: string) => void);
  }

  onExit(listener: (status: ExitStatus) => void): Disposable {
    return this._pty.onExit(({ exitCode, signal }) => listener(toExitStatus(exitCode, signal)));
  }

  write(data: Buffer | string): void {
    this._pty.write(data);
  }

  get inputBacklog(): number {
    // HACK: node-pty queues writes the kernel refused (EAGAIN) without saying how much; its
    // queue is private. An unknown shape reads as 0: no input backpressure, nothing breaks.
    const queue = (this._pty as unknown as { _writeStream?: { _writeQueue?: unknown } })
      ._writeStream?._writeQueue;
    if (!Array.isArray(queue)) {
      return 0;
    }
    let bytes = 0;
    for (const task of queue as Array<{ buffer?: Buffer; offset?: number }>) {
      bytes += (task.buffer?.length ?? 0) - (task.offset ?? 0);
    }
    return bytes;
  }

  resize(cols: number, rows: number): void {
    if (this._exitStatus === undefined) {
      this._pty.resize(cols, rows);
    }
  }

  pause(): void {
    if (this._paused) {
      return;
    }
    this._paused = true;
    this._pty.pause();
    // HACK: once the shell exits, node-pty destroys its read stream after 200 ms if the pty has
    // not reported EOF, which it cannot while paused: the last bytes still in the kernel would
    // be dropped. So a paused pty watches its shell and drains the (bounded) rest when it dies.
    this._exitPoll = setInterval(() => this._checkExitWhilePaused(), PAUSED_EXIT_POLL_MS);
    this._exitPoll.unref();
  }

  resume(): void {
    if (!this._paused) {
      return;
    }
    this._paused = false;
    this._stopExitPoll();
    this._pty.resume();
  }

  private _checkExitWhilePaused(): void {
    if (!isAlive(this.pid)) {
      this._stopExitPoll();
      this._pty.resume();
    }
  }

  private _stopExitPoll(): void {
    if (this._exitPoll !== undefined) {
      clearInterval(this._exitPoll);
      this._exitPoll = undefined;
    }
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * node-pty reports a missing program only as text on the pty and exit code 1; checking first
 * turns the common mistakes into an error that names the culprit.
 */
function checkSpawnable(file: string, path: string | undefined, cwd: string): void {
  const found = file.includes('/')
    ? isExecutableFile(file)
    : (path ?? '').split(delimiter).some((dir) => dir !== '' && isExecutableFile(join(dir, file)));
  if (!found) {
    throw new Error(`shell command not found or not executable: ${file}`);
  }
  if (!isDirectory(cwd)) {
    throw new Error(`shell working directory does not exist: ${cwd}`);
  }
}

/** Starts `command` on a new pty, as the leader of a new session. Throws when it cannot. */
export function spawnShell(command: readonly string[], options: SpawnOptions): ShellProcess {
  const [file, ...args] = command;
  if (file === undefined) {
    throw new TypeError('the shell command must not be empty');
  }
  const cwd = options.cwd ?? (isDirectory(options.env.HOME ?? '') ? options.env.HOME : undefined);
  const workingDirectory = cwd ?? process.cwd();
  checkSpawnable(file, options.env.PATH, workingDirectory);
  const pty = nodePty.spawn(file, args, {
    name: options.env.TERM ?? 'xterm-256color',
    cols: options.cols,
    rows: options.rows,
    cwd: workingDirectory,
    env: options.env,
    encoding: null,
  });
  return new PtyShellProcess(command, pty);
}
