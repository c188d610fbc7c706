/**
 * The shell on a pseudo-terminal: the only module that imports node-pty. Raw bytes out, bytes or
 * text in, resize, pause/resume for flow control, and the exit status with the signal's name.
 * @module
 */
import { accessSync, constants as fsConstants, readSync, statSync, writeSync } from 'node:fs';
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

/** The most a single pty read returns on Linux (N_TTY_BUF_SIZE - 1). */
const FULL_PTY_READ = 4095;
/** A coalesced output chunk stops growing here: one WebSocket frame. */
const READ_ON_LIMIT = 64 * 1024;
/** Reads are synchronous, so one scratch buffer serves every pty. */
const readOnScratch = Buffer.allocUnsafe(READ_ON_LIMIT);

/** How soon input the kernel refused (EAGAIN: the shell is not reading) is tried again. */
const WRITE_RETRY_MS = 5;

/** The parts of node-pty's UnixTerminal this module reaches into: its master fd and read socket. */
interface PtyInternals {
  readonly _fd?: number;
  readonly _socket?: {
    readonly destroyed?: boolean;
    destroy(error?: Error): unknown;
    read(): Buffer | null;
    emit(event: 'data', chunk: Buffer): boolean;
  };
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name]),
);

function toExitStatus(exitCode: number, signal: number | undefined): ExitStatus {
  if (signal !== undefined && signal > 0) {
    return { code: null, signal: SIGNAL_NAMES.get(signal) ?? `signal ${signal}` };
  }
  return { code: exitCode, signal: null };
}

class PtyShellProcess implements ShellProcess {
  readonly pid: number;
  private _exitStatus: ExitStatus | undefined;
  private _paused = false;
  /** Input not yet taken by the pty, oldest first; the first may be partly written. */
  private readonly _input: Buffer[] = [];
  private _inputOffset = 0;
  private _retry: NodeJS.Timeout | undefined;

  constructor(
    readonly command: readonly string[],
    private readonly _pty: nodePty.IPty,
  ) {
    this.pid = _pty.pid;
    _pty.onExit(({ exitCode, signal }) => {
      this._exitStatus = toExitStatus(exitCode, signal);
    });
    this._drainOnExit();
  }

  /**
   * HACK: node-pty gives up on the pty's output after the shell exits: 200 ms after the exit it
   * destroys its read stream unless the pty reported EIO first, and a read error (the EIO that
   * can come while the kernel still holds output) destroys it too. Either way the shell's last
   * output was dropped whenever our loop was slow or flow control had paused the stream. So the
   * destroy first hands on what the stream buffered and then reads what the kernel still holds,
   * synchronously (the master is non-blocking: it stops at EAGAIN or EIO, bounded by the pty
   * buffer). See test/reliability/shell-faults.test.ts and docs/flow-control.md.
   */
  private _drainOnExit(): void {
    const internals = this._pty as unknown as PtyInternals;
    const socket = internals._socket;
    const fd = internals._fd;
    if (socket === undefined || typeof socket.destroy !== 'function' || fd === undefined) {
      return; // not the node-pty we know: keep its behaviour
    }
    const destroy = socket.destroy.bind(socket);
    socket.destroy = (error?: Error): unknown => {
      if (socket.destroyed !== true) {
        while (socket.read() !== null) {
          // read() emits 'data' for each chunk the stream buffered while paused
        }
        const buffer = Buffer.allocUnsafe(64 * 1024);
        for (;;) {
          let length: number;
          try {
            length = readSync(fd, buffer, 0, buffer.length, null);
          } catch {
            break; // EAGAIN: nothing left for now; EIO: closed and drained
          }
          if (length === 0) {
            break;
          }
          socket.emit('data', Buffer.from(buffer.subarray(0, length)));
        }
      }
      return destroy(error);
    };
  }

  get exitStatus(): ExitStatus | undefined {
    return this._exitStatus;
  }

