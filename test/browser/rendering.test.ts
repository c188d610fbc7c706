// How the page draws: WebGL with a clean fallback to the DOM renderer, Unicode 11 widths,
// truecolor, full-screen programs on the alternate screen, and the window title (as text).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  bufferText,
  type CliServer,
  closeBrowserSuite,
  DESKTOP,
  launchBrowser,
  openBrowserSuite,
  openShell,
  pageUrl,
  processBaseline,
  PROMPT,
  runCommand,
  saveScreenshot,
  typeCommand,
  waitForBuffer,
} from '../helpers/browser.js';

/** The WebGL renderer's canvas (the link layer beside it is a 2D canvas). */
const WEBGL_CANVAS = '.xterm-screen > canvas:not(.xterm-link-layer)';

async function waitForRenderer(page: Page, renderer: 'webgl' | 'dom'): Promise<void> {
  await page.waitForFunction((name) => document.body.dataset.renderer === name, renderer, {
    polling: 50,
    timeout: 15_000,
  });
}

/** The text the DOM renderer shows on screen (its rows), as a user would read it. */
async function domRowsText(page: Page): Promise<string> {
  return page.locator('.xterm-rows').innerText();
}

describe('rendering in Chromium', () => {
  let browser: Browser;
  let cli: CliServer;
  let context: BrowserContext;
  let page: Page;
  const baseline = processBaseline();

  before(async () => {
    ({ browser, cli, context, page } = await openBrowserSuite(DESKTOP));
  });
  after(() => closeBrowserSuite({ browser, cli, context }, baseline));

  it('draws with WebGL, and falls back to the DOM renderer when the context is lost', async () => {
    await openShell(page, cli.url);
    await waitForRenderer(page, 'webgl');
    assert.equal(await page.locator(WEBGL_CANVAS).count(), 1);
    await runCommand(page, 'echo before-loss-$((40+2))');

    // What a GPU reset does: the context goes and does not come back.
    await page.evaluate((selector) => {
      const canvas = document.querySelector<HTMLCanvasElement>(selector);
      canvas?.getContext('webgl2')?.getExtension('WEBGL_lose_context')?.loseContext();
    }, WEBGL_CANVAS);
    await waitForRenderer(page, 'dom');
    assert.equal(await page.locator(WEBGL_CANVAS).count(), 0);
    assert.match(await domRowsText(page), /before-loss-42/, 'the screen is drawn again');

    await typeCommand(page, 'echo after-loss-$((40+3))');
    await page.waitForFunction(
      () => document.querySelector('.xterm-rows')?.textContent?.includes('after-loss-43'),
      undefined,
      { polling: 50 },
    );
  });

  it('uses the DOM renderer without fetching WebGL when the URL asks for it', async () => {
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname));
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await runCommand(page, 'echo dom-$((6*7))');
    assert.equal(await page.evaluate(() => document.body.dataset.renderer), 'dom');
    assert.match(await domRowsText(page), /^dom-42$/m);
    assert.ok(!requested.some((path) => path.includes('addon-webgl')), requested.join(' '));
    page.removeAllListeners('request');
  });

  it('uses the DOM renderer in a browser without WebGL', async () => {
    const noWebgl = await launchBrowser(['--disable-3d-apis']);
    try {
      const other = await openShell(await noWebgl.newContext(DESKTOP), cli.url);
      await waitForRenderer(other, 'dom');
      await typeCommand(other, 'echo no-webgl-$((6*7))');
      await other.waitForFunction(
        () => document.querySelector('.xterm-rows')?.textContent?.includes('no-webgl-42'),
        undefined,
        { polling: 50 },
      );
    } finally {
      await noWebgl.close();
    }
  });

  it('lays out CJK and emoji with Unicode 11 widths', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    // 漢字😀| as UTF-8 escapes, so the typed command stays ASCII.
    await runCommand(page, "printf '\\xe6\\xbc\\xa2\\xe5\\xad\\x97\\xf0\\x9f\\x98\\x80|\\n'");
    const cells = await page.evaluate(() => {
      const buffer = window.term.buffer.active;
      for (let row = 0; row < buffer.length; row++) {
        const line = buffer.getLine(row);
        if (line?.translateToString(true).startsWith('漢字')) {
          return Array.from({ length: 7 }, (_, x) => {
            const cell = line.getCell(x);
            return [cell?.getChars(), cell?.getWidth()];
          });
        }
      }
      return undefined;
    });
    assert.deepEqual(cells, [
      ['漢', 2],
      ['', 0],
      ['字', 2],
      ['', 0],
      ['😀', 2],
      ['', 0],
      ['|', 1],
    ]);
  });

  it('shows 24-bit colour exactly', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    // The word is assembled by printf so the command line itself holds no "TRUECOLOR".
    await runCommand(page, "printf '\\e[38;2;255;100;0m%s%s\\e[0m\\n' TRUE COLOR");
    const fg = await page.evaluate(() => {
      const buffer = window.term.buffer.active;
      for (let row = 0; row < buffer.length; row++) {
        const line = buffer.getLine(row);
        if (line?.translateToString(true) === 'TRUECOLOR') {
          const cell = line.getCell(0);
          return { rgb: cell?.isFgRGB(), color: cell?.getFgColor() };
        }
      }
      return undefined;
    });
    assert.deepEqual(fg, { rgb: true, color: 0xff6400 });
    const shown = await page
      .locator('.xterm-rows span', { hasText: /^TRUECOLOR$/ })
      .evaluate((span) => getComputedStyle(span).color);
    assert.equal(shown, 'rgb(255, 100, 0)');
  });

  it('opens vim on the alternate screen and gives the prompt back when it quits', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    const prompts = (await bufferText(page)).split(PROMPT).length - 1;
    await typeCommand(page, 'vim -u NONE -N -n');
    await page.waitForFunction(() => window.term.buffer.active.type === 'alternate', undefined, {
      polling: 50,
    });
    // vim draws its empty buffer: a column of tildes.
    await page.waitForFunction(
      () => {
        const buffer = window.term.buffer.active;
        let tildes = 0;
        for (let row = 0; row < window.term.rows; row++) {
          if (buffer.getLine(row)?.translateToString(true).startsWith('~')) {
            tildes++;
          }
        }
        return tildes >= 5;
      },
      undefined,
      { polling: 50 },
    );
    await page.keyboard.type('iedited-in-vim');
    await waitForBuffer(page, 'edited-in-vim');
    await saveScreenshot(page, 'desktop-vim');

    await page.keyboard.press('Escape');
    await typeCommand(page, ':q!');
    await page.waitForFunction(() => window.term.buffer.active.type === 'normal', undefined, {
      polling: 50,
    });
    await page.waitForFunction(
      ({ count, prompt }) => {
        const buffer = window.term.buffer.active;
        let text = '';
        for (let row = 0; row < buffer.length; row++) {
          text += (buffer.getLine(row)?.translateToString(true) ?? '') + '\n';
        }
        return text.split(prompt).length - 1 > count;
      },
      { count: prompts, prompt: PROMPT },
      { polling: 50 },
    );
    const text = await bufferText(page);
    assert.doesNotMatch(text, /edited-in-vim/, "vim's screen is gone with the alternate buffer");
    await runCommand(page, 'echo back-$((6*7))');
    await waitForBuffer(page, /^back-42$/m);
  });

  it('sets the window title from OSC 0 and 2, as text and never as markup', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await runCommand(
      page,
      'printf \'\\e]0;<img src=x onerror="document.body.dataset.owned=1">\\a\'',
    );
    await page.waitForFunction(() => document.title.startsWith('<img'), undefined, {
      polling: 50,
    });
    assert.equal(await page.title(), '<img src=x onerror="document.body.dataset.owned=1">');
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.evaluate(() => document.body.dataset.owned), undefined);

    await runCommand(page, "printf '\\e]2;%s\\a' second-title");
    await page.waitForFunction(() => document.title === 'second-title', undefined, {
      polling: 50,
    });
  });
});
