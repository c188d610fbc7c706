/**
 * The built CLI as a child process, as an operator runs it (optionally through a launcher such as
 * systemd-socket-activate, which execs it in place): its printed line and JSON logs collected,
 * stopped by PID, its temp HOME removed.
 * @module
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export { assertNoStrayProcesses, processBaseline } from './processes.js';
import { waitFor } from './wait-for.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli/main.js');

/** A quick shell: the machine's own .bashrc is slow, and nothing here needs a login shell. */
export const TEST_SHELL = ['/bin/bash', '--norc', '--noprofile'] as const;
/** The prompt the test shell shows (bash takes PS1 from the environment). */
export const TEST_PROMPT = 'xjs$ ';

export interface CliProcessOptions {
  /** The CLI's flags; `-- /bin/bash --norc --noprofile` is appended unless `shell` says else. */
  readonly args: readonly string[];
  /** The shell command after `--`. @default TEST_SHELL */
  readonly shell?: readonly string[];
  /** A program and its flags that execs the CLI, e.g. `['systemd-socket-activate', '-l', …]`. */
  readonly launcher?: readonly string[];
  /** Variables besides PATH, HOME (a fresh temp dir), LANG and PS1. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export class CliProcess {
  stdout = '';
  stderr = '';
  /** Set once the process has exited. */
  exit: Exit | undefined;
  /** The temp dir the shells get as HOME (history files land there), removed on exit. */
  readonly home: string;
  readonly exited: Promise<Exit>;
  private readonly _child: ChildProcessByStdio<null, Readable, Readable>;

  private constructor(options: CliProcessOptions) {
    if (!existsSync(CLI) || !existsSync(join(ROOT, 'dist/client/index.html'))) {
      throw new Error(`${CLI} or the page is not built: run npm run build first`);
    }
    this.home = mkdtempSync(join(tmpdir(), 'xjs-cli-home-'));
    const command = [
      ...(options.launcher ?? []),
      process.execPath,
      CLI,
      ...options.args,
      '--',
      ...(options.shell ?? TEST_SHELL),
    ];
    this._child = spawn(command[0]!, command.slice(1), {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: this.home,
        LANG: 'C.UTF-8',
        PS1: TEST_PROMPT,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this._child.stdout.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this._child.stderr.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => {
      this._child.once('close', (code, signal) => {
        this.exit = { code, signal };
        rmSync(this.home, { recursive: true, force: true });
        resolve(this.exit);
      });
    });
  }

  /** Starts the process; it may still be starting (or waiting for activation) on return. */
  static start(options: CliProcessOptions): CliProcess {
    return new CliProcess(options);
  }

  /** The launcher's pid, which is the CLI's once the launcher has exec'd it. */
  get pid(): number {
    return this._child.pid!;
  }

  /**
   * The line the CLI prints once it listens, without `xterm-js-shell VERSION: `
   * (`open http://…` or `listening on unix:…`). Rejects with stderr if it exits first.
   */
  async printed(timeout = 15_000): Promise<string> {
    // waitFor retries a check that throws, so an early exit is returned, then reported.
    const found = await waitFor(
      () => {
        const match = /^xterm-js-shell \S+: (.*)\n/m.exec(this.stdout);
        if (match !== null) {
          return { line: match[1]! };
        }
        return this.exit !== undefined ? { line: undefined } : undefined;
      },
      { timeout, message: 'the CLI to print where it listens' },
    );
    if (found.line === undefined) {
      throw new Error(`the CLI exited (${JSON.stringify(this.exit)}): ${this.stderr}`);
    }
    return found.line;
  }

  /** The CLI's JSON log lines so far (a launcher's plain lines are skipped). */
  logs(): LogLine[] {
    return this.stderr.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) {
        return [];
      }
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
  }

  /** Waits for a log line with this message (and, optionally, matching a predicate). */
  async waitForLog(
    msg: string,
    matches: (line: LogLine) => boolean = () => true,
    timeout = 10_000,
  ): Promise<LogLine> {
    return waitFor(() => this.logs().find((line) => line.msg === msg && matches(line)), {
      timeout,
      message: `the log line '${msg}'; stderr so far: ${this.stderr.slice(-1500)}`,
    });
  }

  /** Sends `signal` to our own child by PID and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeout = 15_000): Promise<Exit> {
    if (this.exit === undefined) {
      process.kill(this.pid, signal);
    }
    await waitFor(() => this.exit, { timeout, message: `the CLI (pid ${this.pid}) to exit` });
    return this.exit!;
  }

  /** For after-hooks: SIGKILL by PID if still running (a failed test), then await the exit. */
  async kill(): Promise<void> {
    if (this.exit === undefined) {
      process.kill(this.pid, 'SIGKILL');
    }
    await this.exited;
  }
}

/** A loopback TCP port nobody listens on right now, for programs that need a number. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') {
    throw new Error('expected a TCP address');
  }
  return address.port;
}
