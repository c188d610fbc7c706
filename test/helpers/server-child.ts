/**
 * Entry of a shell server run in a child process (`node --expose-gc --import tsx`), so that a
 * test can measure its descriptors, children and heap from outside. Speaks over the IPC channel.
 * @module
 */
import { getHeapSpaceStatistics } from 'node:v8';
import {
  createLogger,
  createShellServer,
  type ShellServerOptions,
} from '../../src/server/index.js';

/** Parent → child. */
export type ParentMessage = { type: 'measure' } | { type: 'close' };

/** Child → parent. */
export type ChildMessage =
  | { type: 'listening'; port: number; token: string | undefined }
  | { type: 'connection-end'; result: unknown }
  | {
      type: 'measured';
      memory: NodeJS.MemoryUsage;
      /** Heap bytes of compiled code: grows as V8 optimises more functions, which is no leak. */
      codeBytes: number;
      connections: number;
      detachedSessions: number;
    };

/** Options as JSON in argv[2]: the serialisable part of ShellServerOptions. */
export type ServerChildOptions = Omit<ShellServerOptions, 'auth' | 'logger'> & {
  readonly auth?: 'token' | 'none';
};

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Collects garbage until the heap stops shrinking, so two measurements compare like for like. */
async function settleHeap(gc: () => void): Promise<void> {
  let last = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 10; round += 1) {
    gc();
    // Let finalizers and closed handles' callbacks run between collections.
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (used >= last) {
      return;
    }
    last = used;
  }
}

function codeBytes(): number {
  return getHeapSpaceStatistics()
    .filter((space) => space.space_name.startsWith('code_'))
    .reduce((sum, space) => sum + space.space_used_size, 0);
}

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined || process.send === undefined) {
    throw new Error('server-child must run with --expose-gc and an IPC channel');
  }
  const options = JSON.parse(process.argv[2] ?? '{}') as ServerChildOptions;
  const server = createShellServer({
    ...options,
    // Warnings and errors only, as JSON on stderr: the parent parses and keeps them.
    logger: createLogger({ level: 'warn', destination: 2 }),
  });
  server.on('connection-end', (result: unknown) => send({ type: 'connection-end', result }));
  const address = await server.listen(0, '127.0.0.1');
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'measure') {
      void settleHeap(gc).then(() =>
        send({
          type: 'measured',
          memory: process.memoryUsage(),
          codeBytes: codeBytes(),
          connections: server.connections,
          detachedSessions: server.detachedSessions,
        }),
      );
    } else if (message.type === 'close') {
      // Disconnecting the channel leaves the child nothing to wait for: it exits by itself,
      // unless a handle leaked, which the parent's close() then reports.
      void server.close().then(() => process.disconnect());
    }
  });
  send({ type: 'listening', port: address.port, token: server.token });
}

await main();
