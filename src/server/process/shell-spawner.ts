/**
 * The spawner: a small Perl process that forks shells onto ptys the server opened, so that the
 * large Node.js process never forks (fork copies its page tables, synchronously, on the main
 * thread). One per server process, started with the first shell and ended a second after the
 * last. Protocol and reasons: docs/spawner.md and libexec/shell-spawner.pl.
 * @module
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { ExitStatus } from '../../protocol/v1.js';
import type { Logger } from '../logger.js';
import { toExitStatus } from './exit-status.js';
import type { PidClock } from './process-table.js';

/** Same place relative to src/server and dist/server. */
const SCRIPT = fileURLToPath(new URL('../../../libexec/shell-spawner.pl', import.meta.url));
const PERL = '/usr/bin/perl';
/** With no shell left, the spawner lingers this long for the next one before it is ended. */
const LINGER_MS = 1000;
/**
 * A spawner that says nothing for this long while a start waits is taken for stopped (SIGSTOP,
 * a debugger) or wedged: it is killed, the waiting starts fail, and the next start launches a
 * new one. It answers a start within milliseconds (a fork of a few-MiB Perl, then one line), and
 * in a burst of a thousand starts it answers continuously, so what is timed is its silence, not
 * how long a start waited in its queue. 5 s: the default auth timeout, far above any answer
 * measured under load, and short enough that a page does not sit at "connecting" for long.
 */
export const REPLY_TIMEOUT_MS = 5000;
/** Once a waiting start is aborted (the server shuts down), the spawner's silence is cut here. */
export const ABORTED_REPLY_TIMEOUT_MS = 500;
/** A reply line is short; this much without a newline is no reply. */
const MAX_LINE = 4096;

