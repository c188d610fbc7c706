/**
 * The shell on a pseudo-terminal: the only module that imports node-pty. Raw bytes out, bytes or
 * text in, resize, pause/resume for flow control, and the exit status with the signal's name.
 * On Linux the server opens the pty and the spawner starts the shell on it (docs/spawner.md);
 * elsewhere node-pty forks the server.
 * @module
 */
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import tty from 'node:tty';
import * as nodePty from 'node-pty';
import type { ExitStatus } from '../../protocol/v1.js';
import type { Logger } from '../logger.js';
import { toExitStatus } from './exit-status.js';
import { readPidClock, readProcess, type PidClock } from './process-table.js';
import { shellSpawner, spawnerUnavailableReason, UNKNOWN_EXIT } from './shell-spawner.js';
import type { ShellIdentity } from './terminate.js';

export interface Disposable {
  dispose(): void;
}

export interface SpawnOptions {
  readonly cols: number;
  readonly rows: number;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Fork the server with node-pty even where the spawner runs (tests of that path). */
  readonly forkServer?: boolean;
  /**
   * Aborted when the server shuts down: a start the spawner has not answered then gets only
   * ABORTED_REPLY_TIMEOUT_MS more (a stopped spawner must not hold the shutdown).
   */
  readonly signal?: AbortSignal | undefined;
  /** Where the spawner's failures, and once why it is not used, are logged. */
  readonly log?: Logger | undefined;
}

/**
 * A start refused because the server or the system ran out of something a shell needs (file
 * descriptors, pseudo-terminals): an operator's matter, logged as a warning, not a bug.
 */
export class ResourceLimitError extends Error {
  constructor(
    message: string,
    /** `EMFILE`: this process's descriptors; `ENFILE`: the system's; `PTY`: kernel.pty.max. */
    readonly code: 'EMFILE' | 'ENFILE' | 'PTY',
  ) {
    super(message);
    this.name = 'ResourceLimitError';
  }
}

export interface ShellProcess extends ShellIdentity {
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
  /**
   * Reads what the pty still holds and closes it, once its session has been terminated. A
   * paused pty never reads its own end, and when the exit status was lost with the spawner no
   * status ever closes it either: it would stay open for good.
   */
  close(): void;
}

/** The most a single pty read returns on Linux (N_TTY_BUF_SIZE - 1). */
const FULL_PTY_READ = 4095;
/** A coalesced output chunk stops growing here: one WebSocket frame. */
const READ_ON_LIMIT = 64 * 1024;
/** Reads are synchronous, so one scratch buffer serves every pty. */
const readOnScratch = Buffer.allocUnsafe(READ_ON_LIMIT);

/** How soon input the kernel refused (EAGAIN: the shell is not reading) is tried again. */
const WRITE_RETRY_MS = 5;

/** The read side of a pty master: a libuv stream (node:tty ReadStream). */
interface PtyStream {
  readonly destroyed: boolean;
  destroy(error?: Error): unknown;
  read(): Buffer | null;
  emit(event: 'data', chunk: Buffer): boolean;
}

/** A pty with a shell on it, as this module drives it, whoever forked the shell. */
interface Pty {
  readonly pid: number;
  /** The shell's start time (clock ticks since boot); undefined when unknown. */
  readonly startTime: number | undefined;
  /** The pid allocator's counters while the shell's pid was certainly its own (terminate.ts). */
  readonly heldProof: PidClock | undefined;
  /** The master descriptor, or undefined when it cannot be reached (an unknown node-pty). */
  readonly fd: number | undefined;
  readonly stream: PtyStream | undefined;
  onData(listener: (chunk: Buffer) => void): Disposable;
  /** Fires after the stream has ended (all output read) and the status is known. */
  onExit(listener: (status: ExitStatus) => void): Disposable;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
}

class PtyShellProcess implements ShellProcess {
  readonly pid: number;
  readonly startTime: number | undefined;
  private _exitStatus: ExitStatus | undefined;
  private _paused = false;
  /** Input not yet taken by the pty, oldest first; the first may be partly written. */
  private readonly _input: Buffer[] = [];
  private _inputOffset = 0;
  private _retry: NodeJS.Timeout | undefined;

  constructor(
    readonly command: readonly string[],
    private readonly _pty: Pty,
  ) {
    this.pid = _pty.pid;
    this.startTime = _pty.startTime;
    _pty.onExit((status) => {
      this._exitStatus = status;
    });
    this._drainOnExit();
  }

