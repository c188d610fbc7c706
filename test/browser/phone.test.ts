// The page on a phone (390x844, touch): the key bar sends the keys an on-screen keyboard lacks,
// the terminal refits when the keyboard takes room, and pinch or buttons change the font size.
// The DOM renderer throughout: under Chromium's device-metrics emulation (deviceScaleFactor 2)
// the browser reports CSS pixels as the canvas' device-pixel box, and xterm.js' WebGL canvas
// comes out blank. Real phones report device pixels; the WebGL path is tested on the desktop.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  type CliServer,
  closeBrowserSuite,
  openBrowserSuite,
  openShell,
  pageUrl,
  PHONE,
  processBaseline,
  runCommand,
  saveScreenshot,
  typeCommand,
  waitForBuffer,
} from '../helpers/browser.js';

/**
 * Runs a command that puts the tty in raw-ish mode, says so with `marker`, then prints the next
 * `count` input bytes as one hex string. Keys must wait for the marker: before it, the tty would
 * still echo them or turn Ctrl+C into SIGINT.
 */
async function showInputBytes(
  page: Page,
  count: number,
  marker: string,
  before = '',
): Promise<void> {
  await typeCommand(
    page,
    `${before}stty -icanon -echo -isig; echo ${marker}-$((1)); head -c ${count} | od -An -tx1 -v | tr -d ' \\n'; echo; stty sane`,
  );
  await waitForBuffer(page, new RegExp(`^${marker}-1$`, 'm'));
}

async function tapKey(page: Page, name: string): Promise<void> {
  await page.locator('#keybar').getByRole('button', { name, exact: true }).tap();
}

describe('the page on a phone', () => {
  let browser: Browser;
  let cli: CliServer;
  let context: BrowserContext;
  let page: Page;
  const baseline = processBaseline();

  before(async () => {
    ({ browser, cli, context, page } = await openBrowserSuite(PHONE));
  });
  after(() => closeBrowserSuite({ browser, cli, context }, baseline));

  it('shows the key bar, whose keys send Ctrl+C, arrows, Esc, Tab, | ~ / and Alt', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    const keybar = page.locator('#keybar');
    assert.ok(await keybar.isVisible(), 'the key bar shows on a touch device');
    await runCommand(page, 'ls -d /usr/*/ | head -5');
    await saveScreenshot(page, 'phone-connected', { docs: true });

    await showInputBytes(page, 20, 'keys');
    await tapKey(page, 'Ctrl');
    assert.equal(
      await keybar.getByRole('button', { name: 'Ctrl' }).getAttribute('aria-pressed'),
      'true',
    );
    await page.keyboard.type('c');
    assert.equal(
      await keybar.getByRole('button', { name: 'Ctrl' }).getAttribute('aria-pressed'),
      'false',
    );
    for (const key of ['Up', 'Down', 'Right', 'Left', 'Esc', 'Tab', '|', '~', '/', 'Alt']) {
      await tapKey(page, key);
    }
    await page.keyboard.type('x');
    // ^C, up, down, right, left, Esc, Tab, |, ~, /, Alt+x
    await waitForBuffer(page, /^031b5b411b5b421b5b431b5b441b097c7e2f1b78$/m);
  });

  it('sends application cursor keys when the program asks for them (as vim does)', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await showInputBytes(page, 6, 'app-keys', "printf '\\e[?1h'; ");
    assert.equal(await page.evaluate(() => window.term.modes.applicationCursorKeysMode), true);
    await tapKey(page, 'Up');
    await tapKey(page, 'Left');
    await waitForBuffer(page, /^1b4f411b4f44$/m);
  });

  it('refits the terminal when the on-screen keyboard takes half the screen', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    const rows = await page.evaluate(() => window.term.rows);
    // What the keyboard does to the viewport (Chrome resizes it: interactive-widget).
    await page.setViewportSize({ width: 390, height: 420 });
    await page.waitForFunction((old) => window.term.rows < old, rows, { polling: 50 });
    const box = await page.locator('#keybar').boundingBox();
    assert.ok(
      box !== null && box.y + box.height <= 420,
      `key bar inside the view: ${JSON.stringify(box)}`,
    );
    const [newRows, cols] = await page.evaluate(() => [window.term.rows, window.term.cols]);
    await runCommand(page, 'echo "size:$(stty size)."');
    await waitForBuffer(page, `size:${newRows} ${cols}.`);
    await saveScreenshot(page, 'phone-keyboard-open', { docs: true });
    await page.setViewportSize(PHONE.viewport);
  });

  it('changes the font size with a pinch and with the A+ and A− buttons', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    assert.equal(await page.evaluate(() => window.term.options.fontSize), 14);
    await page.getByRole('button', { name: 'Larger text' }).tap();
    await page.waitForFunction(() => window.term.options.fontSize === 15, undefined, {
      polling: 50,
    });
    await page.getByRole('button', { name: 'Smaller text' }).tap();
    await page.waitForFunction(() => window.term.options.fontSize === 14, undefined, {
      polling: 50,
    });

    // Two fingers moving apart to twice their distance: twice the font size.
    const cdp = await context.newCDPSession(page);
    const touch = (
      type: 'touchStart' | 'touchMove' | 'touchEnd',
      spread: number,
    ): Promise<unknown> =>
      cdp.send('Input.dispatchTouchEvent', {
        type,
        touchPoints:
          type === 'touchEnd'
            ? []
            : [
                { x: 195 - spread, y: 300, id: 1 },
                { x: 195 + spread, y: 300, id: 2 },
              ],
      });
    await touch('touchStart', 40);
    await touch('touchMove', 60);
    await touch('touchMove', 80);
    await touch('touchEnd', 0);
    await page.waitForFunction(() => window.term.options.fontSize === 28, undefined, {
      polling: 50,
    });
    await cdp.detach();
    const stored = await page.evaluate(() => localStorage.getItem('xterm-js-shell.settings'));
    assert.deepEqual(JSON.parse(stored ?? '{}'), { fontSize: 28 });
    await page.evaluate(() => localStorage.clear());
  });
});
