#!/usr/bin/env node
/**
 * The `xterm-js-shell` command: flags to a running server, the URL printed, SIGINT/SIGTERM to a
 * graceful shutdown. The only module that touches argv, the environment, exit and signals.
 * @module
 */
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import {
  createJwtAuth,
  createLogger,
  createShellServer,
  formatListenAddress,
  socketActivationTargets,
  VERSION,
  type ListenAddress,
  type AuthCallback,
  type JwtAuthOptions,
  type ListenTarget,
  type Logger,
  type ShellServer,
} from '../server/index.js';
import { listensLocally, parseCliArgs, USAGE, type CliOptions, type JwtFlags } from './args.js';

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

/**
 * The JWT auth callback from the --jwt-* flags: the key file is read and checked now, so a bad
 * one stops the start with a message naming its flag.
 */
/** Who besides us may connect to the socket file, when its mode lets anyone else in. */
function socketExposure(options: CliOptions): { mode: string; message: string } | undefined {
  if (options.socket === undefined || (options.socketMode & 0o077) === 0) {
    return undefined;
  }
  const mode = options.socketMode.toString(8).padStart(4, '0');
  const who =
    (options.socketMode & 0o007) !== 0
      ? 'every local user'
      : `every member of the socket file's group (gid ${userInfo().gid})`;
  return {
    mode,
    message: `--auth none with --socket-mode ${mode}: ${who} can open a shell as ${userInfo().username} through ${options.socket}`,
  };
}

