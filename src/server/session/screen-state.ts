/**
 * Server-side screen state, the main thread's half: each session's output is handed, in order
 * and batched per event-loop turn, to one worker thread that keeps a headless terminal per
 * session (screen-worker.ts), which answers snapshots for pages that join or come back. The
 * bytes handed over and not yet parsed are a budget: a session over it is held (paused) until
 * the worker catches up, so the state stays exact and memory bounded. See docs/screen-state.md.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ScreenRecord, ScreenReply } from './screen-worker.js';

export interface ScreenStateOptions {
  /** Lines of the normal screen's scrollback a snapshot carries. @default 1000 */
  readonly scrollbackLines?: number;
}

export const DEFAULT_SCROLLBACK_LINES = 1000;
export const MAX_SCROLLBACK_LINES = 100_000;

/** What a page writes into a reset terminal of `cols` × `rows`, then OUTPUT from `offset`. */
export interface Snapshot {
  readonly offset: number;
  readonly cols: number;
  readonly rows: number;
  readonly data: Uint8Array;
  readonly dirty: boolean;
}

/** Counts for /metrics. */
export interface ScreenStateStats {
  readonly sent: number;
  readonly dirty: number;
  readonly failed: number;
  /** Seconds from request to reply, summed over the snapshots sent. */
  readonly seconds: number;
  /** Output handed to the worker and not yet parsed, in bytes. */
  readonly backlogBytes: number;
}

/** A session is held while its own backlog is over this… */
const SESSION_BUDGET_BYTES = 32 * 1024 * 1024;
/** …or the server's is over this and its own over QUIET_BYTES (a quiet shell is not held). */
const SERVER_BUDGET_BYTES = 64 * 1024 * 1024;
const QUIET_BYTES = 1024 * 1024;
/** A worker that has not answered a snapshot by then has failed it. */
const SNAPSHOT_TIMEOUT_MS = 10_000;

/**
 * The worker's module. Run from the TypeScript sources (the tests, under tsx), the server uses
 * the build's copy of it: loading tsx in a worker would start an esbuild process of its own.
 */
const BUILT_WORKER = new URL(
  import.meta.url.endsWith('.ts')
    ? '../../../dist/server/session/screen-worker.js'
    : './screen-worker.js',
  import.meta.url,
);

function startWorker(): Worker {
  if (!existsSync(BUILT_WORKER)) {
    throw new Error(`${fileURLToPath(BUILT_WORKER)} is missing: run npm run build`);
  }
  return new Worker(BUILT_WORKER);
}

type Queued =
  | {
      readonly kind: 'output';
      readonly state: ScreenState;
      readonly chunks: Buffer[];
      bytes: number;
    }
  | { readonly kind: 'record'; readonly record: ScreenRecord };

interface PendingSnapshot {
  readonly resolve: (snapshot: Snapshot | undefined) => void;
  readonly timer: NodeJS.Timeout;
  readonly startedAt: bigint;
}

/** One per session store: the worker, the queue to it and the budget. */
export class ScreenStateHost {
  readonly scrollbackLines: number;
  private _worker: Worker | undefined;
  private readonly _states = new Map<string, ScreenState>();
  private _queue: Queued[] = [];
  private _flushScheduled = false;
  private _backlog = 0;
  private readonly _pending = new Map<number, PendingSnapshot>();
  private _nextRequest = 1;
  private _stats = { sent: 0, dirty: 0, failed: 0, seconds: 0 };
  private _closed = false;
  private _ready: Promise<void> = Promise.resolve();
  private _becameReady: () => void = () => undefined;

  constructor(
    options: ScreenStateOptions = {},
    private readonly _onWorkerError: (message: string) => void = () => undefined,
  ) {
    const lines = options.scrollbackLines ?? DEFAULT_SCROLLBACK_LINES;
    if (!Number.isSafeInteger(lines) || lines < 0 || lines > MAX_SCROLLBACK_LINES) {
      throw new RangeError(
        `scrollbackLines must be a whole number from 0 to ${MAX_SCROLLBACK_LINES}`,
      );
    }
    this.scrollbackLines = lines;
  }