  /**
   * HACK: the pty's read stream is given up after the shell exits: 200 ms after the exit it is
   * destroyed unless the pty reported EIO first, and a read error (the EIO that can come while
   * the kernel still holds output) destroys it too (node-pty does both, and so does SpawnedPty).
   * Either way the shell's last output was dropped whenever our loop was slow or flow control
   * had paused the stream. So the destroy first hands on what the stream buffered and then reads
   * what the kernel still holds, synchronously (the master is non-blocking: it stops at EAGAIN
   * or EIO, bounded by the pty buffer). See test/reliability/shell-faults.test.ts.
   */
  private _drainOnExit(): void {
    const { stream: socket, fd } = this._pty;
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

  get heldProof(): PidClock | undefined {
    return this._pty.heldProof;
  }

  /**
   * Output chunks, in order. A pty read returns at most 4095 bytes and libuv stops reading at
   * the first short read, so a busy shell would cost one wakeup, one frame and one `writev` per
   * 4 KiB (the server's CPU was the throughput limit). After a full read the master is read on,
   * non-blocking, until EAGAIN or 64 KiB, and the chunks go on as one. Short reads (keystroke
   * echoes) pass straight through, and a paused pty is never read on.
   */
  onData(listener: (chunk: Buffer) => void): Disposable {
    const fd = this._pty.fd;
    return this._pty.onData((first) => {
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
    return this._pty.onExit(listener);
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
    const { fd, stream: socket } = this._pty;
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
    if (this._exitStatus === undefined && this._pty.stream?.destroyed === false) {
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

  close(): void {
    clearTimeout(this._retry);
    this._input.length = 0;
    this._inputOffset = 0;
    const stream = this._pty.stream;
    if (stream !== undefined && !stream.destroyed) {
      stream.destroy(); // drained first (_drainOnExit), so a recording gets the last output
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

/** node-pty's UnixTerminal, seen through the fields this module reaches into. */
interface NodePtyInternals {
  readonly _fd?: number;
  readonly _socket?: PtyStream;
}

/** A shell that node-pty forked (where the spawner cannot run). */
function nodePtyShell(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
  cwd: string,
): Pty {
  let pty: nodePty.IPty;
  try {
    pty = nodePty.spawn(file, [...args], {
      name: options.env.TERM ?? 'xterm-256color',
      cols: options.cols,
      rows: options.rows,
      cwd,
      env: options.env,
      encoding: null,
    });
  } catch (error) {
    throw diagnoseOpenFailure(error, 'cannot start the shell'); // `forkpty(3) failed.`
  }
  const internals = pty as unknown as NodePtyInternals;
  // The server's own child, which node-pty reaps only after it exits: read at once, this is it.
  const startTime = readProcessQuietly(pty.pid)?.startTime;
  let heldProof = startTime === undefined ? undefined : readPidClockQuietly();
  // node-pty reports the exit once it has reaped the shell: read as soon as it says so (a jobs'
  // session still holds the number; the milliseconds since the reaping are this path's residue).
  pty.onExit(() => {
    if (heldProof !== undefined) heldProof = readPidClockQuietly() ?? heldProof;
  });
  return {
    pid: pty.pid,
    startTime,
    get heldProof() {
      return heldProof;
    },
    fd: internals._fd,
    stream: internals._socket,
    // With `encoding: null` node-pty hands out Buffers; its typings only say string.
    onData: (listener) => pty.onData((data) => listener(data as unknown as Buffer)),
    onExit: (listener) =>
      pty.onExit(({ exitCode, signal }) => listener(toExitStatus(exitCode, signal))),
    resize: (cols, rows) => pty.resize(cols, rows),
    pause: () => pty.pause(),
    resume: () => pty.resume(),
  };
}

/** node-pty's native module: `open` makes a pty without forking, `resize` sets its size. */
interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
  resize(fd: number, cols: number, rows: number, xPixels: number, yPixels: number): void;
}

let nativePty: NativePty | undefined;

function loadNativePty(): NativePty {
  // HACK: node-pty exports only spawn(); its native open() and resize() are what we need here.
  const require = createRequire(import.meta.url);
  const utils = require('node-pty/lib/utils.js') as {
    loadNativeModule(name: string): { module: NativePty };
  };
  return (nativePty ??= utils.loadNativeModule('pty').module);
}

/** After the shell's exit, how long the pty may still deliver output before it is read out. */
const EXIT_DRAIN_MS = 200;

/**
 * A pty the server opened, with a shell the spawner started on it. Its exit fires once both the
 * spawner reported the status and the master reached its end (EIO, or 200 ms after the exit
 * when a job still holds the terminal: as node-pty does).
 */
class SpawnedPty implements Pty {
  pid = -1;
  startTime: number | undefined;
  heldProof: PidClock | undefined;
  readonly fd: number;
  readonly stream: tty.ReadStream;
  private _status: ExitStatus | undefined;
  private _ended = false;
  private readonly _exitListeners = new Set<(status: ExitStatus) => void>();

  constructor(
    master: number,
    private readonly _native: NativePty,
  ) {
    this.fd = master;
    this.stream = new tty.ReadStream(master);
    this.stream.on('error', () => {
      // EIO: the shell's side is closed; the stream ends and closes
    });
    this.stream.on('close', () => {
      this._ended = true;
      this._emitExit();
    });
  }

  /** The spawner's report, with its counters read just before it reaped the shell; once. */
  exited(status: ExitStatus, held: PidClock | undefined): void {
    this._status = status;
    this.heldProof = held ?? this.heldProof;
    // A status lost with the spawner comes while the shell may still run: wait for its end.
    if (!this._ended && status !== UNKNOWN_EXIT) {
      setTimeout(() => this.stream.destroy(), EXIT_DRAIN_MS);
    }
    this._emitExit();
  }

  private _emitExit(): void {
    if (this._ended && this._status !== undefined) {
      const status = this._status;
      for (const listener of this._exitListeners) {
        listener(status);
      }
      this._exitListeners.clear();
    }
  }

  onData(listener: (chunk: Buffer) => void): Disposable {
    this.stream.on('data', listener);
    return { dispose: () => this.stream.off('data', listener) };
  }

  onExit(listener: (status: ExitStatus) => void): Disposable {
    this._exitListeners.add(listener);
    return { dispose: () => this._exitListeners.delete(listener) };
  }

  resize(cols: number, rows: number): void {
    this._native.resize(this.fd, cols, rows, 0, 0);
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }
}

/** A shell the spawner started on a pty opened here (docs/spawner.md). */
async function spawnedShell(
  spawner: NonNullable<typeof shellSpawner>,
  command: readonly string[],
  options: SpawnOptions,
  cwd: string,
): Promise<Pty> {
  const native = loadNativePty();
  const { master, slave, pty: tty } = openPty(native, options.cols, options.rows);
  const pty = new SpawnedPty(master, native);
  // As node-pty does: the shell learns its directory and terminal type from these.
  const env = { ...options.env, PWD: cwd, TERM: options.env.TERM ?? 'xterm-256color' };
  try {
    const started = await spawner.spawn(
      { tty, cwd, argv: command, env },
      (status, held) => pty.exited(status, held),
      { signal: options.signal, log: options.log },
    );
    pty.pid = started.pid;
    pty.startTime = started.startTime;
    pty.heldProof = started.held;
  } catch (error) {
    pty.stream.destroy();
    throw error;
  } finally {
    // The shell holds its own descriptor of the terminal now (or there is no shell).
    closeSync(slave);
  }
  return pty;
}

/** What a new shell needs: the pty's master and slave. */
const PTY_DESCRIPTORS = 2;
/**
 * Descriptors kept free after a shell starts: so that the next client can still be accepted
 * and told why it gets no shell, a recording file opened, the spawner restarted (2 pipes, plus
 * 2 while it starts) and /proc scanned by termination (a directory and a file at a time). A
 * server that let shells take its last descriptors refused the next clients in silence (libuv
 * accepts and closes them) and scanned /proc blind.
 */
export const DESCRIPTOR_HEADROOM = 8;

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** This process's soft limit on descriptors, from /proc/self/limits (undefined elsewhere). */
function descriptorLimit(): string | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'latin1');
    return /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  } catch {
    return undefined;
  }
}

function outOfDescriptors(code: 'EMFILE' | 'ENFILE'): ResourceLimitError {
  if (code === 'ENFILE') {
    return new ResourceLimitError(
      'the system is out of file descriptors (fs.file-max); try again later',
      'ENFILE',
    );
  }
  const limit = descriptorLimit();
  // Short: it ends the close reason too, which holds 123 bytes.
  return new ResourceLimitError(
    `out of file descriptors (limit ${limit ?? 'unknown'}); raise ulimit -n or LimitNOFILE=`,
    'EMFILE',
  );
}

/**
 * Refuses a start unless a pty and the headroom can still be opened: probes that many
 * descriptors (microseconds) rather than counting /proc/self/fd (milliseconds at thousands).
 */
function checkDescriptors(): void {
  const probes: number[] = [];
  let refused: 'EMFILE' | 'ENFILE' | undefined;
  try {
    while (probes.length < PTY_DESCRIPTORS + DESCRIPTOR_HEADROOM) {
      probes.push(openSync('/dev/null', 'r'));
    }
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EMFILE' || code === 'ENFILE') refused = code;
    // Anything else (no /dev/null in a chroot): no verdict, the open itself will tell.
  } finally {
    for (const fd of probes) closeSync(fd);
  }
  if (refused !== undefined) {
    throw outOfDescriptors(refused);
  }
}

/** /proc/sys/kernel/pty/nr and max: whether the system's pool of ptys is used up. */
function ptyPoolExhausted(): string | undefined {
  try {
    const used = Number(readFileSync('/proc/sys/kernel/pty/nr', 'latin1'));
    const max = Number(readFileSync('/proc/sys/kernel/pty/max', 'latin1'));
    return used >= max ? `${max}` : undefined;
  } catch {
    return undefined;
  }
}

/** node-pty's open, whose error says only `openpty(3) failed.`: the reason found, if any. */
function openPty(
  native: NativePty,
  cols: number,
  rows: number,
): { master: number; slave: number; pty: string } {
  try {
    return native.open(cols, rows);
  } catch (error) {
    throw diagnoseOpenFailure(error, 'cannot open a pseudo-terminal');
  }
}

function diagnoseOpenFailure(error: unknown, what: string): Error {
  try {
    checkDescriptors();
  } catch (limit) {
    return limit as Error;
  }
  const max = ptyPoolExhausted();
  if (max !== undefined) {
    return new ResourceLimitError(
      `no pseudo-terminal left: the system's ${max} are in use (kernel.pty.max)`,
      'PTY',
    );
  }
  return new Error(`${what}: ${(error as Error).message}`);
}

function readProcessQuietly(pid: number): ReturnType<typeof readProcess> {
  try {
    return readProcess(pid);
  } catch {
    return undefined;
  }
}

function readPidClockQuietly(): PidClock | undefined {
  try {
    return readPidClock();
  } catch {
    return undefined;
  }
}

/** Why node-pty forks here, logged once per process (a spawner that broke: once more). */
let loggedFallback: string | undefined;

function logFallback(log: Logger | undefined, reason: string): void {
  if (log === undefined || loggedFallback === reason) {
    return;
  }
  loggedFallback = reason;
  const fields = { reason, platform: process.platform };
  const message =
    'shells are forked by node-pty, not by the spawner: ' +
    `${reason} (the server forks itself for each shell; see docs/spawner.md)`;
  if (process.platform === 'linux') {
    log.warn(fields, message);
  } else {
    log.info(fields, message);
  }
}

/** Starts `command` on a new pty, as the leader of a new session. Rejects when it cannot. */
export async function spawnShell(
  command: readonly string[],
  options: SpawnOptions,
): Promise<ShellProcess> {
  const [file, ...args] = command;
  if (file === undefined) {
    throw new TypeError('the shell command must not be empty');
  }
  const cwd = options.cwd ?? (isDirectory(options.env.HOME ?? '') ? options.env.HOME : undefined);
  const workingDirectory = cwd ?? process.cwd();
  checkSpawnable(file, options.env.PATH, workingDirectory);
  checkDescriptors();
  const spawner = options.forkServer === true ? undefined : shellSpawner;
  if (options.forkServer !== true && (spawner === undefined || spawner.broken !== undefined)) {
    logFallback(options.log, spawner?.broken ?? spawnerUnavailableReason ?? 'unknown');
  }
  const pty =
    spawner !== undefined && spawner.broken === undefined
      ? await spawnedShell(spawner, command, options, workingDirectory)
      : nodePtyShell(file, args, options, workingDirectory);
  return new PtyShellProcess(command, pty);
}
