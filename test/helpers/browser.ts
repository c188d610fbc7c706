/**
 * The browser suites' parts: Debian's Chromium through playwright-core, the built CLI as a
 * process (its printed URL read from stdout), and readers of what xterm.js holds in its buffer.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Frame,
  type Page,
} from 'playwright-core';
import type { Terminal } from '@xterm/xterm';

import { assertNoStrayProcesses } from './processes.js';
export { assertNoStrayProcesses, processBaseline } from './processes.js';
import { waitFor } from './wait-for.js';

declare global {
  interface Window {
    term: Terminal;
    /** The page's output counters and its place in its shell (src/client/main.ts). */
    xtermJsShell: {
      readonly received: number;
      readonly processed: number;
      readonly sessionId?: string | undefined;
      readonly role?: string | undefined;
      readonly viewerId?: string | undefined;
    };
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');

/**
 * How long a wait may take before it fails. Generous: the machine running the suite may be busy,
 * and a deadline only bounds a failure (nothing waits for it when all goes well).
 */
export const DEADLINE = 30_000;

/** The shell for browser tests: no rc files (fast, and the same on every machine). */
export const SHELL = ['/bin/bash', '--norc', '--noprofile'];
/** The prompt the test shell shows, so a test can wait for it. */
export const PROMPT = 'xjs$ ';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { viewport: { width: 1280, height: 800 } } as const;
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
} as const;

/** Debian's Chromium (package chromium). */
const CHROMIUM = '/usr/bin/chromium';

/**
 * Chromium with a fresh profile of its own; `extraArgs` e.g. `--disable-3d-apis`. Without
 * Chromium it throws at once rather than returning a rejected promise: in
 * `Promise.all([launchBrowser(), startCli()])` the CLI then never starts, and no process is left
 * to keep the test file running.
 */
export function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install it with apt-get install -y --no-install-recommends chromium (as root; npm test does it)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: 30_000,
  });
}

export interface CliServer {
  /** The URL the CLI printed, e.g. `http://127.0.0.1:PORT/#token=...`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT/` */
  readonly base: string;
  readonly origin: string;
  /** The token from the printed URL; undefined with `--auth none`. */
  readonly token: string | undefined;
  readonly process: ChildProcess;
  /** What the CLI logged so far (JSON lines). */
  stderr(): string;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  close(): Promise<number | null>;
}

/**
 * Starts `node dist/cli/main.js --port 0 ARGS -- /bin/bash --norc --noprofile` with a fixed
 * prompt and its own HOME (so shells leave no history or .viminfo behind), and reads the URL
 * from the line it prints.
 */
export async function startCli(args: readonly string[] = []): Promise<CliServer> {
  if (!existsSync(CLI) || !existsSync(join(ROOT, 'dist/client/index.html'))) {
    throw new Error(`${CLI} or the page is not built: run npm run build first`);
  }
  const home = await mkdtemp(join(tmpdir(), 'xjs-browser-home-'));
  const child = spawn(
    process.execPath,
    [
      CLI,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--shell-logout-wait',
      '0.5',
      ...args,
      '--',
      ...SHELL,
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        LANG: 'C.UTF-8',
        PS1: PROMPT,
        // Keeps vim from probing for a clipboard server and waiting.
        DISPLAY: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  // waitFor retries a check that throws, so an early exit is returned, then reported.
  const printed = await waitFor(
    () => {
      const found = /open (http:\/\/\S+)/.exec(stdout)?.[1];
      return found !== undefined ? { url: found } : hasExited() ? { url: undefined } : undefined;
    },
    { timeout: DEADLINE, message: 'the CLI to print its URL' },
  ).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await rm(home, { recursive: true, force: true });
    throw error;
  });
  const url = printed.url;
  if (url === undefined) {
    await rm(home, { recursive: true, force: true });
    throw new Error(`the CLI exited (${child.exitCode}) before printing its URL: ${stderr}`);
  }
  const parsed = new URL(url);
  const token = new URLSearchParams(parsed.hash.slice(1)).get('token') ?? undefined;
  return {
    url,
    base: `${parsed.origin}/`,
    origin: parsed.origin,
    token,
    process: child,
    stderr: () => stderr,
    async close() {
      if (!hasExited()) {
        child.kill('SIGTERM');
      }
      try {
        await waitFor(hasExited, { timeout: DEADLINE, message: 'the CLI to exit on SIGTERM' });
      } finally {
        await rm(home, { recursive: true, force: true });
      }
      return child.exitCode;
    },
  };
}

