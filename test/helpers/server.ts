/**
 * An in-process shell server on a free loopback port, with its log lines captured for the
 * assertions (and never printed), closed by the test when done.
 * @module
 */
import { Writable } from 'node:stream';
import {
  createLogger,
  createShellServer,
  type ShellServer,
  type ShellServerOptions,
} from '../../src/server/index.js';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface TestServer {
  readonly server: ShellServer;
  readonly port: number;
  /** `http://127.0.0.1:PORT/` */
  readonly httpUrl: string;
  /** `ws://127.0.0.1:PORT/` */
  readonly wsUrl: string;
  readonly token: string | undefined;
  /** Every log line so far, parsed. */
  readonly logs: LogLine[];
  close(): Promise<void>;
}

/** A token long enough for the built-in token auth, fixed so tests can send it. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

export async function startServer(options: ShellServerOptions = {}): Promise<TestServer> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') {
          logs.push(JSON.parse(line) as LogLine);
        }
      }
      done();
    },
  });
  const server = createShellServer({
    token: TEST_TOKEN,
    logger: createLogger({ level: 'debug', destination: sink }),
    shellLogoutWait: 0.5,
    shellTerminateWait: 2,
    // Shells end with their connection unless a test asks for resume (test/session/).
    resumeWindow: 0,
    ...options,
  });
  const address = await server.listen(0, '127.0.0.1');
  return {
    server,
    port: address.port,
    httpUrl: `http://127.0.0.1:${address.port}/`,
    wsUrl: `ws://127.0.0.1:${address.port}/`,
    token: server.token,
    logs,
    close: () => server.close(),
  };
}
