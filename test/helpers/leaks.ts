/**
 * Leak accounting from outside a process: its descriptors (by kind), child processes, zombies
 * and memory, read from /proc; plus a shell server run in a child process so all of that can be
 * measured on the server alone, heap after a full garbage collection included.
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HandlerResult } from '../../src/server/index.js';
import type { ChildMessage, ParentMessage, ServerChildOptions } from './server-child.js';
import { descendants, openDescriptors, SPAWNER_COMMAND } from './processes.js';
import { waitFor, type WaitOptions } from './wait-for.js';

export interface ProcessSnapshot {
  readonly pid: number;
  /** Open descriptors by kind: `socket`, `pipe`, `pty`, `anon_inode:[eventfd]`, `file`, ... */
  readonly fds: Readonly<Record<string, number>>;
  readonly fdCount: number;
  /** What each descriptor points at (`socket:[123]`, `/dev/ptmx`, a path). */
  readonly descriptors: readonly string[];
  /** Pids of the living processes below `pid` (zombies not counted). */
  readonly children: readonly number[];
  /** Pids of the zombies below `pid`: dead children nobody reaped. */
  readonly zombies: readonly number[];
  /** Spawner processes below `pid` (docs/spawner.md): one while shells live, then none. */
  readonly spawners: number;
  /** Resident memory, from /proc/PID/status. */
  readonly rssBytes: number;
}

/** Groups a descriptor's link target: sockets and pipes by kind, files as `file`. */
export function descriptorKind(target: string): string {
  if (target.startsWith('socket:')) return 'socket';
  if (target.startsWith('pipe:')) return 'pipe';
  if (target === '/dev/ptmx' || target.startsWith('/dev/pts/')) return 'pty';
  if (target.startsWith('anon_inode:')) return target;
  return 'file';
}

/**
 * CPU time `pid` used, its reaped children's included (for a server: its shells), in
 * milliseconds; from /proc/PID/stat, whose times are in clock ticks of 10 ms on Linux.
 */
export function cpuMilliseconds(pid: number = process.pid): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // After ") ": state is field 3, so utime, stime, cutime, cstime (14-17) are at 11-14 here.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks) * 10, 0);
}

function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** What `pid` holds right now. */
export function snapshotProcess(pid: number = process.pid): ProcessSnapshot {
  const fds: Record<string, number> = {};
  const targets = openDescriptors(pid);
  for (const target of targets) {
    const kind = descriptorKind(target);
    fds[kind] = (fds[kind] ?? 0) + 1;
  }
  const below = descendants(pid);
  return {
    pid,
    fds,
    fdCount: targets.length,
    descriptors: targets,
    children: below.filter((info) => info.state !== 'Z').map((info) => info.pid),
    zombies: below.filter((info) => info.state === 'Z').map((info) => info.pid),
    spawners: descendants(pid, true).filter((info) => info.command === SPAWNER_COMMAND).length,
    rssBytes: residentBytes(pid),
  };
}

/** Descriptor kinds whose count differs, as `kind before→after`. */
export function descriptorDiff(before: ProcessSnapshot, after: ProcessSnapshot): string[] {
  const kinds = new Set([...Object.keys(before.fds), ...Object.keys(after.fds)]);
  return [...kinds]
    .filter((kind) => (before.fds[kind] ?? 0) !== (after.fds[kind] ?? 0))
    .map((kind) => `${kind} ${before.fds[kind] ?? 0}→${after.fds[kind] ?? 0}`);
}

/**
 * Processes below `after.pid` that were not there at `before`: what a run left behind. (Under
 * tsx a Node process may have a long-lived child of its own, the esbuild service; once started
 * it is in both snapshots and so never counted.)
 */
export function newChildren(before: ProcessSnapshot, after: ProcessSnapshot): number[] {
  const known = new Set(before.children);
  return after.children.filter((pid) => !known.has(pid));
}

/** Descriptors open at `after` that were not at `before`, as their targets. */
export function newDescriptors(before: ProcessSnapshot, after: ProcessSnapshot): string[] {
  const known = new Set(before.descriptors);
  return after.descriptors.filter((target) => !known.has(target));
}

export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The test process's own check that a suite left nothing behind: no new child processes, no
 * zombies, and no more sockets or ptys than at `before` (other kinds, such as libuv's signal
 * pipe, are created once on first use and kept).
 */