  /**
   * Starts the worker now rather than with the first session: a server does (its fixed cost
   * is then paid before anyone connects, and the first join does not wait for it).
   */
  start(): void {
    this._ensureWorker();
  }

  /** Settles once the worker has loaded (or failed to: its sessions then go without). */
  get ready(): Promise<void> {
    return this._ready;
  }

  get stats(): ScreenStateStats {
    return { ...this._stats, backlogBytes: this._backlog };
  }

  /** The state of a new session, before its first output byte. */
  open(id: string, cols: number, rows: number): ScreenState {
    const state = new ScreenState(this, id);
    if (this._closed) {
      state.lost = true;
      return state;
    }
    this._states.set(id, state);
    this._push({
      kind: 'record',
      record: { kind: 'open', id, cols, rows, scrollbackLines: this.scrollbackLines },
    });
    return state;
  }

  /** Stops the worker; the states it kept are lost. */
  async close(): Promise<void> {
    this._closed = true;
    const worker = this._worker;
    this._lose();
    await worker?.terminate();
  }

  /** @internal */
  output(state: ScreenState, chunk: Buffer): void {
    const last = this._queue.at(-1);
    if (last?.kind === 'output' && last.state === state) {
      last.chunks.push(chunk);
      last.bytes += chunk.length;
    } else {
      this._push({ kind: 'output', state, chunks: [chunk], bytes: chunk.length });
    }
    state.backlog += chunk.length;
    this._backlog += chunk.length;
    this._judge(state);
  }

  /** @internal */
  record(record: ScreenRecord): void {
    this._push({ kind: 'record', record });
    if (record.kind === 'close') {
      const state = this._states.get(record.id);
      if (state !== undefined) {
        this._states.delete(record.id);
        this._backlog -= state.backlog;
        state.backlog = 0;
      }
    }
  }

