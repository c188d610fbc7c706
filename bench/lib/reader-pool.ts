// The parent's handle on a reader pool child (bench/lib/reader-child.ts): pages attached to a
// session in a process of their own. Closing closes its pages and waits for it to exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReaderPayload, ReaderReply, ReaderRequest, ReaderTrace } from './reader-protocol.js';

const CHILD = fileURLToPath(new URL('./reader-child.ts', import.meta.url));

/** Distributes a request type over the union, so each literal keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The monotonic clock in milliseconds, as the pool stamps its traces. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class ReaderPool {
  private _nextId = 1;
  private readonly _waiting = new Map<number, (reply: ReaderReply) => void>();
  private _closed = false;
  private readonly _exited: Promise<void>;

  private constructor(private readonly _child: ChildProcess) {
    _child.on('message', (reply: ReaderReply) => {
      if ('id' in reply) {
        const resolve = this._waiting.get(reply.id);
        this._waiting.delete(reply.id);
        resolve?.(reply);
      }
    });
    this._exited = new Promise((resolve) => {
      if (_child.exitCode !== null || _child.signalCode !== null) {
        resolve();
      } else {
        _child.once('exit', () => resolve());
      }
    });
  }

  static async start(): Promise<ReaderPool> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the reader pool did not start in 30 s'));
      }, 30_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the reader pool exited (${code}) before it started`));
      });
    });
    return new ReaderPool(child);
  }

  get pid(): number {
    return this._child.pid ?? 0;
  }

  private _request(request: WithoutId<ReaderRequest>, timeoutMs = 90_000): Promise<ReaderReply> {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiting.delete(id);
        reject(new Error(`the reader pool did not answer '${request.type}' in ${timeoutMs} ms`));
      }, timeoutMs);
      this._waiting.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.type === 'error') {
          reject(new Error(`reader pool: ${reply.message}`));
        } else {
          resolve(reply);
        }
      });
      this._child.send({ ...request, id });
    });
  }

  /** `count` pages join session `sessionId` (hello attach) and acknowledge what they read. */
  async attach(url: string, credential: string, sessionId: string, count: number): Promise<void> {
    await this._request({ type: 'attach', url, credential, sessionId, count });
  }

  /** Every page frames the next payload between `begin` and `end`; call before it is sent. */
  async arm(begin: string, end: string): Promise<void> {
    await this._request({ type: 'arm', begin, end });
  }

  /** Waits until every page has the armed payload's end; its bytes, hash and time, per page. */
  async collect(timeoutMs: number): Promise<ReaderPayload[]> {
    const reply = await this._request({ type: 'collect', timeoutMs }, timeoutMs + 10_000);
    return reply.type === 'payloads' ? reply.payloads : [];
  }

  /** Starts (or stops) recording when each page got each chunk. */
  async trace(on: boolean): Promise<void> {
    await this._request({ type: 'trace', on });
  }

  /** What was recorded since the last call, per page. */
  async traces(): Promise<ReaderTrace[]> {
    const reply = await this._request({ type: 'traces' });
    return reply.type === 'traces' ? reply.traces : [];
  }

  /** Stops reading the pages' sockets (the server still sends to them); closing reads again. */
  async pause(): Promise<void> {
    await this._request({ type: 'pause' });
  }

  /** Closes the pool's pages (1000), keeping the process for the next session. */
  async closePages(): Promise<void> {
    await this._request({ type: 'close' }, 30_000);
  }

  /** Closes every page and waits for the process to exit (SIGKILL after 10 s). */
  async close(): Promise<void> {
    if (this._closed) {
      return;
    }
    this._closed = true;
    try {
      await this.closePages();
    } catch {
      // it is ended below either way
    }
    if (this._child.connected) {
      this._child.disconnect();
    }
    const timer = setTimeout(() => this._child.kill('SIGKILL'), 10_000);
    await this._exited;
    clearTimeout(timer);
  }
}
