// The exact screen for a page that joins or comes back after more output than the replay holds
// (docs/screen-state.md), in Chromium with a 64 KiB replay buffer: the alternate screen, a mark
// at its cell and application cursor keys come back for a page that joins and after its
// reload, its text equals the page that never left, vim still moves with the arrow keys, and
// no byte of a restore reaches the shell.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  closeBrowserSuite,
  DESKTOP,
  loadPage,
  openBrowserSuite,
  openShell,
  pageUrl,
  processBaseline,
  runCommand,
  typeCommand,
  waitForBuffer,
  waitForState,
  type BrowserSuite,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/wait-for.js';

/** The active buffer: which one, its rows' text, the key modes. */
async function screen(page: Page): Promise<{ type: string; rows: string[]; appCursor: boolean }> {
  return page.evaluate(() => {
    const buffer = window.term.buffer.active;
    const rows: string[] = [];
    for (let row = buffer.baseY; row < buffer.length; row++) {
      rows.push(buffer.getLine(row)?.translateToString(true) ?? '');
    }
    return { type: buffer.type, rows, appCursor: window.term.modes.applicationCursorKeysMode };
  });
}

/** Everything drawn and parsed: no write is still pending in the page. */
async function settled(page: Page): Promise<void> {
  await waitFor(
    () =>
      page.evaluate(
        () =>
          window.xtermJsShell.received > 0 &&
          window.xtermJsShell.processed === window.xtermJsShell.received,
      ),
    { message: 'the page to parse all it received' },
  );
}

describe('the exact screen for a page that joins or comes back', () => {
  let suite: BrowserSuite;
  let owner: Page;
  let sessionId: string;
  const baseline = processBaseline();

  before(async () => {
    suite = await openBrowserSuite(DESKTOP, ['--replay-buffer', '64K', '--metrics']);
  });
  after(async () => {
    await closeBrowserSuite(suite ?? {}, baseline);
  });

  async function inputBytes(): Promise<number> {
    const response = await fetch(`${suite.cli.base}metrics`, {
      headers: { Authorization: `Bearer ${suite.cli.token ?? ''}` },
    });
    const text = await response.text();
    const value = /^xterm_js_shell_input_bytes_total (\d+)/m.exec(text)?.[1];
    assert.ok(value !== undefined, 'the input counter');
    return Number(value);
  }

  function joinUrl(): string {
    const token = suite.cli.token as string;
    return `${suite.cli.base}?renderer=dom#token=${token}&session=${sessionId}`;
  }

  it('shows a page that joins after 1.2 MB the alternate screen, the mark at its cell and the key modes', async () => {
    owner = await openShell(suite.page, pageUrl(suite.cli, { renderer: 'dom' }));
    sessionId = (await owner.evaluate(() => window.xtermJsShell.sessionId)) as string;
    // The command's own line is cleared with the screen: wait for the mark and the prompt.
    await typeCommand(
      owner,
      "printf '\\e[?1049h\\e[?1h'; head -c 1200000 /dev/zero | tr '\\0' x; printf '\\e[2J\\e[5;10HMARK\\e[12;1H'",
    );
    await waitForBuffer(owner, /MARK\s*\nxjs\$ /, 60_000);
    await settled(owner);
    const typedBefore = await inputBytes();

    const joined = await suite.context.newPage();
    await loadPage(joined, joinUrl());
    await waitForState(joined, 'connected');
    await waitForBuffer(joined, 'MARK');
    await settled(joined);
    const seen = await screen(joined);
    assert.equal(seen.type, 'alternate');
    assert.equal(seen.rows[4]?.slice(9, 13), 'MARK', 'the mark at row 5, column 10');
    assert.equal(seen.appCursor, true, 'application cursor keys');
    assert.deepEqual(
      seen.rows,
      (await screen(owner)).rows,
      'the same text as the page that stayed',
    );

    await joined.reload();
    await waitForState(joined, 'connected');
    await waitForBuffer(joined, 'MARK');
    await settled(joined);
    const again = await screen(joined);
    assert.equal(again.type, 'alternate', 'after a reload');
    assert.equal(again.rows[4]?.slice(9, 13), 'MARK');
    assert.equal(again.appCursor, true);
    assert.deepEqual(again.rows, (await screen(owner)).rows);

    assert.equal(await inputBytes(), typedBefore, 'no byte of a restore reached the shell');
    await joined.close();
  });

  it('restores a vim session that still moves with the arrow keys', async () => {
    await typeCommand(owner, "printf '\\e[?1049l'; clear");
    await runCommand(owner, 'seq 1 20 > /tmp/xjs-screen-state-vim.txt; echo written');
    await typeCommand(
      owner,
      "head -c 1200000 /dev/zero | tr '\\0' y; vim -u NONE -N -i NONE -n +'set ruler' /tmp/xjs-screen-state-vim.txt",
    );
    await waitForBuffer(owner, /1,1\s+All/, 60_000);
    await settled(owner);

    const joined = await suite.context.newPage();
    await loadPage(joined, joinUrl());
    await waitForState(joined, 'connected');
    await waitForBuffer(joined, /1,1\s+All/);
    assert.equal((await screen(joined)).type, 'alternate', 'vim’s screen');
    await joined.locator('.xterm-helper-textarea').focus();
    for (let i = 0; i < 3; i++) {
      await joined.keyboard.press('ArrowDown');
    }
    await waitForBuffer(joined, /4,1\s+All/);
    await waitForBuffer(owner, /4,1\s+All/);
    await typeCommand(joined, ':q!');
    await waitForBuffer(owner, 'xjs$ ');
    await joined.close();
  });
});