/** The whole xterm.js buffer (scrollback and screen) as text, one line per row. */
export async function bufferText(page: Page | Frame): Promise<string> {
  return page.evaluate(() => {
    const buffer = window.term.buffer.active;
    const lines: string[] = [];
    for (let row = 0; row < buffer.length; row++) {
      lines.push(buffer.getLine(row)?.translateToString(true) ?? '');
    }
    return lines.join('\n');
  });
}

/** Waits until xterm's buffer contains `needle` (text, or a pattern's source and flags). */
export async function waitForBuffer(
  page: Page,
  needle: string | RegExp,
  timeout = DEADLINE,
): Promise<void> {
  const pattern: [string, string] | undefined =
    typeof needle === 'string' ? undefined : [needle.source, needle.flags];
  try {
    await page.waitForFunction(
      ({ text, pattern: source }) => {
        const buffer = window.term.buffer.active;
        const lines: string[] = [];
        for (let row = 0; row < buffer.length; row++) {
          lines.push(buffer.getLine(row)?.translateToString(true) ?? '');
        }
        const all = lines.join('\n');
        return source === undefined ? all.includes(text) : new RegExp(...source).test(all);
      },
      { text: typeof needle === 'string' ? needle : '', pattern },
      { timeout, polling: 50 },
    );
  } catch (error) {
    const tail = (await bufferText(page).catch(() => '')).trimEnd().slice(-600);
    throw new Error(
      `the terminal never showed ${String(needle)} (${(error as Error).message.split('\n')[0]}); it shows:\n${tail}`,
    );
  }
}

/** Types `command` and Enter into the focused terminal, as a user would. */
export async function typeCommand(page: Page, command: string): Promise<void> {
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

/** Waits for the page's state (`data-state` of #status): connecting, connected, exited… */
export async function waitForState(page: Page, state: string, timeout = DEADLINE): Promise<void> {
  try {
    await page.waitForFunction(
      (expected) => document.getElementById('status')?.dataset.state === expected,
      state,
      { timeout, polling: 50 },
    );
  } catch (error) {
    // Say where the page is instead, and what it shows: the failure is then readable in CI.
    const seen = await page
      .evaluate(() => {
        const status = document.getElementById('status');
        return `state ${status?.dataset.state ?? '(none)'}: ${status?.innerText.trim() ?? ''}`;
      })
      .catch(() => '(the page did not answer)');
    const screen = (await bufferText(page).catch(() => '')).trimEnd().slice(-600);
    throw new Error(
      `the page never reached state ${state} (${(error as Error).message.split('\n')[0]}); ${seen}; it shows:\n${screen}`,
    );
  }
}

/**
 * Loads `url` as a new document. A URL that differs from the current one only in its fragment
 * (`#token=…`) would otherwise be a same-document navigation: no new page, no new shell.
 */
export async function loadPage(page: Page, url: string): Promise<void> {
  const withoutFragment = (href: string): string => href.replace(/#.*$/, '');
  const sameDocument = withoutFragment(page.url()) === withoutFragment(url);
  await page.goto(url);
  if (sameDocument) {
    await page.reload();
  }
}

/** The printed URL with a query for the page's settings, e.g. `{ renderer: 'dom' }`. */
export function pageUrl(cli: CliServer, query: Record<string, string> = {}): string {
  const url = new URL(cli.url);
  for (const [name, value] of Object.entries(query)) {
    url.searchParams.set(name, value);
  }
  return url.href;
}

/**
 * Opens `url` in `page` (a new tab of `context` when given a context) and waits for a connected
 * shell's prompt.
 */
export async function openShell(target: BrowserContext | Page, url: string): Promise<Page> {
  const page = 'newPage' in target ? await target.newPage() : target;
  await loadPage(page, url);
  await waitForState(page, 'connected');
  await waitForBuffer(page, PROMPT);
  return page;
}

/** The buffer's text with the rows the terminal wrapped joined back into their lines. */
async function logicalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const buffer = window.term.buffer.active;
    let text = '';
    for (let row = 0; row < buffer.length; row++) {
      const line = buffer.getLine(row);
      // A row that wraps on keeps its trailing blanks: they are part of the line.
      const trim = buffer.getLine(row + 1)?.isWrapped !== true;
      text +=
        (row > 0 && line?.isWrapped !== true ? '\n' : '') + (line?.translateToString(trim) ?? '');
    }
    return text;
  });
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * Runs `command` and waits for the prompt after it: the command has finished. Returns the
 * buffer's text (wrapped rows joined) from the command line on.
 */
