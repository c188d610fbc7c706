// Every example in examples/ as a user runs it (`npx tsx examples/NAME.ts`, i.e. the local tsx
// binary) against Chromium: it refuses to start without SHELL_TOKEN; the app's page is at /,
// its link opens the shell at /shell/, the token typed into the page's form starts a shell and
// a command echoes; a page of another site cannot open the socket; SIGTERM exits 0 and leaves
// no shell behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { SUBPROTOCOL_V1 } from '../../src/protocol/v1.js';
import {
  assertNoStrayProcesses,
  DEADLINE,
  DESKTOP,
  launchBrowser,
  processBaseline,
  typeCommand,
  waitForBuffer,
  waitForState,
} from '../helpers/browser.js';
import { descendants, isRunning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const TOKEN = 'examples-token-0123456789';

/**
 * How each example refuses a page of another site: an app that hands the upgrade to the shell
 * answers 403 before any WebSocket exists (the browser sees 1006); with a ws server of the
 * app's own the socket opens and the shell closes it with XJS_ERR_ORIGIN_FORBIDDEN (4016).
 */
const EXAMPLES = [
  { name: 'with-http-server', crossSite: { status: 403, browserClose: 1006 } },
  { name: 'express', crossSite: { status: 403, browserClose: 1006 } },
  { name: 'fastify', crossSite: { status: 403, browserClose: 1006 } },
  { name: 'with-ws', crossSite: { closeCode: 4016, browserClose: 4016 } },
] as const;

interface Example {
  readonly child: ChildProcess;
  readonly base: string;
  output(): string;
  exited(): Promise<number | null>;
}

function environment(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...extra };
}

async function startExample(name: string, home: string): Promise<Example> {
  const child = spawn(TSX, [`examples/${name}.ts`], {
    cwd: ROOT,
    env: environment(home, { SHELL_TOKEN: TOKEN, PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${output}`);
      return /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)?.[1];
    },
    { timeout: DEADLINE, message: `${name} to print where it listens` },
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { child, base, output: () => output, exited: () => exit };
}

/** The status of an upgrade to `url` with `Origin: origin`, or the close code when it opened. */
function crossSiteAttempt(
  url: string,
  origin: string,
): Promise<{ status?: number; closeCode?: number }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, [SUBPROTOCOL_V1], { headers: { Origin: origin } });
    socket.on('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
      socket.terminate();
    });
    socket.on('close', (code) => resolve({ closeCode: code }));
    socket.on('error', () => undefined);
  });
}

/** Another site's page opening a WebSocket to `url`: whether it opened, and its close code. */
async function browserCrossSite(
  page: Page,
  url: string,
): Promise<{ opened: boolean; code: number }> {
  return page.evaluate(
    ({ target, protocol }) =>
      new Promise<{ opened: boolean; code: number }>((resolve) => {
        let opened = false;
        const socket = new WebSocket(target, protocol);
        socket.onopen = () => (opened = true);
        socket.onclose = (event) => resolve({ opened, code: event.code });
      }),
    { target: url, protocol: SUBPROTOCOL_V1 },
  );
}

describe('the examples against Chromium', () => {
  let browser: Browser;
  let foreign: Server;
  let foreignUrl: string;
  let home: string;
  const baseline = processBaseline();

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'xjs-examples-home-'));
    // Another site: any page at another origin will do.
    foreign = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html' }).end('<title>elsewhere</title>');
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => foreign?.close(resolve));
    await rm(home, { recursive: true, force: true });
    await assertNoStrayProcesses(baseline);
  });

  for (const { name, crossSite } of EXAMPLES) {
    describe(`examples/${name}.ts`, () => {
      let example: Example;

      before(async () => {
        example = await startExample(name, home);
      });

      after(async () => {
        if (example !== undefined && example.child.exitCode === null) {
          example.child.kill('SIGKILL');
          await example.exited();
        }
      });

      it('refuses to start without SHELL_TOKEN, saying why', () => {
        const run = spawnSync(TSX, [`examples/${name}.ts`], {
          cwd: ROOT,
          env: environment(home, { PORT: '0' }),
          encoding: 'utf8',
          timeout: DEADLINE,
        });
        assert.equal(run.status, 1, run.stderr);
        assert.match(run.stderr, /set SHELL_TOKEN to a secret of at least 16 characters/);
      });

      it('serves the app at /, and the shell at /shell/ runs a command', async () => {
        const context = await browser.newContext(DESKTOP);
        try {
          const page = await context.newPage();
          await page.goto(`${example.base}/`);
          assert.equal(await page.locator('h1').innerText(), 'Your app');
          await page.locator('a', { hasText: 'Open the shell' }).click();
          await waitForState(page, 'enter-token');
          assert.equal(new URL(page.url()).pathname, '/shell/');
          await page.locator('#token-input').fill(TOKEN);
          await page.locator('#token-form button[type=submit]').click();
          await waitForState(page, 'connected');
          await page.locator('.xterm').click();
          await typeCommand(page, 'echo "sum=$((6*7))"');
          await waitForBuffer(page, 'sum=42');
        } finally {
          await context.close();
        }
      });

      it('does not let a page of another site open the shell’s socket', async () => {
        const socketUrl = `${example.base.replace('http:', 'ws:')}/shell/`;
        const { browserClose, ...expected } = crossSite;
        assert.deepEqual(await crossSiteAttempt(socketUrl, 'https://evil.example'), expected);
        const context = await browser.newContext(DESKTOP);
        try {
          const page = await context.newPage();
          await page.goto(foreignUrl);
          assert.deepEqual(await browserCrossSite(page, socketUrl), {
            opened: browserClose === 4016,
            code: browserClose,
          });
        } finally {
          await context.close();
        }
      });

      it('exits 0 on SIGTERM, ending the shell of a connected page', async () => {
        const context = await browser.newContext(DESKTOP);
        try {
          const page = await context.newPage();
          await page.goto(`${example.base}/shell/#token=${TOKEN}`);
          await waitForState(page, 'connected');
          await page.locator('.xterm').click();
          await typeCommand(page, 'echo "shell=$$"');
          await waitForBuffer(page, /shell=\d+/);
          // Everything the example started: tsx's node, the shell, the spawner.
          const started = descendants(example.child.pid, true).map((info) => info.pid);
          assert.ok(started.length >= 2, `the example runs a shell: ${started.join(', ')}`);
          example.child.kill('SIGTERM');
          assert.equal(await example.exited(), 0, example.output());
          await waitFor(() => started.every((pid) => !isRunning(pid)), {
            timeout: DEADLINE,
            message: `no process of ${name} left (${started.join(', ')})`,
          });
        } finally {
          await context.close();
        }
      });
    });
  }
});
