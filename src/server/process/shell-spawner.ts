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
import { toExitStatus } from './exit-status.js';

/** Same place relative to src/server and dist/server. */
const SCRIPT = fileURLToPath(new URL('../../../libexec/shell-spawner.pl', import.meta.url));
const PERL = '/usr/bin/perl';
/** With no shell left, the spawner lingers this long for the next one before it is ended. */
const LINGER_MS = 1000;

export interface SpawnRequest {
  /** The pty's slave path, `/dev/pts/N`. */
  readonly tty: string;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

interface Pending {
  resolve(pid: number): void;
  reject(error: Error): void;
}

/** An exit status the spawner could not report (it died first). */
export const UNKNOWN_EXIT: ExitStatus = Object.freeze({ code: null, signal: null });

function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

class ShellSpawner {
  private _child: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private _nextId = 1;
  private _received = '';
  private readonly _pending = new Map<number, Pending>();
  private readonly _exitListeners = new Map<number, (status: ExitStatus) => void>();
  private _lingerTimer: NodeJS.Timeout | undefined;
  /** Whether the current spawner has answered at all: one that dies first cannot run here. */
  private _answered = false;
  /** Set once a spawner died before answering (no /proc, a broken perl): fork with node-pty. */
  broken = false;

  /** Starts `argv` on the pty at `request.tty`; resolves with its pid. */
  spawn(request: SpawnRequest, onExit: (status: ExitStatus) => void): Promise<number> {
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
    return new Promise<number>((resolve, reject) => {
      this._pending.set(id, {
        resolve: (pid) => {
          this._exitListeners.set(pid, onExit);
          resolve(pid);
        },
        reject,
      });
      child.stdin.write(`${line}\n`);
    });
  }

  private _ensureChild(): ChildProcessByStdio<Writable, Readable, null> {
    if (this._child !== undefined) {
      return this._child;
    }
    // Its own process group: a Ctrl+C at the server's terminal must not reach it.
    const child = spawn(PERL, [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this._child = child;
    this._answered = false;
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (text: string) => {
      if (this._child === child) this._onOutput(text);
    });
    child.stdin.on('error', () => {
      // EPIPE when it died: its 'exit' reports that
    });
    child.on('error', (error) => this._onGone(child, `shell spawner: ${error.message}`));
    child.on('exit', (code, signal) =>
      this._onGone(child, `shell spawner exited (${signal ?? `code ${code}`})`),
    );
    // Only a spawner with work (a start pending, a shell running) holds the event loop.
    child.unref();
    (child.stdin as Writable & { unref?(): void }).unref?.();
    return child;
  }

  private _onOutput(text: string): void {
    this._received += text;
    let end: number;
    while ((end = this._received.indexOf('\n')) >= 0) {
      const [type, first, second, third] = this._received.slice(0, end).split(' ');
      this._received = this._received.slice(end + 1);
      this._answered = true;
      if (type === 'P' || type === 'E') {
        const pending = this._pending.get(Number(first));
        this._pending.delete(Number(first));
        if (type === 'P') {
          pending?.resolve(Number(second));
        } else {
          pending?.reject(new Error(Buffer.from(second ?? '', 'hex').toString('utf8')));
        }
      } else if (type === 'X') {
        const pid = Number(first);
        const listener = this._exitListeners.get(pid);
        this._exitListeners.delete(pid);
        // `X pid code -` or `X pid - signal`
        listener?.(
          toExitStatus(Number(second === '-' ? 0 : second), Number(third === '-' ? 0 : third)),
        );
      }
    }
    this._lingerIfIdle();
  }

  private _holdEventLoop(
    child: ChildProcessByStdio<Writable, Readable, null>,
    hold: boolean,
  ): void {
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

  private _onGone(child: ChildProcessByStdio<Writable, Readable, null>, reason: string): void {
    if (this._child !== child) {
      return; // one that lingered and was ended, or a second report of the same end
    }
    this._child = undefined;
    this._received = '';
    if (!this._answered) {
      this.broken = true;
      reason += '; later shells are forked by node-pty';
    }
    for (const pending of this._pending.values()) {
      pending.reject(new Error(reason));
    }
    this._pending.clear();
    // Shells it started live on, but their statuses are lost with it.
    for (const listener of this._exitListeners.values()) {
      listener(UNKNOWN_EXIT);
    }
    this._exitListeners.clear();
  }
}

/** The process-wide spawner, or undefined where it cannot run (not Linux, no perl). */
export const shellSpawner: ShellSpawner | undefined =
  process.platform === 'linux' && existsSync(PERL) && existsSync(SCRIPT)
    ? new ShellSpawner()
    : undefined;
