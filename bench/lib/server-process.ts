// The parent's handle on a server child: start, stats, RSS and fds from /proc, and close.
// Closing ends every shell first and leaves no process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildReply, ChildServerOptions, ChildStats } from './server-protocol.js';

/** A built checkout whose server (dist/server) and page (dist/client) are measured. */
export interface Build {
  /** '' for this checkout, e.g. ' @base' for the A/B baseline. */
  readonly label: string;
  readonly root: string;
}

const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));

/** Extra node flags for every server child, e.g. `--cpu-prof --cpu-prof-dir=.bench/prof`. */
let childNodeFlags: string[] = [];

export function setServerNodeFlags(flags: readonly string[]): void {
  childNodeFlags = [...flags];
}

export interface StartOptions {
  readonly build: Build;
  readonly options: ChildServerOptions;
  /** The server process's own environment (its shells inherit it). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export class ServerProcess {
  private _nextId = 1;
  private readonly _waiting = new Map<number, (reply: ChildReply) => void>();
  private _stderr = '';
  private _closed = false;

  private constructor(
    private readonly _child: ChildProcess,
    readonly port: number,
    readonly token: string,
  ) {
    _child.on('message', (reply: ChildReply) => {
      if ('id' in reply) {
        const resolve = this._waiting.get(reply.id);
        this._waiting.delete(reply.id);
        resolve?.(reply);
      }
    });
    _child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this._stderr = (this._stderr + text).slice(-20_000);
    });
  }

  static async start(start: StartOptions): Promise<ServerProcess> {
    const config: ChildConfig = {
      serverModule: join(start.build.root, 'dist/server/index.js'),
      clientDir: join(start.build.root, 'dist/client'),
      options: start.options,
    };
    const child = spawn(
      process.execPath,
      [...childNodeFlags, '--expose-gc', '--import', 'tsx', CHILD, JSON.stringify(config)],
      { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: start.env ?? process.env },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const listening = await new Promise<{ port: number; token: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the server child did not start in 30 s: ${stderr}`));
      }, 30_000);
      child.on('message', (reply: ChildReply) => {
        if (reply.type === 'listening') {
          clearTimeout(timer);
          resolve(reply);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server child exited (${code}) before listening: ${stderr}`));
      });
    });
    return new ServerProcess(child, listening.port, listening.token);
  }

  get pid(): number {
    return this._child.pid ?? 0;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** The last warnings and errors the server logged. */
  get stderr(): string {
    return this._stderr;
  }

  private _request(type: 'stats' | 'gc' | 'reset-loop' | 'close'): Promise<ChildReply> {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiting.delete(id);
        reject(new Error(`the server child did not answer '${type}' in 300 s`));
      }, 300_000);
      this._waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this._child.send({ type, id });
    });
  }

  async stats(): Promise<ChildStats> {
    return (await this._request('stats')) as ChildStats;
  }

  async gc(): Promise<void> {
    await this._request('gc');
  }

  async resetLoop(): Promise<void> {
    await this._request('reset-loop');
  }

  /** Resident set size of the server process, in bytes, from /proc/PID/status (VmRSS). */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return Number(kb ?? Number.NaN) * 1024;
  }

  /** Open descriptors of the server process, from /proc/PID/fd. */
  fds(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  /** Waits until the server serves no connection (its shells were terminated). */
  async waitIdle(timeoutMs = 60_000): Promise<number> {
    const start = performance.now();
    for (;;) {
      const stats = await this.stats();
      if (stats.connections === 0) {
        return performance.now() - start;
      }
      if (performance.now() - start > timeoutMs) {
        throw new Error(
          `the server still has ${stats.connections} connections after ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Closes the server (every shell terminated) and waits for the process to exit. */
  async close(): Promise<void> {
    if (this._closed) {
      return;
    }
    this._closed = true;
    const exited = new Promise<void>((resolve) => {
      if (this._child.exitCode !== null || this._child.signalCode !== null) {
        resolve();
      } else {
        this._child.once('exit', () => resolve());
      }
    });
    let deadline: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this._request('close'),
        new Promise((_, reject) => {
          deadline = setTimeout(() => reject(new Error('close timed out')), 30_000);
        }),
      ]);
    } catch {
      this._child.kill('SIGKILL');
    } finally {
      clearTimeout(deadline); // else the bench lingers 30 s after its table
    }
    const timer = setTimeout(() => this._child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