export async function expectNothingLeftBehind(
  before: ProcessSnapshot,
  options: WaitOptions = {},
): Promise<void> {
  let now = snapshotProcess(before.pid);
  try {
    await waitFor(
      () => {
        now = snapshotProcess(before.pid);
        return (
          newChildren(before, now).length === 0 &&
          now.zombies.length === 0 &&
          (now.fds.socket ?? 0) <= (before.fds.socket ?? 0) &&
          (now.fds.pty ?? 0) <= (before.fds.pty ?? 0)
        );
      },
      { message: 'no stray processes or descriptors', ...options },
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}: new processes ${JSON.stringify(newChildren(before, now))}, zombies ${JSON.stringify(now.zombies)}, new descriptors ${JSON.stringify(newDescriptors(before, now))}`,
    );
  }
}

/** A log line the server child wrote (warnings and errors only). */
export interface ChildLogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface ServerMemory {
  /** `process.memoryUsage()` after garbage collection settled. */
  readonly memory: NodeJS.MemoryUsage;
  /**
   * Heap used by objects: `heapUsed` less compiled code, which grows for a while as V8
   * optimises functions that have become hot, and is not held by any session.
   */
  readonly objectBytes: number;
  readonly connections: number;
  /** Shells kept for a resume that no connection holds. */
  readonly detachedSessions: number;
}

/** A shell server in a child process, measured from here. */
export class ServerChild {
  /** run() results of every connection that ended, in order. */
  readonly results: HandlerResult[] = [];
  /** Its warning and error log lines. */
  readonly logs: ChildLogLine[] = [];
  /** What it wrote to stderr that was not a log line: Node's own warnings, a crash. */
  readonly otherStderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private _exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Callers of measure() waiting for their answer, in order. */
  private readonly _measuring: Array<(value: ServerMemory) => void> = [];

  private constructor(
    private readonly _child: ChildProcess,
    readonly port: number,
    readonly token: string | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      _child.once('exit', (code, signal) => {
        this._exit = { code, signal };
        resolve(this._exit);
      });
    });
    _child.on('message', (message: ChildMessage) => {
      if (message.type === 'connection-end') {
        this.results.push(message.result as HandlerResult);
      } else if (message.type === 'measured') {
        this._measuring.shift()?.({
          memory: message.memory,
          objectBytes: message.memory.heapUsed - message.codeBytes,
          connections: message.connections,
          detachedSessions: message.detachedSessions,
        });
      }
    });
    let partial = '';
    _child.stderr?.setEncoding('utf8');
    _child.stderr?.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((entry) => entry !== '')) {
        try {
          this.logs.push(JSON.parse(line) as ChildLogLine);
        } catch {
          this.otherStderr.push(line);
        }
      }
    });
  }

  /**
   * Starts the server child and resolves once it listens on a free loopback port.
   * @param [nodeFlags=[]] more flags for its node, such as `--cpu-prof` when looking for a cost
   */
  static async start(
    options: ServerChildOptions = {},
    nodeFlags: readonly string[] = [],
  ): Promise<ServerChild> {
    const entry = fileURLToPath(new URL('./server-child.ts', import.meta.url));
    const child = fork(entry, [JSON.stringify(options)], {
      execArgv: ['--expose-gc', '--import', 'tsx', ...nodeFlags],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let early = '';
    const onStderr = (chunk: Buffer): void => {
      early += chunk.toString('utf8');
    };
    child.stderr?.on('data', onStderr);
    const listening = await new Promise<ChildMessage & { type: 'listening' }>((resolve, reject) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type === 'listening') {
          child.off('exit', onExit);
          child.off('message', onMessage);
          resolve(message);
        }
      };
      const onExit = (code: number | null): void =>
        reject(new Error(`the server child exited with code ${code} before listening: ${early}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    child.stderr?.off('data', onStderr);
    // Descriptor counts start once the child's descriptors hold still: with Node 22.15 and later
    // tsx runs in the main thread and tries to reach a parent tsx (/tmp/tsx-UID/PPID.pipe); the
    // two sockets of that failed attempt close a moment after the child listens.
    let last = '';
    await waitFor(
      async () => {
        const now = openDescriptors(child.pid).join(' ');
        const still = now === last;
        last = now;
        if (!still) await new Promise((resolve) => setTimeout(resolve, 100));
        return still;
      },
      { timeout: 5_000, interval: 0, message: "the server child's descriptors to settle" },
    );
    return new ServerChild(child, listening.port, listening.token);
  }

  get pid(): number {
    return this._child.pid as number;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Its descriptors, children and resident memory now. */
  snapshot(): ProcessSnapshot {
    return snapshotProcess(this.pid);
  }

  /** Its heap after a full garbage collection, and how many connections it serves. */
  measure(): Promise<ServerMemory> {
    return new Promise((resolve) => {
      this._measuring.push(resolve);
      this._send({ type: 'measure' });
    });
  }

  /** Waits until `count` connections have ended. */
  async waitForResults(count: number, options: WaitOptions = {}): Promise<HandlerResult[]> {
    await waitFor(() => this.results.length >= count, {
      message: `${count} connections to end (${this.results.length} so far)`,
      ...options,
    });
    return this.results.slice(0, count);
  }

  /** Shuts the server down (1001 to every client) and waits for the child to exit by itself. */
  async close(options: WaitOptions = {}): Promise<{ code: number | null }> {
    if (this._child.connected) {
      this._send({ type: 'close' });
    }
    return waitFor(() => this._exit, {
      message: `the server child (pid ${this.pid}) to exit after closing: a handle keeps it alive`,
      ...options,
    });
  }

  /** Kills the child if a failed test left it running. */
  kill(): void {
    if (this._child.exitCode === null && this._child.signalCode === null) {
      this._child.kill('SIGKILL');
    }
  }

  private _send(message: ParentMessage): void {
    this._child.send(message);
  }
}
