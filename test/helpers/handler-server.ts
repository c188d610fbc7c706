/**
 * The library face under test: a plain `ws` WebSocketServer on a free loopback port that hands
 * each connection to `new WebSocketHandler(ws, options)` and keeps every run() result and log line.
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  SUBPROTOCOL_V1,
  WebSocketHandler,
  createLogger,
  type HandlerResult,
  type WebSocketHandlerOptions,
} from '../../src/server/index.js';
import type { LogLine } from './server.js';
import { waitFor, type WaitOptions } from './wait-for.js';

export interface HandlerServer {
  /** `ws://127.0.0.1:PORT/`, or `ws+unix:PATH:/` on a UNIX socket */
  readonly url: string;
  /** Every log line so far, parsed. */
  readonly logs: LogLine[];
  /** run() results, in the order the connections ended. */
  readonly results: HandlerResult[];
  /** Aborting it is the server's shutdown; passed to every handler. */
  readonly shutdown: AbortController;
  /** Resolves with the first `count` results once that many connections have ended. */
  waitForResults(count: number, options?: WaitOptions): Promise<HandlerResult[]>;
  /** Shuts every handler down (1001), waits for their run() and closes the listener. */
  close(): Promise<void>;
}

/** Collects pino's JSON lines into `logs`. */
export function logSink(logs: LogLine[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') {
          logs.push(JSON.parse(line) as LogLine);
        }
      }
      done();
    },
  });
}

/** Where the harness listens and what ws accepts. */
export interface HandlerTransport {
  /** A UNIX socket path instead of TCP on 127.0.0.1 (its kernel buffers are far smaller). */
  readonly socketPath?: string;
  /** The ws frame limit, as the README asks to set it. @default options.maxMessageBytes ?? 1048576 */
  readonly maxPayload?: number;
}

/**
 * Starts the server. Defaults differ from the library's only to keep tests short: a 0.3 s logout
 * wait, a 2 s terminate wait, no pings, and `/bin/bash --norc --noprofile` (root's rc is slow).
 * @param options handler options; `shutdownSignal` and `logger` are the harness's own
 */
export async function startHandlerServer(
  options: Omit<WebSocketHandlerOptions, 'shutdownSignal' | 'logger'> = {},
  transport: HandlerTransport = {},
): Promise<HandlerServer> {
  const logs: LogLine[] = [];
  const logger = createLogger({ level: 'debug', destination: logSink(logs) });
  const shutdown = new AbortController();
  const results: HandlerResult[] = [];
  const running = new Set<Promise<HandlerResult>>();
  const httpServer = createServer();
  const wss = new WebSocketServer({
    server: httpServer,
    perMessageDeflate: false,
    maxPayload: transport.maxPayload ?? options.maxMessageBytes ?? 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL_V1) ? SUBPROTOCOL_V1 : false),
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    if (transport.socketPath === undefined) {
      httpServer.listen(0, '127.0.0.1', resolve);
    } else {
      httpServer.listen(transport.socketPath, resolve);
    }
  });
  wss.on('connection', function wssOnConnection(ws, request) {
    const handler = new WebSocketHandler(ws, {
      userShellCommand: ['/bin/bash', '--norc', '--noprofile'],
      shellLogoutWait: 0.3,
      shellTerminateWait: 2,
      pingInterval: 0,
      ...options,
      request,
      logger,
      shutdownSignal: shutdown.signal,
    });
    const run = handler.run();
    running.add(run);
    void run.then((result) => {
      results.push(result);
      running.delete(run);
    });
  });
  return {
    url:
      transport.socketPath === undefined
        ? `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/`
        : `ws+unix:${transport.socketPath}:/`,
    logs,
    results,
    shutdown,
    async waitForResults(count, waitOptions = {}) {
      await waitFor(() => results.length >= count, {
        message: `${count} handler run() results (have ${results.length})`,
        ...waitOptions,
      });
      return results.slice(0, count);
    },
    async close() {
      shutdown.abort();
      await Promise.allSettled([...running]);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
