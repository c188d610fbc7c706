/**
 * The screen-state worker: one headless terminal per session, fed the records the main thread
 * sends in order (see screen-state.ts), answering snapshots. It holds no pty and never listens
 * to a terminal's answers, so nothing it parses can reach a shell. See docs/screen-state.md.
 * @module
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ScreenTerminal } from './screen-snapshot.js';

export type ScreenRecord =
  | {
      readonly kind: 'open';
      readonly id: string;
      readonly cols: number;
      readonly rows: number;
      readonly scrollbackLines: number;
    }
  | { readonly kind: 'output'; readonly id: string; readonly data: Uint8Array }
  | { readonly kind: 'resize'; readonly id: string; readonly cols: number; readonly rows: number }
  | { readonly kind: 'close'; readonly id: string }
  | { readonly kind: 'snapshot'; readonly id: string; readonly request: number };

export type ScreenReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'parsed'; readonly id: string; readonly bytes: number }
  | { readonly kind: 'title'; readonly id: string; readonly title: string }
  | {
      readonly kind: 'snapshot';
      readonly request: number;
      readonly offset: number;
      readonly cols: number;
      readonly rows: number;
      readonly data: Uint8Array;
      readonly dirty: boolean;
    }
  | { readonly kind: 'snapshot-failed'; readonly request: number; readonly message: string };

const port = parentPort;
if (port === null) {
  throw new Error('screen-worker.ts runs as a worker thread only');
}

// Parsing is background work: the shells' output must not wait for it (the main thread sends
// first and hands over after). Nice 19 on this thread only (Linux: a thread id is a pid).
try {
  const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isSafeInteger(threadId)) setPriority(threadId, 19);
} catch {
  // Not Linux, or not allowed: the worker runs at the server's priority.
}

const terminals = new Map<string, ScreenTerminal>();
const encoder = new TextEncoder();

function post(reply: ScreenReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(reply, transfer);
}

function apply(record: ScreenRecord): void {
  if (record.kind === 'open') {
    const { id } = record;
    let parsed = 0;
    terminals.set(
      id,
      new ScreenTerminal({
        cols: record.cols,
        rows: record.rows,
        scrollbackLines: record.scrollbackLines,
        onTitle: (title) => post({ kind: 'title', id, title }),
        onParsed: (offset) => {
          post({ kind: 'parsed', id, bytes: offset - parsed });
          parsed = offset;
        },
      }),
    );
    return;
  }
  const terminal = terminals.get(record.id);
  if (terminal === undefined) {
    if (record.kind === 'snapshot') {
      post({ kind: 'snapshot-failed', request: record.request, message: 'no such session' });
    }
    return;
  }
  switch (record.kind) {
    case 'output':
      terminal.write(record.data);
      break;
    case 'resize':
      terminal.resize(record.cols, record.rows);
      break;
    case 'close':
      terminals.delete(record.id);
      terminal.dispose();
      break;
    case 'snapshot':
      terminal.snapshot().then(
        (taken) => {
          const data = encoder.encode(taken.data);
          post({ kind: 'snapshot', request: record.request, ...taken, data }, [data.buffer]);
        },
        (error: unknown) =>
          post({
            kind: 'snapshot-failed',
            request: record.request,
            message: error instanceof Error ? error.message : String(error),
          }),
      );
      break;
  }
}

port.on('message', (records: readonly ScreenRecord[]) => {
  for (const record of records) {
    apply(record);
  }
});
// Loaded (the terminal's code included, imported above): the server may say it is listening.
post({ kind: 'ready' });
