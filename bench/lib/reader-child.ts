// Entry of a reader pool in a child process: v1 pages attached to a live session, each
// acknowledging output as a page does, so that their CPU is not the case's own process's.
import type { Socket } from 'node:net';
import { FramedPayload } from './framed.js';
import { WsLink } from './links.js';
import type { ReaderReply, ReaderRequest, ReaderTrace } from './reader-protocol.js';

/** The monotonic clock in milliseconds, comparable across processes (CLOCK_MONOTONIC). */
function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const send = (reply: ReaderReply): void => {
  process.send?.(reply);
};

let readers: WsLink[] = [];
let payloads: FramedPayload[] = [];
let traces: Array<{ ends: number[]; at: number[] }> = [];

/** The TCP socket under a page's WebSocket (ws keeps it as `_socket`). */
function tcpOf(link: WsLink): Socket | undefined {
  return (link.socket as unknown as { _socket?: Socket })._socket;
}

async function closeAll(): Promise<void> {
  for (const link of readers) {
    tcpOf(link)?.resume(); // the close handshake must be read
  }
  await Promise.all(readers.map((link) => link.close()));
  readers = [];
}

async function handle(request: ReaderRequest): Promise<ReaderReply> {
  switch (request.type) {
    case 'attach': {
      const links = Array.from(
        { length: request.count },
        () =>
          new WsLink({
            url: request.url,
            kind: 'v1',
            credential: request.credential,
            attach: request.sessionId,
            events: true,
          }),
      );
      readers.push(...links);
      await Promise.all(links.map((link) => link.ready()));
      for (const link of links) {
        if (link.hello?.sessionId !== request.sessionId) {
          throw new Error(`a reader did not join session ${request.sessionId}`);
        }
      }
      return { type: 'done', id: request.id };
    }
    case 'arm':
      payloads = readers.map((link) => {
        const payload = new FramedPayload(request.begin, request.end);
        link.onOutput = (chunk, at) => payload.push(chunk, at);
        return payload;
      });
      return { type: 'done', id: request.id };
    case 'collect': {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(payloads.map((payload) => payload.done)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const done = payloads.filter((p) => p.endedAt !== undefined).length;
            reject(new Error(`readers done ${done}/${payloads.length} in ${request.timeoutMs} ms`));
          }, request.timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      const result = payloads.map((payload, i) => ({
        bytes: payload.bytes,
        sha256: payload.sha256,
        ms: (payload.endedAt ?? Number.NaN) - (payload.beganAt ?? Number.NaN),
        skipped: readers[i]?.skippedBytes ?? 0,
        skipMismatches: readers[i]?.skipMismatches ?? 0,
      }));
      for (const link of readers) {
        link.onOutput = undefined;
      }
      payloads = [];
      return { type: 'payloads', id: request.id, payloads: result };
    }
    case 'trace':
      traces = readers.map(() => ({ ends: [], at: [] }));
      readers.forEach((link, i) => {
        const trace = traces[i] as { ends: number[]; at: number[] };
        link.onOutput = request.on
          ? () => {
              trace.at.push(now());
              trace.ends.push(link.offset);
            }
          : undefined;
      });
      return { type: 'done', id: request.id };
    case 'traces': {
      // Copies, then emptied in place: the recording closures keep their arrays.
      const result: ReaderTrace[] = traces.map((trace) => ({
        ends: trace.ends.splice(0),
        at: trace.at.splice(0),
      }));
      return { type: 'traces', id: request.id, traces: result };
    }
    case 'pause':
      for (const link of readers) {
        tcpOf(link)?.pause();
      }
      return { type: 'done', id: request.id };
    case 'close':
      await closeAll();
      return { type: 'done', id: request.id };
  }
}

process.on('message', (request: ReaderRequest) => {
  handle(request).then(send, (error: unknown) =>
    send({
      type: 'error',
      id: request.id,
      message: error instanceof Error ? error.message : String(error),
    }),
  );
});
// The parent went away (ended or killed): close the pages and go.
process.on('disconnect', () => {
  void closeAll().finally(() => process.exit(0));
});
send({ type: 'started' });
