// Entry of a shell server in a child process, so its memory, descriptors and CPU are its own.
// It loads createShellServer from a build's dist/ and answers the parent over IPC.
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ChildConfig, ChildReply, ChildRequest } from './server-protocol.js';

type ServerModule = typeof import('../../src/server/index.js');

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const gc = (globalThis as { gc?: () => void }).gc;
  const send = (reply: ChildReply): void => {
    process.send?.(reply);
  };
  const library = (await import(pathToFileURL(config.serverModule).href)) as ServerModule;
  const server = library.createShellServer({
    ...config.options,
    clientDir: config.clientDir,
    // Warnings and errors only, on stderr: the parent keeps the last lines for its report.
    logger: library.createLogger({ level: 'warn', destination: 2 }),
  });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let eluStart: EventLoopUtilization = performance.eventLoopUtilization();
  const address = await server.listen(0, '127.0.0.1');
  // A benchmark that dies or is interrupted must not leave shells behind: end them all first.
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closing ??= server.close();
    return closing;
  };
  const exitAfterShutdown = (): void => {
    void shutdown().finally(() => process.exit(0));
  };
  process.on('disconnect', exitAfterShutdown);
  process.on('SIGTERM', exitAfterShutdown);
  process.on('SIGINT', exitAfterShutdown);

  process.on('message', (request: ChildRequest) => {
    switch (request.type) {
      case 'stats': {
        const elu = performance.eventLoopUtilization(eluStart);
        send({
          type: 'stats',
          id: request.id,
          connections: server.connections,
          detachedSessions: server.detachedSessions,
          memory: process.memoryUsage(),
          eventLoopUtilization: elu.utilization,
          loopDelayMaxMs: delay.max / 1e6,
          loopDelayP99Ms: delay.percentile(99) / 1e6,
        });
        return;
      }
      case 'reset-loop':
        delay.reset();
        eluStart = performance.eventLoopUtilization();
        send({ type: 'done', id: request.id });
        return;
      case 'gc':
        for (let i = 0; i < 4; i += 1) {
          gc?.();
        }
        send({ type: 'done', id: request.id });
        return;
      case 'close':
        void shutdown().then(() => {
          send({ type: 'done', id: request.id });
          process.disconnect();
        });
        return;
    }
  });
  send({ type: 'listening', port: address.port, token: server.token ?? '' });
}

await main();
