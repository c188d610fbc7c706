#!/usr/bin/env node
/**
 * The `xterm-js-shell` command: flags to a running server, the URL printed, SIGINT/SIGTERM to a
 * graceful shutdown. The only module that touches argv, the environment, exit and signals.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createLogger, createShellServer, VERSION, type ShellServer } from '../server/index.js';
import { parseCliArgs, USAGE, type CliOptions } from './args.js';

const TOKEN_ENV = 'XTERM_JS_SHELL_TOKEN';

function fail(message: string): never {
  process.stderr.write(`xterm-js-shell: ${message}\n`);
  process.exit(2);
}

/** The token from --token-file, else the environment; undefined means: generate one. */
function readToken(options: CliOptions): string | undefined {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8');
    } catch (error) {
      fail(
        `--token-file: cannot read ${options.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    const token = text.trim();
    if (token.length < 16) {
      fail(`--token-file: the token in ${options.tokenFile} must be at least 16 characters`);
    }
    return token;
  }
  const fromEnv = process.env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 16) {
      fail(`${TOKEN_ENV} must be at least 16 characters`);
    }
    return fromEnv;
  }
  return undefined;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function main(): Promise<void> {
  const parsed = parseCliArgs(process.argv.slice(2));
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'error':
      fail(parsed.message);
  }
  const options = parsed.options;
  const log = createLogger({ level: options.logLevel, destination: 2 });
  const givenToken = options.auth === 'token' ? readToken(options) : undefined;

  let server: ShellServer;
  try {
    server = createShellServer({
      auth: options.auth,
      ...(givenToken !== undefined ? { token: givenToken } : {}),
      logger: log,
      allowedOrigins: options.allowedOrigins,
      maxConnections: options.maxConnections,
      shellLogoutWait: options.shellLogoutWait,
      shellTerminateWait: options.shellTerminateWait,
      authTimeout: options.authTimeout,
      pingInterval: options.pingInterval,
      ...(options.command !== undefined ? { userShellCommand: options.command } : {}),
    });
  } catch (error) {
    fail((error as Error).message);
  }

  if (options.auth === 'none') {
    log.warn('authentication is off (--auth none): anyone who can reach the server gets a shell');
  }

  let address;
  try {
    address = await server.listen(options.port, options.host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'EADDRINUSE' ? 'the address is in use' : (code ?? String(error));
    fail(`cannot listen on ${options.host}:${options.port} (--host/--port): ${what}`);
  }
  const base = `http://${urlHost(address.address)}:${address.port}/`;
  log.info({ address: address.address, port: address.port, auth: options.auth }, 'listening');
  if (server.token !== undefined && givenToken === undefined) {
    process.stdout.write(`xterm-js-shell ${VERSION}: open ${base}#token=${server.token}\n`);
  } else {
    process.stdout.write(`xterm-js-shell ${VERSION}: open ${base}\n`);
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting for shells');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, connections: server.connections }, 'shutting down');
    server.close().then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

void main();