  /** @internal */
  snapshot(state: ScreenState): Promise<Snapshot | undefined> {
    const request = this._nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this._answered(request, undefined), SNAPSHOT_TIMEOUT_MS);
      this._pending.set(request, { resolve, timer, startedAt: process.hrtime.bigint() });
      this._push({ kind: 'record', record: { kind: 'snapshot', id: state.id, request } });
      this._flush(); // the request goes out now, behind every byte before it
    });
  }

  private _push(entry: Queued): void {
    this._queue.push(entry);
    if (!this._flushScheduled) {
      this._flushScheduled = true;
      // After this turn's sends to the viewers: the worker's copy is not on their path.
      setImmediate(() => this._flush());
    }
  }

  private _flush(): void {
    this._flushScheduled = false;
    const queue = this._queue;
    if (queue.length === 0) {
      return;
    }
    this._queue = [];
    const worker = this._ensureWorker();
    if (worker === undefined) {
      return;
    }
    const records: ScreenRecord[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const entry of queue) {
      if (entry.kind === 'record') {
        records.push(entry.record);
        continue;
      }
      if (entry.state.lost) {
        continue;
      }
      // One copy into memory of the worker's own, transferred: the chunks stay with the replay.
      const data = new Uint8Array(entry.bytes);
      let at = 0;
      for (const chunk of entry.chunks) {
        data.set(chunk, at);
        at += chunk.length;
      }
      records.push({ kind: 'output', id: entry.state.id, data });
      transfer.push(data.buffer);
    }
    worker.postMessage(records, transfer);
  }

  private _ensureWorker(): Worker | undefined {
    if (this._worker !== undefined || this._closed) {
      return this._worker;
    }
    let worker: Worker;
    try {
      worker = startWorker();
    } catch (error) {
      this._onWorkerError(error instanceof Error ? error.message : String(error));
      this._lose();
      return undefined;
    }
    this._ready = new Promise((resolve) => (this._becameReady = resolve));
    worker.unref(); // an idle server exits as before
    worker.on('message', (reply: ScreenReply) => this._reply(reply));
    worker.on('error', (error) => this._died(worker, error.message));
    worker.on('exit', (code) => this._died(worker, `exited with code ${code}`));
    this._worker = worker;
    return worker;
  }

  private _reply(reply: ScreenReply): void {
    switch (reply.kind) {
      case 'ready':
        this._becameReady();
        break;
      case 'parsed': {
        const state = this._states.get(reply.id);
        if (state !== undefined) {
          state.backlog -= reply.bytes;
          this._backlog -= reply.bytes;
          this._judge(state);
        }
        if (this._backlog < SERVER_BUDGET_BYTES / 2) {
          for (const held of this._states.values()) {
            if (held.held) this._judge(held);
          }
        }
        break;
      }
      case 'title': {
        const state = this._states.get(reply.id);
        if (state !== undefined) state.title = reply.title;
        break;
      }
      case 'snapshot': {
        const { request, offset, cols, rows, data, dirty } = reply;
        this._answered(request, { offset, cols, rows, data, dirty });
        break;
      }
      case 'snapshot-failed':
        this._answered(reply.request, undefined);
        break;
    }
  }

  private _answered(request: number, snapshot: Snapshot | undefined): void {
    const pending = this._pending.get(request);
    if (pending === undefined) {
      return; // timed out already
    }
    this._pending.delete(request);
    clearTimeout(pending.timer);
    if (snapshot === undefined) {
      this._stats.failed += 1;
    } else {
      this._stats.sent += 1;
      if (snapshot.dirty) this._stats.dirty += 1;
      this._stats.seconds += Number(process.hrtime.bigint() - pending.startedAt) / 1e9;
    }
    pending.resolve(snapshot);
  }

  /** Holds `state` over its budget, lets it go under half of it. */
  private _judge(state: ScreenState): void {
    const own = state.backlog;
    const hold = state.held
      ? own > SESSION_BUDGET_BYTES / 2 ||
        (this._backlog > SERVER_BUDGET_BYTES / 2 && own > QUIET_BYTES / 2)
      : own > SESSION_BUDGET_BYTES || (this._backlog > SERVER_BUDGET_BYTES && own > QUIET_BYTES);
    state.setHeld(hold);
  }

  private _died(worker: Worker, message: string): void {
    if (this._worker !== worker) {
      return;
    }
    this._worker = undefined;
    if (!this._closed) {
      this._onWorkerError(message);
    }
    this._lose();
  }

  /** The worker is gone: its sessions go on without screen state; new ones get a new worker. */
  private _lose(): void {
    this._worker = undefined;
    this._becameReady();
    for (const state of this._states.values()) {
      state.lost = true;
      state.backlog = 0;
      state.setHeld(false);
    }
    this._states.clear();
    this._backlog = 0;
    this._queue = [];
    for (const request of [...this._pending.keys()]) {
      this._answered(request, undefined);
    }
  }
}

/** One session's screen state, as its ShellSession sees it. */
export class ScreenState {
  /** The window title the shell last set (OSC 0 or 2). */
  title = '';
  /** @internal bytes handed over, not yet parsed */
  backlog = 0;
  /** @internal the worker that kept it is gone */
  lost = false;
  private _held = false;
  private _onHeld: (() => void) | undefined;

  /** @internal */
  constructor(
    private readonly _host: ScreenStateHost,
    readonly id: string,
  ) {}

  /** Over its budget: the session's shell waits until the worker catches up. */
  get held(): boolean {
    return this._held;
  }

  /** `listener` hears every change of `held`. */
  onHeldChange(listener: () => void): void {
    this._onHeld = listener;
  }

  /** @internal */
  setHeld(held: boolean): void {
    if (held !== this._held) {
      this._held = held;
      this._onHeld?.();
    }
  }

  output(chunk: Buffer): void {
    if (!this.lost) this._host.output(this, chunk);
  }

  /** The pty was resized after the output so far. */
  resized(cols: number, rows: number): void {
    if (!this.lost) this._host.record({ kind: 'resize', id: this.id, cols, rows });
  }

  /** The screen after all output so far; undefined when it cannot be had (the worker died). */
  snapshot(): Promise<Snapshot | undefined> {
    return this.lost ? Promise.resolve(undefined) : this._host.snapshot(this);
  }

  close(): void {
    if (!this.lost) {
      this._host.record({ kind: 'close', id: this.id });
      this.lost = true;
    }
    this.setHeld(false);
  }
}
