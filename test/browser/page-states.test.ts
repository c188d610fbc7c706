// Chromium against the CLI: the printed URL gives a working shell, and every state of the page
// (connecting, connected, enter token, authentication failed, exited, disconnected) is shown.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  type CliServer,
  closeBrowserSuite,
  DESKTOP,
  loadPage,
  openBrowserSuite,
  openShell,
  pageUrl,
  processBaseline,
  PROMPT,
  runCommand,
  saveScreenshot,
  startCli,
  statusText,
  typeCommand,
  waitForBuffer,
  waitForState,
} from '../helpers/browser.js';

/** Runs `stty size` and returns "ROWS COLS" as the shell sees it. */
async function sttySize(page: Page): Promise<string> {
  const text = await runCommand(page, 'echo "size:$(stty size)."');
  const size = /^size:(\d+ \d+)\.$/m.exec(text)?.[1];
  assert.ok(size !== undefined, `no stty size output in:\n${text}`);
  return size;
}

describe('the page in Chromium', () => {
  let browser: Browser;
  let cli: CliServer;
  let context: BrowserContext;
  let page: Page;
  const baseline = processBaseline();

  before(async () => {
    ({ browser, cli, context, page } = await openBrowserSuite(DESKTOP));
  });
  after(() => closeBrowserSuite({ browser, cli, context }, baseline));

  it('opens the printed URL, shows connecting then connected, and runs a typed command', async () => {
    assert.match(cli.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{20,}$/);
    const first = await context.newPage();
    // Record every state the status shows, from the first one in the HTML on.
    // (No named functions inside: tsx would wrap them in a helper the page does not have.)
    await first.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { states: string[] }).states = seen;
      new MutationObserver(() => {
        const state = document.getElementById('status')?.dataset.state;
        if (state !== undefined && seen.at(-1) !== state) {
          seen.push(state);
        }
      }).observe(document, { subtree: true, attributeFilter: ['data-state'] });
    });
    await first.goto(cli.url);
    await waitForState(first, 'connected');
    const states = await first.evaluate(() => (window as unknown as { states: string[] }).states);
    assert.deepEqual(states, ['connecting', 'connected']);
    assert.equal(await statusText(first), 'Connected');

    await waitForBuffer(first, PROMPT);
    await typeCommand(first, 'echo hello-$((6*7))');
    await waitForBuffer(first, /^hello-42$/m);
    await saveScreenshot(first, 'desktop-connected', { docs: true });
    await first.close();
  });

  it('changes the shell’s stty size when the window is resized', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    const before = await sttySize(page);
    const [rows, cols] = await page.evaluate(() => [window.term.rows, window.term.cols]);
    assert.equal(before, `${rows} ${cols}`);

    await page.setViewportSize({ width: 800, height: 500 });
    await page.waitForFunction((old) => window.term.cols < old, cols, { polling: 50 });
    const after = await sttySize(page);
    const [newRows, newCols] = await page.evaluate(() => [window.term.rows, window.term.cols]);
    assert.equal(after, `${newRows} ${newCols}`);
    assert.ok(newRows < rows && newCols < cols, `${after} should be smaller than ${before}`);
    await page.setViewportSize(DESKTOP.viewport);
  });

  it('shows authentication failed for a wrong token, and connects with the right one', async () => {
    await loadPage(page, `${cli.base}?renderer=dom#token=not-the-token-0123456789`);
    await waitForState(page, 'auth-failed');
    assert.match(await statusText(page), /authentication failed/i);
    assert.ok(await page.locator('#token-form').isVisible(), 'the form offers another try');
    assert.equal(await page.locator('#status-action').isVisible(), false);
    await saveScreenshot(page, 'desktop-auth-failed');

    await page.locator('#token-input').fill(cli.token ?? '');
    await page.locator('#token-form button[type=submit]').click();
    await waitForState(page, 'connected');
    await waitForBuffer(page, PROMPT);
    assert.equal(await page.locator('#token-form').isVisible(), false);
  });

  it('asks for the token when the URL carries none, and connects once it is submitted', async () => {
    // A new tab: a tab that had the token keeps it (sessionStorage) for its reloads.
    const page = await context.newPage();
    await loadPage(page, `${cli.base}?renderer=dom`);
    await waitForState(page, 'enter-token');
    assert.match(await statusText(page), /enter the access token/i);
    const form = page.locator('#token-form');
    assert.ok(await form.isVisible());
    await saveScreenshot(page, 'desktop-enter-token', { docs: true });

    await page.locator('#token-input').fill(cli.token ?? '');
    await page.keyboard.press('Enter');
    await waitForState(page, 'connected');
    await waitForBuffer(page, PROMPT);
    await typeCommand(page, 'echo token-ok-$((2+3))');
    await waitForBuffer(page, /^token-ok-5$/m);
    assert.equal(await page.evaluate(() => location.hash), '', 'the token never enters the URL');
    await page.close();
  });

  it('shows the exit status when the shell exits, and New shell starts another', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await typeCommand(page, 'echo first-shell; exit 3');
    await waitForState(page, 'exited');
    assert.match(await statusText(page), /Shell exited with code 3/);
    const newShell = page.locator('#status-action');
    assert.equal(await newShell.innerText(), 'New shell');
    await saveScreenshot(page, 'desktop-exited', { docs: true });

    await newShell.click();
    await waitForState(page, 'connected');
    await waitForBuffer(page, PROMPT);
    await typeCommand(page, 'echo second-shell-$((1+1))');
    await waitForBuffer(page, /^second-shell-2$/m);
  });

  it('shows disconnected with the reason when the server shuts down', async () => {
    const own = await startCli();
    try {
      await openShell(page, pageUrl(own, { renderer: 'dom' }));
      assert.equal(await own.close(), 0);
      await waitForState(page, 'disconnected');
      assert.equal(
        await page.locator('#status-text').innerText(),
        'Disconnected: Server shutting down (code 1001)',
      );
      assert.equal(await page.locator('#status-action').innerText(), 'Connect again');
      await saveScreenshot(page, 'desktop-disconnected');
    } finally {
      await own.close();
    }
  });
});
