// Copy and paste between the terminal and the system clipboard (copy on select, Ctrl+Shift+C/V,
// the context menu, bracketed paste, no control characters in any paste), and clickable links
// that open without an opener.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  bufferText,
  type CliServer,
  closeBrowserSuite,
  DEADLINE,
  DESKTOP,
  locateText,
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
import { waitFor } from '../helpers/wait-for.js';

async function clipboardText(page: Page): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText());
}

async function setClipboard(page: Page, text: string): Promise<void> {
  await page.evaluate((value) => navigator.clipboard.writeText(value), text);
}

/** Double-clicks the output line `word` (xterm.js selects the word under a double-click). */
async function doubleClickWord(page: Page, word: string): Promise<void> {
  const at = await locateText(page, word, { whole: true });
  assert.ok(at !== undefined, `${word} is not on screen`);
  await page.mouse.dblclick(at.x, at.y);
  await page.waitForFunction((text) => window.term.getSelection() === text, word, {
    polling: 50,
  });
}

function hex(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex');
}

/**
 * Finding F3: ESC[201~ ends bracketed paste early, Ctrl+U kills the line typed so far, and the
 * rest runs as typed keys: `touch TARGET` instead of the echo the user saw.
 */
function escapingPaste(target: string): string {
  return `echo harmless-looking\x1b[201~\x15touch ${target}\r`;
}

/**
 * Pastes the F3 text with `paste`, then Enter, and fails if `touch` ran; else bash got one
 * literal command line and echoes it back whole.
 */
async function assertPasteStaysText(
  page: Page,
  target: string,
  paste: () => Promise<void>,
): Promise<void> {
  // bash 5.2 (readline 8.2) turns bracketed paste on at its prompt by itself.
  assert.equal(await page.evaluate(() => window.term.modes.bracketedPasteMode), true);
  await setClipboard(page, escapingPaste(target));
  await paste();
  await page.keyboard.press('Enter');
  const literal = `harmless-looking[201~touch ${target}`;
  await waitFor(
    async () => existsSync(target) || (await bufferText(page)).split('\n').includes(literal),
    { timeout: DEADLINE, message: `touch to run or the echo of ${literal}` },
  );
  assert.equal(existsSync(target), false, `the paste left its brackets and ran touch ${target}`);
}

