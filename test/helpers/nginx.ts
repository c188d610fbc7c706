/**
 * Debian's nginx run as our own process (never the system service): a generated main config in
 * a temp dir (pid, logs and temp paths there, `daemon off`), the config under test included in
 * its http block, checked with `nginx -t` first, stopped by PID.
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait-for.js';

export const NGINX = '/usr/sbin/nginx';

export interface NginxOptions {
  /** A private temp dir for the config, pid, logs and nginx's temp files. */
  readonly dir: string;
  /** Configuration for nginx's http block (server blocks, maps). */
  readonly httpConfig: string;
  /** Loopback ports it listens on; start() returns once each accepts connections. */
  readonly ports: readonly number[];
  /**
   * When we are root, the user and group the workers run as (nginx's default would be nobody
   * in nogroup). Ignored otherwise: the workers then run as we do.
   */
  readonly workerUser?: string;
}

export class Nginx {
  private _exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    private readonly _child: ChildProcess,
    readonly dir: string,
  ) {
    _child.once('exit', (code, signal) => (this._exit = { code, signal }));
  }

  /** Writes the config, checks it with `nginx -t`, starts nginx and waits for its ports. */
  static async start(options: NginxOptions): Promise<Nginx> {
    if (!existsSync(NGINX)) {
      throw new Error(
        `${NGINX} is missing: install it with apt-get install -y --no-install-recommends nginx (as root; npm test does it)`,
      );
    }
    const { dir } = options;
    const temp = join(dir, 'temp');
    mkdirSync(temp, { recursive: true });
    const included = join(dir, 'http.conf');
    writeFileSync(included, options.httpConfig);
    const root = process.getuid?.() === 0;
    const main = join(dir, 'nginx.conf');
    writeFileSync(
      main,
      [
        'daemon off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} info;`,
        ...(root && options.workerUser !== undefined ? [`user ${options.workerUser};`] : []),
        'events { worker_connections 64; }',
        'http {',
        `  access_log ${join(dir, 'access.log')};`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (kind) => `  ${kind}_temp_path ${join(temp, kind)};`,
        ),
        `  include ${included};`,
        '}',
        '',
      ].join('\n'),
    );
    const args = ['-p', dir, '-c', main, '-e', join(dir, 'error.log')];
    const check = spawnSync(NGINX, ['-t', ...args], { encoding: 'utf8' });
    if (check.status !== 0) {
      throw new Error(`nginx -t refused the config: ${check.stderr}`);
    }
    const child = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const nginx = new Nginx(child, dir);
    try {
      await waitFor(
        async () => {
          if (nginx._exit !== undefined) {
            throw new Error(`nginx exited: ${stderr} ${nginx.errorLog()}`);
          }
          const open = await Promise.all(options.ports.map((port) => accepts(port)));
          return open.every(Boolean);
        },
        { timeout: 10_000, message: `nginx to listen on ${options.ports.join(', ')}` },
      );
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  get pid(): number {
    return this._child.pid!;
  }

  errorLog(): string {
    try {
      return readFileSync(join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  accessLog(): string {
    try {
      return readFileSync(join(this.dir, 'access.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * SIGTERM (fast shutdown) to our nginx by PID; waits for it. A graceful SIGQUIT would wait
   * for every open WebSocket to end.
   */
  async stop(): Promise<void> {
    if (this._exit === undefined) {
      process.kill(this.pid, 'SIGTERM');
    }
    await waitFor(() => this._exit, { timeout: 10_000, message: 'nginx to exit on SIGTERM' });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