export async function runCommand(page: Page, command: string, timeout = DEADLINE): Promise<string> {
  const before = await logicalText(page);
  const prompts = occurrences(before, PROMPT);
  const echoes = occurrences(before, command);
  await typeCommand(page, command);
  // Done at a prompt after the command's own, new line. Counting prompts alone would take a new
  // shell's first prompt, printed after the command was typed ahead, for the command's end; and
  // the same command run earlier (by a shell since replaced) may still be in the scrollback.
  let text = '';
  try {
    await waitFor(
      async () => {
        text = await logicalText(page);
        const line = text.lastIndexOf(command);
        return (
          occurrences(text, PROMPT) > prompts &&
          occurrences(text, command) > echoes &&
          text.indexOf(PROMPT, line + command.length) >= 0
        );
      },
      { timeout, interval: 50, message: `the prompt after \`${command}\`` },
    );
  } catch (error) {
    const state = await page
      .evaluate(() => document.getElementById('status')?.dataset.state)
      .catch(() => '?');
    throw new Error(
      `${(error as Error).message}; the page is ${state}, the terminal shows:\n${text.trimEnd().slice(-600)}`,
    );
  }
  return text.slice(text.lastIndexOf(command));
}

/** The page's text at the status bar, as a user reads it. */
export async function statusText(page: Page): Promise<string> {
  return (await page.locator('#status').innerText()).trim();
}

/**
 * Saves a screenshot to test-results/screenshots/NAME.png; with SAVE_SCREENSHOTS=1 the ones
 * marked `docs` also go to docs/screenshots/ for the README.
 */
export async function saveScreenshot(
  page: Page,
  name: string,
  options: { docs?: boolean } = {},
): Promise<void> {
  const dirs = [join(ROOT, 'test-results/screenshots')];
  if (options.docs === true && process.env.SAVE_SCREENSHOTS === '1') {
    dirs.push(join(ROOT, 'docs/screenshots'));
  }
  const image = await page.screenshot({ animations: 'disabled', caret: 'hide' });
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}.png`), image);
  }
}

export interface CellPosition {
  /** Column and row on the screen (0-based, row 0 at the top of the viewport). */
  readonly col: number;
  readonly row: number;
  /** The pixel at the centre of that cell, for mouse and touch. */
  readonly x: number;
  readonly y: number;
}

/**
 * Where `needle` is on the screen: the lowest line that equals it (`whole: true`, an output line
 * rather than the command that printed it) or contains it. Undefined when it is not on screen.
 */
export async function locateText(
  page: Page,
  needle: string,
  options: { whole?: boolean } = {},
): Promise<CellPosition | undefined> {
  return page.evaluate(
    ({ text, whole }) => {
      const term = window.term;
      const buffer = term.buffer.active;
      const screen = document.querySelector('.xterm-screen')?.getBoundingClientRect();
      if (screen === undefined) {
        return undefined;
      }
      for (let row = term.rows - 1; row >= 0; row--) {
        const line = buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '';
        const col = whole ? (line === text ? 0 : -1) : line.indexOf(text);
        if (col >= 0) {
          const width = screen.width / term.cols;
          const height = screen.height / term.rows;
          return {
            col,
            row,
            x: screen.left + (col + 0.5) * width,
            y: screen.top + (row + 0.5) * height,
          };
        }
      }
      return undefined;
    },
    { text: needle, whole: options.whole === true },
  );
}

/** What most browser suites share: one Chromium, one CLI server, one context with a page. */
export interface BrowserSuite {
  readonly browser: Browser;
  readonly cli: CliServer;
  readonly context: BrowserContext;
  readonly page: Page;
}

/**
 * Starts Chromium and the CLI together (`cliArgs`: more flags for it), then a context
 * (`options`: viewport…) and a page.
 */
export async function openBrowserSuite(
  options: BrowserContextOptions,
  cliArgs: readonly string[] = [],
): Promise<BrowserSuite> {
  const [browser, cli] = await Promise.all([launchBrowser(), startCli(cliArgs)]);
  const context = await browser.newContext(options);
  return { browser, cli, context, page: await context.newPage() };
}

/** Ends what openBrowserSuite started (any part may be missing after a failed start). */
export async function closeBrowserSuite(
  suite: Partial<BrowserSuite>,
  baseline: ReadonlySet<number>,
): Promise<void> {
  await suite.context?.close();
  await suite.browser?.close();
  await suite.cli?.close();
  await assertNoStrayProcesses(baseline);
}
