// Launches Debian's Chromium (playwright-core, fresh profile) and reads the page's terminal.
// The terminal is read through window.term, as the browser tests do.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Terminal } from '@xterm/xterm';

declare global {
  interface Window {
    term: Terminal;
  }
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BenchBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a profile of its own in a new temporary directory, removed on close. */
export async function launchChromium(): Promise<BenchBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'xjs-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 800 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the line the cursor is on starts with `prompt`. */
export async function waitForPromptLine(
  page: Page,
  prompt: string,
  timeout = 30_000,
): Promise<void> {
  await page.waitForFunction(
    (text) => {
      const buffer = window.term?.buffer.active;
      const line = buffer?.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true) ?? '';
      return line.startsWith(text);
    },
    prompt,
    { timeout, polling: 20 },
  );
}