  /**
   * Output chunks, in order. A pty read returns at most 4095 bytes and libuv stops reading at
   * the first short read, so a busy shell would cost one wakeup, one frame and one `writev` per
   * 4 KiB (the server's CPU was the throughput limit). After a full read the master is read on,
   * non-blocking, until EAGAIN or 64 KiB, and the chunks go on as one. Short reads (keystroke
   * echoes) pass straight through, and a paused pty is never read on.
   */
  onData(listener: (chunk: Buffer) => void): Disposable {
    const fd = (this._pty as unknown as PtyInternals)._fd;
    // With `encoding: null` node-pty hands out Buffers; its typings only say string.
    return this._pty.onData((data) => {
      const first = data as unknown as Buffer;
      if (this._paused || fd === undefined || first.length < FULL_PTY_READ) {
        listener(first);
        return;
      }
      let more = 0;
      while (first.length + more < READ_ON_LIMIT) {
        let count: number;
        try {
          count = readSync(fd, readOnScratch, more, READ_ON_LIMIT - first.length - more, null);
        } catch {
          break; // EAGAIN: nothing more for now; EIO: the drain on exit takes the rest
        }
        if (count <= 0) {
          break;
        }
        more += count;
      }
      if (more === 0) {
        listener(first);
        return;
      }
      // An exact-size chunk: the replay buffer keeps chunks, and must not pin a 64 KiB slab.
      const chunk = Buffer.allocUnsafe(first.length + more);
      first.copy(chunk, 0);
      readOnScratch.copy(chunk, first.length, 0, more);
      listener(chunk);
    });
  }

  onExit(listener: (status: ExitStatus) => void): Disposable {
    return this._pty.onExit(({ exitCode, signal }) => listener(toExitStatus(exitCode, signal)));
  }

  write(data: Buffer | string): void {
    const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    if (buffer.length > 0) {
      this._input.push(buffer);
      this._flushInput();
    }
  }

  get inputBacklog(): number {
    return this._input.reduce((sum, buffer) => sum + buffer.length, 0) - this._inputOffset;
  }

  /**
   * Writes queued input with writeSync on the main thread. HACK: node-pty's own write queue
   * retries on a thread after the pty may have closed its descriptor; once the kernel hands that
   * number to a new socket or another shell's pty, what the user typed would be written there.
   * Checking that the pty is open and writing in the same synchronous step leaves no such gap.
   */
  private _flushInput(): void {
    const { _fd: fd, _socket: socket } = this._pty as unknown as PtyInternals;
    while (this._input.length > 0) {
      if (fd === undefined || socket?.destroyed !== false || this._exitStatus !== undefined) {
        this._input.length = 0; // the shell is gone: nobody will read it
        this._inputOffset = 0;
        return;
      }
      const buffer = this._input[0] as Buffer;
      let written: number;
      try {
        written = writeSync(fd, buffer, this._inputOffset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          this._retry ??= setTimeout(() => {
            this._retry = undefined;
            this._flushInput();
          }, WRITE_RETRY_MS);
          return;
        }
        this._input.length = 0; // EIO: the shell's side closed
        this._inputOffset = 0;
        return;
      }
      this._inputOffset += written;
      if (this._inputOffset >= buffer.length) {
        this._input.shift();
        this._inputOffset = 0;
      }
    }
  }

  resize(cols: number, rows: number): void {
    // Same gap as for input: after the descriptor closed, its number may belong to another pty.
    const socket = (this._pty as unknown as PtyInternals)._socket;
    if (this._exitStatus === undefined && socket?.destroyed === false) {
      this._pty.resize(cols, rows);
    }
  }

  pause(): void {
    if (this._paused) {
      return;
    }
    this._paused = true;
    this._pty.pause();
  }

  resume(): void {
    if (!this._paused) {
      return;
    }
    this._paused = false;
    this._pty.resume();
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
