// The page's settings (font size, theme, screen reader mode), remembered in localStorage and
// overridable by URL query; search in the scrollback; addons fetched only when needed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  type CliServer,
  closeBrowserSuite,
  DESKTOP,
  openBrowserSuite,
  openShell,
  pageUrl,
  processBaseline,
  runCommand,
  saveScreenshot,
  waitForBuffer,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/wait-for.js';

async function fontSize(page: Page): Promise<number | undefined> {
  return page.evaluate(() => window.term.options.fontSize);
}

async function waitForFontSize(page: Page, size: number): Promise<void> {
  await page.waitForFunction((expected) => window.term.options.fontSize === expected, size, {
    polling: 50,
  });
}

/** The terminal's background as xterm.js paints it around the text, e.g. 'rgb(251, 251, 251)'. */
async function terminalBackground(page: Page): Promise<string> {
  return page
    .locator('.xterm-scrollable-element')
    .evaluate((element) => getComputedStyle(element).backgroundColor);
}

describe('settings and search in Chromium', () => {
  let browser: Browser;
  let cli: CliServer;
  let context: BrowserContext;
  let page: Page;
  const baseline = processBaseline();

  before(async () => {
    ({ browser, cli, context, page } = await openBrowserSuite(DESKTOP));
  });
  after(() => closeBrowserSuite({ browser, cli, context }, baseline));

  // Each test starts with nothing remembered and no listeners of an earlier test.
  async function freshPage(): Promise<Page> {
    page.removeAllListeners('console');
    page.removeAllListeners('response');
    if (page.url().startsWith(cli.base)) {
      await page.evaluate(() => localStorage.clear());
    }
    return page;
  }

  it('changes the font size with Ctrl+plus, Ctrl+minus, Ctrl+0 and the bar’s buttons', async () => {
    await openShell(await freshPage(), pageUrl(cli, { renderer: 'dom' }));
    assert.equal(await fontSize(page), 14);
    const cols = await page.evaluate(() => window.term.cols);

    await page.keyboard.press('Control+Equal');
    await page.keyboard.press('Control+Equal');
    await waitForFontSize(page, 16);
    assert.ok((await page.evaluate(() => window.term.cols)) < cols, 'larger text, fewer columns');
    await page.keyboard.press('Control+Minus');
    await waitForFontSize(page, 15);
    await page.keyboard.press('Control+0');
    await waitForFontSize(page, 14);

    await page.getByRole('button', { name: 'Larger text' }).click();
    await waitForFontSize(page, 15);
    await page.getByRole('button', { name: 'Smaller text' }).click();
    await page.getByRole('button', { name: 'Smaller text' }).click();
    await waitForFontSize(page, 13);
    // The shell sees the new size.
    const [rows, newCols] = await page.evaluate(() => [window.term.rows, window.term.cols]);
    await runCommand(page, 'echo "size:$(stty size)."');
    await waitForBuffer(page, `size:${rows} ${newCols}.`);
  });

  it('switches to the light theme and remembers it and the font size after a reload', async () => {
    await openShell(await freshPage(), cli.url);
    await runCommand(
      page,
      'printf "\\e[1;32mgreen\\e[0m \\e[1;34mblue\\e[0m \\e[7mreverse\\e[0m\\n"',
    );
    assert.equal(await terminalBackground(page), 'rgb(30, 30, 30)');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Theme').selectOption('light');
    await page.getByLabel('Font size').fill('17');
    await page.getByLabel('Font size').press('Enter');
    await waitForFontSize(page, 17);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.equal(await terminalBackground(page), 'rgb(251, 251, 251)');
    await saveScreenshot(page, 'desktop-light-settings', { docs: true });

    await openShell(page, cli.url);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.equal(await terminalBackground(page), 'rgb(251, 251, 251)');
    assert.equal(await fontSize(page), 17);
    const stored = await page.evaluate(() => localStorage.getItem('xterm-js-shell.settings'));
    assert.deepEqual(JSON.parse(stored ?? '{}'), { theme: 'light', fontSize: 17 });
  });

  it('takes settings from the URL query for embedding, without storing them', async () => {
    await freshPage();
    const warnings: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'warning') {
        warnings.push(message.text());
      }
    });
    await openShell(
      page,
      pageUrl(cli, { theme: 'light', fontSize: '16', renderer: 'dom', keybar: 'banana' }),
    );
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.equal(await fontSize(page), 16);
    assert.equal(await page.evaluate(() => localStorage.getItem('xterm-js-shell.settings')), null);
    assert.ok(
      warnings.some((text) => text.includes('keybar="banana" ignored: expected auto, on or off')),
      `a warning names the bad parameter: ${warnings.join(' | ')}`,
    );
    assert.equal(await page.locator('#keybar').isVisible(), false, 'no key bar on a desktop');

    // A change the user makes is remembered, and wins over the query from then on.
    await page.keyboard.press('Control+Equal');
    await waitForFontSize(page, 17);
    const stored = await page.evaluate(() => localStorage.getItem('xterm-js-shell.settings'));
    assert.deepEqual(JSON.parse(stored ?? '{}'), { fontSize: 17 });
  });

  it('turns on screen reader mode, which mirrors the output in an accessibility tree', async () => {
    await openShell(await freshPage(), pageUrl(cli, { renderer: 'dom' }));
    assert.equal(await page.locator('.xterm-accessibility-tree').count(), 0);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Screen reader mode').check();
    await page.keyboard.press('Escape');
    await page.locator('#terminal').click();
    await runCommand(page, 'echo spoken-$((6*7))');
    await page.waitForFunction(
      () => document.querySelector('.xterm-accessibility-tree')?.textContent?.includes('spoken-42'),
      undefined,
      { polling: 50 },
    );
    assert.equal(await page.evaluate(() => window.term.options.screenReaderMode), true);

    await openShell(page, pageUrl(cli, { renderer: 'dom', screenReader: 'false' }));
    assert.equal(await page.locator('.xterm-accessibility-tree').count(), 0);
  });

  it('finds text in the scrollback with Ctrl+Shift+F, fetching the search addon only then', async () => {
    await freshPage();
    const fetched: string[] = [];
    page.on('response', (response) => {
      fetched.push(new URL(response.url()).pathname);
    });
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await runCommand(page, 'echo needle-$((6*7)); seq 1 300');
    assert.equal(
      fetched.some((path) => path.includes('addon-search')),
      false,
      fetched.join(' '),
    );
    const scrolledTo = await page.evaluate(() => window.term.buffer.active.viewportY);

    await page.keyboard.press('Control+Shift+F');
    const input = page.getByRole('searchbox', { name: 'Find in scrollback' });
    await input.waitFor({ state: 'visible' });
    await input.fill('needle-42');
    await page.waitForFunction(() => window.term.getSelection() === 'needle-42', undefined, {
      polling: 50,
    });
    assert.equal(await page.locator('#search-count').innerText(), '1 of 1');
    assert.ok(
      (await page.evaluate(() => window.term.buffer.active.viewportY)) < scrolledTo,
      'the terminal scrolled up to the match',
    );
    assert.ok(fetched.some((path) => /\/chunks\/addon-search-\w+\.js$/.test(path)));
    await saveScreenshot(page, 'desktop-search');

    await input.press('Escape');
    assert.equal(await input.isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'TEXTAREA');
  });

  it('serves hashed scripts with a year-long cache and compression, the page revalidated', async () => {
    // A new profile: nothing in the browser's cache yet.
    const own = await browser.newContext(DESKTOP);
    const fresh = await own.newPage();
    const headers = new Map<string, Record<string, string>>();
    fresh.on('response', (response) => {
      headers.set(new URL(response.url()).pathname, response.headers());
    });
    await openShell(fresh, cli.url);
    // The links addon is fetched after the first hello, not on the way to the prompt.
    await waitFor(() => [...headers.keys()].some((path) => path.includes('/addon-web-links-')), {
      message: 'the links chunk, fetched after the first hello',
    });
    await own.close();
    const html = headers.get('/');
    assert.equal(html?.['cache-control'], 'no-cache');
    const scripts = [...headers.keys()].filter((path) => path.endsWith('.js'));
    assert.ok(
      scripts.some((path) => /^\/assets\/main-\w{8}\.js$/.test(path)),
      scripts.join(' '),
    );
    assert.ok(
      scripts.some((path) => /^\/assets\/chunks\/addon-web-links-\w{8}\.js$/.test(path)),
      scripts.join(' '),
    );
    for (const path of scripts) {
      assert.equal(headers.get(path)?.['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(headers.get(path)?.['content-encoding'], 'gzip', path);
    }
  });
});