function jwtAuth(flags: JwtFlags): AuthCallback {
  const [flag, file] =
    flags.secretFile !== undefined
      ? ['--jwt-secret-file', flags.secretFile]
      : flags.publicKeyFile !== undefined
        ? ['--jwt-public-key', flags.publicKeyFile]
        : ['--jwt-jwks-file', flags.jwksFile as string];
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    fail(`${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const key: Pick<JwtAuthOptions, 'secret' | 'publicKey' | 'jwks'> =
    flag === '--jwt-secret-file'
      ? // The secret is the file's bytes; one final newline (echo > file) is not part of it.
        { secret: content.subarray(0, content.length - trailingNewline(content)) }
      : flag === '--jwt-public-key'
        ? { publicKey: content.toString('utf8') }
        : { jwks: content.toString('utf8') };
  try {
    return createJwtAuth({
      ...key,
      audience: flags.audience,
      ...(flags.issuer !== undefined ? { issuer: flags.issuer } : {}),
    });
  } catch (error) {
    fail(`${flag}: ${file}: ${(error as Error).message}`);
  }
}

function trailingNewline(content: Buffer): number {
  if (content.at(-1) !== 0x0a) {
    return 0;
  }
  return content.at(-2) === 0x0d ? 2 : 1;
}

/** The recording directory must exist and be writable now, not at the first session. */
function checkRecordDir(dir: string): string {
  try {
    if (!statSync(dir).isDirectory()) {
      fail(`--record-dir: ${dir} is not a directory`);
    }
    accessSync(dir, fsConstants.W_OK);
  } catch (error) {
    fail(
      `--record-dir: cannot write to ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  return dir;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * systemd socket activation wins over --host/--port/--socket when LISTEN_PID is our pid.
 * The variables stay in process.env: shell-env.ts keeps them from every shell.
 */
function listenTargets(options: CliOptions, log: Logger): ListenTarget[] {
  const { LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES } = process.env;
  let activated;
  try {
    activated = socketActivationTargets({ LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES }, process.pid);
  } catch (error) {
    fail(`socket activation: ${(error as Error).message}`);
  }
  if (activated !== undefined) {
    log.info(
      { fds: activated.map(({ fd, name }) => ({ fd, name })) },
      'socket activation: serving the sockets systemd passed (--host, --port and --socket are not used)',
    );
    return activated;
  }
  if (LISTEN_FDS !== undefined) {
    log.debug({ LISTEN_PID }, 'ignoring LISTEN_FDS: LISTEN_PID is not our pid');
  }
  if (options.socket !== undefined) {
    return [{ kind: 'unix', path: options.socket, mode: options.socketMode }];
  }
  return [{ kind: 'tcp', host: options.host, port: options.port }];
}

/** Names the flag (or the activation) that chose the target a listen error is about. */
function listenFailure(target: ListenTarget | undefined, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  switch (target?.kind) {
    case 'tcp': {
      const what = code === 'EADDRINUSE' ? 'the address is in use' : (code ?? message);
      return `cannot listen on ${target.host}:${target.port} (--host/--port): ${what}`;
    }
    case 'unix':
      return `--socket: ${message}`;
    default:
      return `socket activation (LISTEN_FDS): ${message}`;
  }
}

/** The line on stdout: a URL to open for TCP, else where it listens (a proxy serves it). */
function announce(addresses: readonly ListenAddress[], fragment: string): string {
  const tcp = addresses.find((address) => address.kind === 'tcp');
  if (tcp !== undefined) {
    return `open http://${urlHost(tcp.address)}:${tcp.port}/${fragment}`;
  }
  const where = addresses.map(formatListenAddress).join(', ');
  return `listening on ${where}; open it through your proxy${fragment === '' ? '' : ` with ${fragment}`}`;
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
      auth: options.auth === 'jwt' ? jwtAuth(options.jwt as JwtFlags) : options.auth,
      ...(givenToken !== undefined ? { token: givenToken } : {}),
      logger: log,
      allowedOrigins: options.allowedOrigins,
      frameAncestors: options.frameAncestors,
      trustedProxies: options.trustedProxies,
      maxShareLifetime: options.maxShareLifetime,
      maxConnections: options.maxConnections,
      shellLogoutWait: options.shellLogoutWait,
      shellTerminateWait: options.shellTerminateWait,
      authTimeout: options.authTimeout,
      pingInterval: options.pingInterval,
      resumeWindow: options.resumeWindow,
      replayBufferBytes: options.replayBufferBytes,
      screenState: options.screenState,
      ...(options.recordDir !== undefined
        ? { recordDir: checkRecordDir(options.recordDir), recordInput: options.recordInput }
        : {}),
      metrics: options.metrics,
      ...(options.exitWhenIdle !== undefined ? { idleTimeout: options.exitWhenIdle } : {}),
      ...(options.command !== undefined ? { userShellCommand: options.command } : {}),
    });
  } catch (error) {
    fail((error as Error).message);
  }

  if (options.auth === 'none') {
    log.warn('authentication is off (--auth none): anyone who can reach the server gets a shell');
    const exposure = socketExposure(options);
    if (exposure !== undefined) {
      log.warn({ socket: options.socket, socketMode: exposure.mode }, exposure.message);
    }
  }

  // Handlers go in before anything can be seen from outside: a SIGTERM sent as soon as the URL
  // line appears must find them (it would otherwise kill the process outright).
  let stopping = false;
  const shutdown = (reason: NodeJS.Signals | 'idle'): void => {
    if (stopping) {
      if (reason === 'idle') {
        return;
      }
      log.warn({ signal: reason }, 'second signal: exiting without waiting for shells');
      process.exit(1);
    }
    stopping = true;
    log.info({ reason, connections: server.connections }, 'shutting down');
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
  server.on('idle-timeout', () => {
    log.info({ exitWhenIdle: options.exitWhenIdle }, 'no connection for --exit-when-idle seconds');
    shutdown('idle');
  });

  const targets = listenTargets(options, log);
  let addresses: ListenAddress[];
  try {
    addresses = await server.listen(targets);
  } catch (error) {
    // A single target is the usual case; with several, the activation names the culprit fd.
    fail(listenFailure(targets.length === 1 ? targets[0] : undefined, error));
  }
  // The flags were checked against --host; sockets systemd passed are only known now.
  const exposed = addresses.find(
    (address) => address.kind === 'tcp' && !listensLocally(address.address, undefined),
  );
  if (exposed !== undefined && options.auth === 'none' && !options.allowUnauthenticatedRemote) {
    fail(
      `--auth none on ${formatListenAddress(exposed)} would give a shell to anyone who can reach it; ` +
        'add --allow-unauthenticated-remote if that is meant',
    );
  }
  log.info({ listening: addresses.map(formatListenAddress), auth: options.auth }, 'listening');
  const fragment =
    server.token !== undefined && givenToken === undefined ? `#token=${server.token}` : '';
  process.stdout.write(`xterm-js-shell ${VERSION}: ${announce(addresses, fragment)}\n`);
}

void main();
