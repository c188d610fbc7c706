// A 20 MB flood in Chromium: flow control keeps what the page has queued bounded, the page keeps
// answering, every byte is shown, and Ctrl+C during `yes` stops it after little more output.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEFAULT_HIGH_WATER_BYTES } from '../../src/server/connection/handler-options.js';
import {
  assertNoStrayProcesses,
  DESKTOP,
  launchBrowser,
  openShell,
  pageUrl,
  processBaseline,
  PROMPT,
  startCli,
  typeCommand,
  waitForBuffer,
  type CliServer,
} from '../helpers/browser.js';

/** The server's defaults: pause above the high-water mark; a frame is at most 64 KiB. */
const HIGH_WATER = DEFAULT_HIGH_WATER_BYTES;
const ONE_READ = 64 * 1024;

interface Counters {
  readonly received: number;
  readonly processed: number;
}

async function counters(page: Page): Promise<Counters> {
  return page.evaluate(() => ({
    received: window.xtermJsShell.received,
    processed: window.xtermJsShell.processed,
  }));
}

describe('a flood in Chromium', () => {
  let browser: Browser;
  let cli: CliServer;
  let context: BrowserContext;
  const baseline = processBaseline();

  before(async () => {
    [browser, cli] = await Promise.all([launchBrowser(), startCli()]);
    context = await browser.newContext(DESKTOP);
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await cli?.close();
    await assertNoStrayProcesses(baseline);
  });

  it('keeps the page queue bounded through 20 MB and shows all of it', async () => {
    const page = await openShell(context, pageUrl(cli, { renderer: 'dom' }));
    const start = (await counters(page)).received;
    await typeCommand(
      page,
      'head -c 15000000 /dev/zero | base64 -w 99 | head -c 20000000; echo; echo flood-$((1+1))-done',
    );
    let queuedMost = 0;
    let samples = 0;
    // Sample while it flows: each evaluate is also a round trip that proves the page answers.
    for (;;) {
      const { received, processed } = await counters(page);
      queuedMost = Math.max(queuedMost, received - processed);
      samples += 1;
      if (received - start >= 20_000_000) break;
      await page.waitForTimeout(100);
    }
    await waitForBuffer(page, /^flood-2-done$/m, 120_000);
    assert.ok(samples > 5, `too few samples (${samples}) to judge the queue`);
    assert.ok(
      queuedMost <= HIGH_WATER + ONE_READ,
      `the page had ${queuedMost} bytes queued; flow control allows ${HIGH_WATER + ONE_READ}`,
    );
    const { received, processed } = await counters(page);
    assert.equal(processed, received, 'everything received was processed');
    assert.ok(received - start > 20_000_000);
    await page.close();
  });

  it('stops `yes` with Ctrl+C after little more output, and the prompt comes back', async () => {
    const page = await openShell(context, pageUrl(cli, { renderer: 'dom' }));
    const start = (await counters(page)).received;
    await typeCommand(page, 'yes');
    await page.waitForFunction((from) => window.xtermJsShell.received - from > 2_000_000, start, {
      polling: 50,
      timeout: 60_000,
    });
    const atInterrupt = (await counters(page)).received;
    await page.keyboard.press('Control+c');
    // The prompt is back: it is the last line drawn (earlier prompts scrolled out of the buffer).
    await page.waitForFunction(
      (prompt) => {
        const buffer = window.term.buffer.active;
        for (let row = buffer.length - 1; row >= 0; row--) {
          const line = buffer.getLine(row)?.translateToString(true) ?? '';
          if (line.trim() !== '') return line === prompt.trimEnd() || line === prompt;
        }
        return false;
      },
      PROMPT,
      { polling: 50, timeout: 60_000 },
    );
    const after = (await counters(page)).received;
    // What was in flight (at most the high-water mark) and in the pty's buffer, no more.
    assert.ok(
      after - atInterrupt <= HIGH_WATER + 4 * ONE_READ,
      `${after - atInterrupt} bytes arrived after Ctrl+C`,
    );
    await page.close();
  });
});