describe('clipboard and links in Chromium', () => {
  let browser: Browser;
  let cli: CliServer;
  let context: BrowserContext;
  let page: Page;
  const baseline = processBaseline();

  before(async () => {
    ({ browser, cli, context, page } = await openBrowserSuite({
      ...DESKTOP,
      permissions: ['clipboard-read', 'clipboard-write'],
    }));
  });
  after(() => closeBrowserSuite({ browser, cli, context }, baseline));

  it('copies a selected word on select, and Ctrl+Shift+V pastes it back to the shell', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await runCommand(page, 'echo RT$((40+2))X');
    await setClipboard(page, 'nothing yet');
    await doubleClickWord(page, 'RT42X');
    await waitFor(async () => (await clipboardText(page)) === 'RT42X', {
      message: 'the selection in the clipboard',
    });

    await page.keyboard.type('echo copied-');
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');
    await waitForBuffer(page, /^copied-RT42X$/m);
  });

  it('copies the selection with Ctrl+Shift+C when copy on select is off', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom', copyOnSelect: 'false' }));
    await runCommand(page, 'echo CC$((6*7))Y');
    await setClipboard(page, 'before');
    await doubleClickWord(page, 'CC42Y');
    await page.keyboard.press('Control+Shift+C');
    await waitFor(async () => (await clipboardText(page)) === 'CC42Y', {
      message: 'Ctrl+Shift+C to copy the selection',
    });
    // Ctrl+Shift+C is the page's: the shell got no ^C (the prompt line is still empty).
    await page.keyboard.type('echo still-$((1+1))');
    await page.keyboard.press('Enter');
    await waitForBuffer(page, /^still-2$/m);
  });

  it('pastes with bracketed paste when the shell turned the mode on', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await setClipboard(page, 'paste-me');
    // Mode 2004 on, then show the next 20 bytes the terminal sends, in hex.
    // (The paste waits for "ready-1": before it the tty would still echo what arrives.)
    await typeCommand(
      page,
      "printf '\\e[?2004h'; stty -icanon -echo; echo ready-$((1)); head -c 20 | od -An -tx1 -v | tr -d ' \\n'; echo; stty sane",
    );
    await waitForBuffer(page, /^ready-1$/m);
    assert.equal(await page.evaluate(() => window.term.modes.bracketedPasteMode), true);
    await page.keyboard.press('Control+Shift+V');
    await waitForBuffer(page, `${hex('\x1b[200~')}${hex('paste-me')}${hex('\x1b[201~')}`);
  });

  it('pastes from the context menu, whose Copy needs a selection', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    await setClipboard(page, 'from-menu');
    await page.keyboard.type('echo menu-');
    await waitForBuffer(page, 'echo menu-');
    const at = await locateText(page, 'echo menu-');
    assert.ok(at !== undefined);
    await page.mouse.click(at.x, at.y, { button: 'right' });
    const menu = page.locator('#context-menu');
    assert.ok(await menu.isVisible(), 'a right click opens the menu');
    assert.ok(await menu.locator('[data-action=copy]').isDisabled(), 'nothing to copy');
    await saveScreenshot(page, 'desktop-context-menu');
    await menu.locator('[data-action=paste]').click();
    assert.equal(await menu.isVisible(), false);
    await page.keyboard.press('Enter');
    await waitForBuffer(page, /^menu-from-menu$/m);
  });

  describe('a paste carries no control characters (finding F3)', () => {
    let dir: string;
    before(async () => (dir = await mkdtemp(join(tmpdir(), 'xjs-paste-'))));
    after(() => rm(dir, { recursive: true, force: true }));

    it('Ctrl+Shift+V: the bracket holds, and the page says what it removed', async () => {
      await openShell(page, pageUrl(cli, { renderer: 'dom' }));
      const notice = page.locator('#notice', {
        hasText: 'Removed 2 control characters from the paste',
      });
      let noticed: Promise<boolean> | undefined;
      await assertPasteStaysText(page, join(dir, 'shortcut'), async () => {
        noticed = notice.waitFor().then(
          () => true,
          () => false,
        );
        await page.keyboard.press('Control+Shift+V');
      });
      assert.equal(await noticed, true, 'the notice says what was removed');
    });

    it('the context menu’s Paste', async () => {
      await openShell(page, pageUrl(cli, { renderer: 'dom' }));
      await assertPasteStaysText(page, join(dir, 'menu'), async () => {
        const at = await locateText(page, PROMPT.trimEnd());
        assert.ok(at !== undefined);
        await page.mouse.click(at.x, at.y, { button: 'right' });
        await page.locator('#context-menu [data-action=paste]').click();
      });
    });

    it('the browser’s own paste (Shift+Insert), which xterm.js would take unfiltered', async () => {
      await openShell(page, pageUrl(cli, { renderer: 'dom' }));
      await assertPasteStaysText(page, join(dir, 'shift-insert'), async () => {
        await page.keyboard.press('Shift+Insert');
      });
      assert.equal(await page.evaluate(() => window.term.textarea?.value), '', 'nothing left over');
    });

    it('a paste event that reaches xterm.js’s element rather than its textarea', async () => {
      await openShell(page, pageUrl(cli, { renderer: 'dom' }));
      await assertPasteStaysText(page, join(dir, 'element-event'), () =>
        page.evaluate(async () => {
          const clipboardData = new DataTransfer();
          clipboardData.setData('text/plain', await navigator.clipboard.readText());
          const paste = new ClipboardEvent('paste', { clipboardData, bubbles: true });
          document.querySelector('#terminal .xterm')?.dispatchEvent(paste);
        }),
      );
    });

    it('Ctrl+Shift+V where the clipboard API is missing (an insecure origin)', async () => {
      const insecure = await context.newPage();
      try {
        await insecure.addInitScript(() =>
          Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined }),
        );
        await openShell(insecure, pageUrl(cli, { renderer: 'dom' }));
        const target = join(dir, 'no-clipboard-api');
        await setClipboard(page, escapingPaste(target)); // the clipboard is the browser's
        await assertPasteStaysText(insecure, target, async () => {
          await insecure.keyboard.press('Control+Shift+V');
        });
      } finally {
        await insecure.close();
      }
    });

    it('text dropped on the terminal is not typed: xterm.js takes no drops', async () => {
      await openShell(page, pageUrl(cli, { renderer: 'dom' }));
      const target = join(dir, 'drop');
      const at = await locateText(page, PROMPT.trimEnd());
      assert.ok(at !== undefined);
      // A right click moves xterm's textarea under the pointer: the drop lands in it.
      await page.mouse.click(at.x, at.y, { button: 'right' });
      await page.keyboard.press('Escape');
      await page.evaluate((text) => {
        const source = document.createElement('div');
        source.id = 'drag-source';
        source.textContent = text;
        source.style.cssText = 'position: fixed; right: 0; top: 0; z-index: 9999'; // on the bar
        document.body.append(source);
      }, escapingPaste(target));
      await page.locator('#drag-source').selectText();
      const screen = await page.locator('.xterm-screen').boundingBox();
      assert.ok(screen !== null);
      await page.dragAndDrop('#drag-source', '.xterm-screen', {
        targetPosition: { x: at.x - screen.x, y: at.y - screen.y },
      });
      await page.evaluate(() => document.getElementById('drag-source')?.remove());
      assert.match((await page.evaluate(() => window.term.textarea?.value)) ?? '', /touch/);
      await page.keyboard.type('echo after-drop');
      await page.keyboard.press('Enter');
      await waitForBuffer(page, /^after-drop$/m);
      assert.equal(existsSync(target), false);
    });
  });

  it('opens a printed link in a new tab without an opener, showing its address', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    const link = `${cli.base}healthz?from=terminal&n=42`;
    await runCommand(page, `echo '${link}'`);
    const at = await locateText(page, link, { whole: true });
    assert.ok(at !== undefined);
    await page.mouse.move(at.x + 40, at.y);
    const tip = page.locator('#link-tip');
    await tip.waitFor({ state: 'visible' });
    assert.equal(await tip.innerText(), link);

    const [popup] = await Promise.all([
      context.waitForEvent('page'),
      page.mouse.click(at.x + 40, at.y),
    ]);
    await popup.waitForLoadState();
    assert.equal(popup.url(), link);
    assert.equal(await popup.evaluate(() => window.opener === null), true, 'no window.opener');
    assert.match(await popup.locator('body').innerText(), /"status":\s*"ok"/);
    await popup.close();
  });

  it('shows an OSC 8 hyperlink’s target on hover as text, never as markup', async () => {
    await openShell(page, pageUrl(cli, { renderer: 'dom' }));
    const target = `${cli.base}healthz?q=<b>bold</b>`;
    await runCommand(page, `printf '\\e]8;;%s\\e\\\\%s\\e]8;;\\e\\\\\\n' '${target}' osc8-label`);
    const at = await locateText(page, 'osc8-label', { whole: true });
    assert.ok(at !== undefined);
    await page.mouse.move(at.x + 10, at.y);
    const tip = page.locator('#link-tip');
    await tip.waitFor({ state: 'visible' });
    assert.equal(await tip.innerText(), target);
    assert.equal(await tip.locator('*').count(), 0, 'the tip holds text, no elements');
    assert.equal(await page.locator('b').count(), 0);
  });
});