export interface SpawnRequest {
  /** The pty's slave path, `/dev/pts/N`. */
  readonly tty: string;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** What the spawner says of a shell it started. */
export interface Started {
  readonly pid: number;
  /** Clock ticks since boot, read by the spawner before it could reap the shell. */
  readonly startTime: number | undefined;
  /** The allocator's counters while the shell's pid was certainly its own. */
  readonly held: PidClock | undefined;
}

interface Pending {
  resolve(started: Started): void;
  reject(error: Error): void;
  aborted: boolean;
}

/** An exit status the spawner could not report (it died first). */
export const UNKNOWN_EXIT: ExitStatus = Object.freeze({ code: null, signal: null });

/** A shell's exit, with the counters read just before it was reaped (undefined: unknown). */
export type ExitListener = (status: ExitStatus, held: PidClock | undefined) => void;

function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

/** A reply of the spawner, or the reason it is none. */
export type Reply =
  | { readonly type: 'P'; readonly id: number; readonly started: Started }
  | { readonly type: 'E'; readonly id: number; readonly message: string }
  | {
      readonly type: 'X';
      readonly pid: number;
      readonly status: ExitStatus;
      readonly held: PidClock | undefined;
    }
  | { readonly type: 'malformed'; readonly why: string };

const WHOLE = /^(0|[1-9]\d{0,15})$/;

function whole(field: string | undefined): number | undefined {
  if (field === undefined || !WHOLE.test(field)) return undefined;
  const value = Number(field);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** `AT FORKS LASTPID TASKS` or `- - - -`; null when it is neither. */
function parseHeld(fields: readonly string[]): PidClock | undefined | null {
  if (fields.length !== 4) return null;
  if (fields.every((field) => field === '-')) return undefined;
  const [at, forks, lastPid, tasks] = fields.map(whole);
  if (at === undefined || forks === undefined || lastPid === undefined || tasks === undefined) {
    return null;
  }
  return { at, forks, lastPid, tasks };
}

/**
 * Parses one line of the spawner's output. Anything but the three replies, with every field in
 * its form, is malformed: a spawner that says something else cannot be trusted with shells.
 */
export function parseReply(line: string): Reply {
  const fields = line.split(' ');
  const malformed = (why: string): Reply => ({ type: 'malformed', why });
  switch (fields[0]) {
    case 'P': {
      const [id, pid] = [whole(fields[1]), whole(fields[2])];
      const startTime = fields[3] === '-' ? undefined : whole(fields[3]);
      const held = parseHeld(fields.slice(4));
      if (fields.length !== 8 || id === undefined || pid === undefined || pid < 2) {
        return malformed('a start reply needs an id and a pid');
      }
      if ((fields[3] !== '-' && startTime === undefined) || held === null) {
        return malformed('a start reply needs a start time and the pid counters');
      }
      return { type: 'P', id, started: { pid, startTime, held } };
    }
    case 'E': {
      const id = whole(fields[1]);
      const text = fields[2] ?? '';
      if (fields.length !== 3 || id === undefined || !/^([0-9a-f]{2})*$/.test(text)) {
        return malformed('an error reply needs an id and a hex message');
      }
      return { type: 'E', id, message: Buffer.from(text, 'hex').toString('utf8') };
    }
    case 'X': {
      const pid = whole(fields[1]);
      const [code, signal] = [whole(fields[2]), whole(fields[3])];
      const held = parseHeld(fields.slice(4));
      // `X pid code -` or `X pid - signal`
      const exactlyOne =
        (code !== undefined && fields[3] === '-') || (fields[2] === '-' && signal !== undefined);
      if (fields.length !== 8 || pid === undefined || !exactlyOne || held === null) {
        return malformed('an exit reply needs a pid, a code or a signal, and the pid counters');
      }
      return { type: 'X', pid, status: toExitStatus(code ?? 0, signal ?? 0), held };
    }
    default:
      return malformed('not a reply the spawner sends');
  }
}

/**
 * Why shells are forked by node-pty here instead of the spawner, or undefined when the spawner
 * can run. Exported with its inputs for the tests.
 */
export function spawnerUnavailable(
  platform: NodeJS.Platform,
  perlExists: boolean,
  scriptExists: boolean,
): string | undefined {
  if (platform !== 'linux') return `not Linux (${platform})`;
  if (!perlExists) return `${PERL} is missing (Debian's perl-base)`;
  if (!scriptExists) return `${SCRIPT} is missing`;
  return undefined;
}

type Child = ChildProcessByStdio<Writable, Readable, null>;

export interface ShellSpawnerOptions {
  /**
   * The program and arguments that speak the protocol. @default perl and shell-spawner.pl;
   * tests give a program that misbehaves.
   */
  readonly command?: readonly [string, ...string[]];
}

export class ShellSpawner {
  private _child: Child | undefined;
  private _nextId = 1;
  private _received = '';
  private readonly _pending = new Map<number, Pending>();
  private readonly _exitListeners = new Map<number, ExitListener>();
  private _lingerTimer: NodeJS.Timeout | undefined;
  private _silenceTimer: NodeJS.Timeout | undefined;
  private _silenceDeadline = 0;
  /** Whether the current spawner has answered at all: one that dies first cannot run here. */
  private _answered = false;
  /** The last logger a start brought: the spawner's own failures are logged there. */
  private _log: Logger | undefined;
  /**
   * Set once a spawner exited by itself before answering anything (a broken perl, no /proc):
   * it cannot run on this machine, and node-pty forks from then on. The reason.
   */
  broken: string | undefined;
  private readonly _command: readonly [string, ...string[]];

  constructor(options: ShellSpawnerOptions = {}) {
    this._command = options.command ?? [PERL, SCRIPT];
  }

  /** The running spawner's pid (for diagnostics and tests). */
  get pid(): number | undefined {
    return this._child?.pid;
  }

  /**
   * Starts `argv` on the pty at `request.tty`; resolves with its pid and start time. Rejects
   * when the spawner fails, dies, stays silent for REPLY_TIMEOUT_MS, or, once `signal` aborted,
   * for ABORTED_REPLY_TIMEOUT_MS.
   */
  spawn(
    request: SpawnRequest,
    onExit: ExitListener,
    options: { readonly signal?: AbortSignal | undefined; readonly log?: Logger | undefined } = {},
  ): Promise<Started> {
    this._log = options.log ?? this._log;
    clearTimeout(this._lingerTimer);
    const child = this._ensureChild();
    const id = this._nextId++;
    const env = Object.entries(request.env).map(([name, value]) => `${name}=${value}`);
    const line = [
      'S',
      id,
      hex(request.tty),
      hex(request.cwd),
      hex(request.argv.join('\0')),
      hex(env.join('\0')),
    ].join(' ');
    this._holdEventLoop(child, true);
    return new Promise<Started>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = (): void => {
        const pending = this._pending.get(id);
        if (pending !== undefined && this._child === child) {
          pending.aborted = true;
          this._watchSilence(child, ABORTED_REPLY_TIMEOUT_MS);
        }
      };
      const settle = (): void => signal?.removeEventListener('abort', onAbort);
      this._pending.set(id, {
        resolve: (started) => {
          settle();
          this._exitListeners.set(started.pid, onExit);
          resolve(started);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        aborted: false,
      });
      child.stdin.write(`${line}\n`);
      this._watchSilence(child, REPLY_TIMEOUT_MS);
      if (signal?.aborted === true) {
        onAbort();
      } else {
        signal?.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  private _ensureChild(): Child {
    if (this._child !== undefined) {
      return this._child;
    }
    // Its own process group: a Ctrl+C at the server's terminal must not reach it.
    const [program, ...args] = this._command;
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this._child = child;
    this._answered = false;
    this._received = '';
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (text: string) => {
      if (this._child === child) this._onOutput(child, text);
    });
    child.stdin.on('error', () => {
      // EPIPE when it died: its 'exit' reports that
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      // ENOENT, EACCES: perl cannot run here; EMFILE, EAGAIN: not now, the next start retries.
      const lasting = error.code === 'ENOENT' || error.code === 'EACCES';
      this._onGone(child, `shell spawner: ${error.message}`, lasting);
    });
    child.on('exit', (code, signal) =>
      // Killed (a signal): it could run, someone ended it. Exited by itself before any answer:
      // a broken perl, no /proc; it would do the same next time.
      this._onGone(child, `shell spawner exited (${signal ?? `code ${code}`})`, signal === null),
    );
    // Only a spawner with work (a start pending, a shell running) holds the event loop.
    child.unref();
    (child.stdin as Writable & { unref?(): void }).unref?.();
    return child;
  }

  private _onOutput(child: Child, text: string): void {
    this._received += text;
    let end: number;
    while ((end = this._received.indexOf('\n')) >= 0) {
      const line = this._received.slice(0, end);
      this._received = this._received.slice(end + 1);
      if (!this._onReply(child, line)) {
        return; // the spawner was failed; what follows is not read
      }
    }
    if (this._received.length > MAX_LINE) {
      this._fail(child, 'the shell spawner sent a reply line too long to be one', true);
      return;
    }
    if (this._pending.size > 0) {
      // It spoke: its silence is timed afresh (shortened while an aborted start waits).
      const aborted = [...this._pending.values()].some((pending) => pending.aborted);
      this._watchSilence(child, aborted ? ABORTED_REPLY_TIMEOUT_MS : REPLY_TIMEOUT_MS, true);
    } else {
      this._stopWatchingSilence();
    }
    this._lingerIfIdle();
  }

  /** Acts on one reply line; false when it was malformed and the spawner was failed. */
  private _onReply(child: Child, line: string): boolean {
    const reply = parseReply(line);
    if (reply.type === 'malformed') {
      const shown = JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
      this._fail(child, `the shell spawner sent a malformed reply (${reply.why}): ${shown}`, true);
      return false;
    }
    if (reply.type === 'X') {
      const listener = this._exitListeners.get(reply.pid);
      if (listener === undefined) {
        this._fail(
          child,
          `the shell spawner reported the exit of an unknown pid ${reply.pid}`,
          true,
        );
        return false;
      }
      this._answered = true;
      this._exitListeners.delete(reply.pid);
      listener(reply.status, reply.held);
      return true;
    }
    const pending = this._pending.get(reply.id);
    if (pending === undefined) {
      this._fail(child, `the shell spawner answered a start it was not asked (${reply.id})`, true);
      return false;
    }
    this._answered = true;
    this._pending.delete(reply.id);
    if (reply.type === 'P') {
      pending.resolve(reply.started);
    } else {
      pending.reject(new Error(reply.message));
    }
    return true;
  }

  /**
   * Fails the spawner if it says nothing within `ms` while starts wait. An earlier deadline is
   * kept unless `renew` (it has just spoken).
   */
  private _watchSilence(child: Child, ms: number, renew = false): void {
    const deadline = Date.now() + ms;
    if (!renew && this._silenceTimer !== undefined && this._silenceDeadline <= deadline) {
      return;
    }
    clearTimeout(this._silenceTimer);
    this._silenceDeadline = deadline;
    this._silenceTimer = setTimeout(() => {
      this._silenceTimer = undefined;
      if (this._child === child && this._pending.size > 0) {
        const seconds = Math.round(ms / 100) / 10;
        this._fail(
          child,
          `the shell spawner did not answer for ${seconds} s (stopped, or the machine is ` +
            'overloaded); it was ended, and the next shell starts a new one',
          true,
        );
      }
    }, ms);
    this._silenceTimer.unref();
  }

  private _stopWatchingSilence(): void {
    clearTimeout(this._silenceTimer);
    this._silenceTimer = undefined;
  }

  private _holdEventLoop(child: Child, hold: boolean): void {
    const stdout = child.stdout as Readable & { ref?(): void; unref?(): void };
    if (hold) {
      stdout.ref?.();
    } else {
      stdout.unref?.();
    }
  }

  /** Ends the spawner (by closing its input) once nothing has needed it for a while. */
  private _lingerIfIdle(): void {
    if (this._pending.size > 0 || this._exitListeners.size > 0 || this._child === undefined) {
      return;
    }
    const child = this._child;
    this._holdEventLoop(child, false);
    clearTimeout(this._lingerTimer);
    this._lingerTimer = setTimeout(() => {
      if (this._child === child && this._pending.size === 0 && this._exitListeners.size === 0) {
        this._child = undefined;
        child.stdin.end();
      }
    }, LINGER_MS);
    this._lingerTimer.unref();
  }

  /**
   * A spawner that cannot be trusted any more (silent, or talking nonsense): SIGKILL to it (our
   * own child, by its pid; it ignores the others), so it never acts on a start already failed
   * here, whose pty may be another shell's by then. Its shells live on, their statuses lost.
   */
  private _fail(child: Child, reason: string, kill: boolean): void {
    if (this._child !== child) return;
    if (kill) {
      child.kill('SIGKILL');
    }
    this._log?.error({ spawnerPid: child.pid, err: reason }, 'shell spawner failed');
    this._onGone(child, reason, false);
  }

  private _onGone(child: Child, reason: string, lasting: boolean): void {
    if (this._child !== child) {
      return; // one that lingered and was ended, or a second report of the same end
    }
    this._child = undefined;
    this._received = '';
    this._stopWatchingSilence();
    if (!this._answered && lasting) {
      this.broken = reason;
      reason += '; later shells are forked by node-pty';
    }
    for (const pending of this._pending.values()) {
      pending.reject(new Error(reason));
    }
    this._pending.clear();
    // Shells it started live on, but their statuses are lost with it.
    for (const listener of this._exitListeners.values()) {
      listener(UNKNOWN_EXIT, undefined);
    }
    this._exitListeners.clear();
  }
}

/** Why the spawner is not used on this machine, or undefined when it is. */
export const spawnerUnavailableReason: string | undefined = spawnerUnavailable(
  process.platform,
  existsSync(PERL),
  existsSync(SCRIPT),
);

/** The process-wide spawner, or undefined where it cannot run (not Linux, no perl). */
export const shellSpawner: ShellSpawner | undefined =
  spawnerUnavailableReason === undefined ? new ShellSpawner() : undefined;
